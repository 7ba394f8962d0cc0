"""dockscore on a GPU: model-only and end-to-end poses/s for `--device cuda`, with 1, 4 and 16 CPU
worker processes building the graphs that the GPU scores, on a library this script builds (the
bundled 1s3v ligand under small rigid moves). Run by bench/gpu_check.sh on a GPU machine; on a
machine without one, `--device cpu` runs the same steps (to check the script, not for figures).

    python bench/gpu_check.py [--device cuda] [--poses 20000] [--workers 1 4 16] [--batch-size 256]

Prints a table and writes bench/results/gpu_check.json (with the device's name).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from driver_cost import LIGAND, PROTEIN, library  # noqa: E402


def synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def model_only(device: str, batch_size: int, n: int) -> float:
    """Poses/s of the model alone: graphs built once on the CPU, scored on the device, in batches."""
    from dockscore import iter_ligands
    from dockscore.rank import ScorerSpec

    scorer = ScorerSpec(str(PROTEIN), batch_size=batch_size).build(device)
    ligand = scorer.prepare(next(iter_ligands(LIGAND)).mol)
    graphs = [scorer.graph(ligand)] * n
    scorer.score_graphs(graphs[:batch_size])  # warm-up: kernels, allocator
    synchronize(device)
    t0 = time.perf_counter()
    scorer.score_graphs(graphs)
    synchronize(device)
    return n / (time.perf_counter() - t0)


def end_to_end(path: Path, folder: Path, device: str, workers: int, batch_size: int) -> dict:
    from dockscore.rank import ScorerSpec, rank_library

    t0 = time.perf_counter()
    run = rank_library(ScorerSpec(str(PROTEIN), batch_size=batch_size), [path], folder / f"store_{workers}.sqlite", jobs=workers, device=device)
    wall = time.perf_counter() - t0
    return {"workers": workers, "poses": run.poses_scored, "wall_s": wall, "poses_per_s": run.poses_scored / wall}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--poses", type=int, default=20000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "gpu_check.json")
    args = parser.parse_args()
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device here: run on a GPU machine (bench/gpu_check.sh), or pass --device cpu to check the script")
    name = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else f"CPU ({os.cpu_count()} cores)"
    model_rate = model_only(args.device, args.batch_size, min(args.poses, 4096))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = library(folder, args.poses)
        runs = [end_to_end(path, folder, args.device, w, args.batch_size) for w in args.workers if w <= (os.cpu_count() or 1)]
    print(f"{name}, --device {args.device}, batch {args.batch_size}, {args.poses} poses of 1s3v")
    print(f"model only: {model_rate:.0f} poses/s")
    print("| CPU workers feeding it | end-to-end poses/s | share of the model-only rate |")
    print("|---|---|---|")
    for r in runs:
        print(f"| {r['workers']} | {r['poses_per_s']:.0f} | {r['poses_per_s'] / model_rate:.2f} |")
    skipped = [w for w in args.workers if w > (os.cpu_count() or 1)]
    if skipped:
        print(f"not run: {skipped} workers (this machine has {os.cpu_count()} cores)")
    args.out.write_text(json.dumps({"device": name, "device_arg": args.device, "batch_size": args.batch_size, "poses": args.poses,
                                    "model_only_poses_per_s": model_rate, "end_to_end": runs}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
