"""What the `dockscore rank` driver (the main process) costs per pose, and the rate it can feed.

The driver reads every record, ships it to the workers, takes each result back and writes the
store. Its own CPU time per pose, measured over a real run with worker processes (the scoring
happens in them), sets the most poses per second one driver can sustain however many workers or
GPUs score: 1 / (driver CPU per pose). In one run, on this machine:

- a library of N poses (the bundled 1s3v ligand under small rigid moves, one .sdf file) ranked
  with --jobs 1 and --jobs 2: wall rate, the driver's CPU per pose, its ceiling, the main
  process's peak RSS, and the parallel efficiency (rate at 2 / 2 x rate at 1);
- the driver's parts alone: reading and splitting the records, and writing rows to the store;
- AutoDock Vina score-only on poses of the same complex, per core, for scale.

    python bench/driver_cost.py [--poses 6000] [--vina-poses 20]

Prints a table and writes bench/results/driver_cost.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROTEIN = ROOT / "data" / "examples" / "1s3v" / "protein.pdb"
LIGAND = ROOT / "data" / "examples" / "1s3v" / "ligand.sdf"


def library(folder: Path, n: int) -> Path:
    """n poses of the bundled ligand under small rigid moves, five per compound, in one .sdf file."""
    from rdkit import Chem

    mol = Chem.MolFromMolFile(str(LIGAND), removeHs=False)
    start = mol.GetConformer().GetPositions()
    rng = np.random.default_rng(0)
    records = []
    for k in range(n):
        conf = mol.GetConformer()
        for i, xyz in enumerate(start + rng.normal(0, 0.3, 3)):
            conf.SetAtomPosition(i, xyz.tolist())
        mol.SetProp("_Name", f"cpd{k // 5:06d}")
        records.append(Chem.MolToMolBlock(mol) + "$$$$\n")
    path = folder / f"library_{n}.sdf"
    path.write_text("".join(records))
    return path


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # this process only: workers are children
    return usage.ru_utime + usage.ru_stime


def ranked_run(path: Path, folder: Path, jobs: int) -> dict:
    from dockscore.rank import ScorerSpec, rank_library

    store = folder / f"store_{jobs}.sqlite"
    t0, c0 = time.perf_counter(), cpu_seconds()
    run = rank_library(ScorerSpec(str(PROTEIN), batch_size=32), [path], store, jobs=jobs)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    return {"jobs": jobs, "poses": run.poses_scored, "wall_s": wall, "poses_per_s": run.poses_scored / wall,
            "driver_cpu_s": cpu, "driver_ms_per_pose": 1000 * cpu / run.poses_scored, "driver_ceiling_poses_per_s": run.poses_scored / cpu}


def driver_parts(path: Path, folder: Path) -> dict:
    """The reading and the store writing alone, per pose (the rows are the ones a run wrote)."""
    import sqlite3

    from dockscore.io.ligands import iter_raw_records
    from dockscore.rank import ScorerSpec, ScoreTask, store_settings
    from dockscore.store import PoseRow, ResultStore

    t0 = time.perf_counter()
    n = sum(1 for _ in iter_raw_records(path))
    read = (time.perf_counter() - t0) / n
    source = sqlite3.connect(folder / "store_2.sqlite")
    count = source.execute("SELECT COUNT(*) FROM poses").fetchone()[0]
    source.close()
    spec, task = ScorerSpec(str(PROTEIN)), ScoreTask("title")
    rows = [PoseRow(record_index=k, name=f"cpd{k // 5:06d}", compound=f"cpd{k // 5:06d}", status="ok", message="", score=6.0 + k * 1e-6,
                    pose_score=8.0, stereo="chiral", cip="1:S;5:R", stereo_flag="ok", smiles="C", closest_contact=2.7, clashes=0, overlap=0.0)
            for k in range(n)]
    store = ResultStore(folder / "write.sqlite", store_settings(spec, task))
    file_id = store.file_id(str(path), "bench")
    t0 = time.perf_counter()
    for k in range(0, n, 32):
        task.add(store, file_id, rows[k : k + 32])
    write = (time.perf_counter() - t0) / n
    store.close()
    return {"read_ms_per_pose": 1000 * read, "store_write_ms_per_pose": 1000 * write, "rows_in_run_store": count}


def vina_per_core(n: int) -> float | None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from vina_peer import VinaPeer
    except Exception as exc:  # bench-only dependency
        print(f"Vina peer unavailable ({exc}); pip install -r bench/requirements.txt and apt-get install openbabel")
        return None
    from dockscore import iter_ligands

    mol = next(iter_ligands(LIGAND)).mol
    peer = VinaPeer.from_ligand_box(PROTEIN, [mol], padding=8.0)
    t0 = time.perf_counter()
    for _ in range(n):
        peer.score_mol(mol)
    return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--poses", type=int, default=6000)
    parser.add_argument("--vina-poses", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "driver_cost.json")
    args = parser.parse_args()
    from importlib import import_module

    for module in ("torch", "dockscore.checkpoint", "dockscore.rank"):  # before the clock: start-up, not per pose
        import_module(module)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = library(folder, args.poses)
        runs = [ranked_run(path, folder, jobs) for jobs in (1, 2)]
        parts = driver_parts(path, folder)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    vina = vina_per_core(args.vina_poses)
    one, two = runs
    efficiency = two["poses_per_s"] / (2 * one["poses_per_s"])
    per_worker = one["poses_per_s"]
    result = {"poses": args.poses, "runs": runs, "parts": parts, "efficiency_2_workers": efficiency,
              "driver_peak_rss_mb": peak_rss_mb, "vina_score_only_poses_per_s_per_core": vina,
              "workers_one_driver_feeds": two["driver_ceiling_poses_per_s"] / per_worker}
    print(f"{args.poses} poses of 1s3v, one .sdf file")
    print("| jobs | wall poses/s | driver CPU ms/pose | driver ceiling poses/s |")
    print("|---|---|---|---|")
    for r in runs:
        print(f"| {r['jobs']} | {r['poses_per_s']:.0f} | {r['driver_ms_per_pose']:.4f} | {r['driver_ceiling_poses_per_s']:.0f} |")
    print(f"parallel efficiency at 2 workers: {efficiency:.2f}; one driver feeds about {result['workers_one_driver_feeds']:.0f} workers "
          f"of {per_worker:.0f} poses/s")
    print(f"driver parts: reading {parts['read_ms_per_pose']:.4f} ms/pose, store writing {parts['store_write_ms_per_pose']:.4f} ms/pose; "
          f"peak RSS of the driver {peak_rss_mb:.0f} MB")
    if vina:
        print(f"AutoDock Vina score-only: {vina:.0f} poses/s per core; dockscore per worker {per_worker:.0f} ({per_worker / vina:.1f}x); "
              f"the driver's ceiling is {two['driver_ceiling_poses_per_s'] / vina:.0f} Vina cores")
    args.out.write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
