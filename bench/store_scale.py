"""The results store at scale: insert rate, the ranking query's time and the peak memory of a
ranked write-out, at 10^4 to 10^7 poses.

A store is filled with synthetic rows (5 poses a compound, scores spread, a few failures and
overlapping poses: the shape `dockscore rank` writes), then `write_ranking` writes the ranked CSV
from it, each size in a fresh process so that its peak RSS is its own.

    python bench/store_scale.py [--rows 10000 1000000] [--out bench/results/store_scale.json]

Prints a table and writes the JSON.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROTEIN = ROOT / "data" / "examples" / "1s3v" / "protein.pdb"


def one_size(rows: int, folder: Path) -> dict:
    import numpy as np

    from dockscore.rank import ScorerSpec, ScoreTask, store_settings, write_ranking
    from dockscore.store import PoseRow, ResultStore

    rng = np.random.default_rng(0)
    task = ScoreTask("title")
    path = folder / f"store_{rows}.sqlite"
    store = ResultStore(path, store_settings(ScorerSpec(str(PROTEIN)), task))
    file_id = store.file_id(str(folder / "library.sdf"), "synthetic")
    store.set_active([file_id])
    t0 = time.perf_counter()
    batch = 10_000
    for start in range(0, rows, batch):
        scores = dict(zip(range(start, start + batch), rng.normal(6.0, 1.5, batch).tolist()))  # per batch: the bench holds no per-pose state
        chunk = [PoseRow(record_index=k, name=f"cpd{k // 5:08d}", compound=f"cpd{k // 5:08d}",
                         status="error" if k % 997 == 0 else "ok", score=float(scores[k]), pose_score=float(scores[k]) + 2.0,
                         stereo="chiral", cip="1:S", stereo_flag="ok", smiles="CCO", closest_contact=2.8,
                         clashes=int(k % 50 == 0), overlap=2.0 if k % 50 == 0 else 0.0)
                 for k in range(start, min(rows, start + batch))]
        task.add(store, file_id, chunk)
    insert = time.perf_counter() - t0
    store.finish_file(file_id, rows, None)
    store.close()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    made = write_ranking(path, folder / f"ranked_{rows}.csv")
    ranking = time.perf_counter() - t0
    return {"rows": rows, "insert_rows_per_s": rows / insert, "ranking_s": ranking, "compounds": made.ranked,
            "peak_rss_mb_before_ranking": rss_before, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "store_mb": path.stat().st_size / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "store_scale.json")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # a size in this process
    parser.add_argument("--folder", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one_size(args.one, args.folder)))
        return
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            out = subprocess.run([sys.executable, __file__, "--one", str(rows), "--folder", tmp], capture_output=True, text=True, check=True)
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print("| poses in the store | insert rows/s | ranking + CSV write-out, s | peak RSS MB (filled) | peak RSS MB (after ranking) | store MB |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['rows']:,} | {r['insert_rows_per_s']:,.0f} | {r['ranking_s']:.1f} | {r['peak_rss_mb_before_ranking']:.0f} | {r['peak_rss_mb']:.0f} | {r['store_mb']:.0f} |")
    first, last = results[0], results[-1]
    print(f"peak RSS {last['rows']:,} / {first['rows']:,} poses: {last['peak_rss_mb'] / first['peak_rss_mb']:.3f}")
    args.out.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
