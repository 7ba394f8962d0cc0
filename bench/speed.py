"""Throughput: dockscore (E(3), SE(3)) against AutoDock Vina on the same poses, in the same run.

End to end per pose (read SDF record, prepare, score), receptor prepared once for both tools.
Poses: crystal + docked decoys of PDBbind complexes from ../shared/data when present, else
the bundled example. Prints poses/s, ratios to Vina, and peak memory.

    python bench/speed.py [--complexes 5] [--vina-poses 40]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dockscore import Scorer, iter_ligands  # noqa: E402


def pose_sets(n_complexes: int) -> list[tuple[Path, list[Path]]]:
    shared = ROOT.parent / "shared" / "data" / "pdbbind"
    if shared.exists():
        ids = sorted(p.parent.name for p in shared.glob("*/decoys.sdf"))[:n_complexes]
        return [(shared / i / "protein.pdb", [shared / i / "ligand.sdf", shared / i / "decoys.sdf"]) for i in ids]
    ex = ROOT / "data" / "examples" / "1s3v"
    return [(ex / "protein.pdb", [ex / "ligand.sdf"] * 20)]


def run_dockscore(symmetry: str, sets, repeats: int = 3, checkpoint: Path | None = None) -> tuple[float, int]:
    n, t = 0, 0.0
    for protein, files in sets:
        scorer = Scorer(protein, model=checkpoint, symmetry=symmetry, batch_size=64)  # protein once per target (not timed per pose)
        for _ in range(repeats):
            t0 = time.perf_counter()
            for path in files:
                for result in scorer.score_file(path):
                    n += result.status == "ok"
            t += time.perf_counter() - t0
    return n / t, n


def run_vina(sets, max_poses: int) -> tuple[float, int] | None:
    try:
        from vina_peer import VinaPeer
    except Exception as exc:  # bench-only dependency
        print(f"Vina peer unavailable ({exc}); pip install -r bench/requirements.txt and apt-get install openbabel")
        return None
    n, t = 0, 0.0
    for protein, files in sets:
        mols = [r.mol for path in files for r in iter_ligands(path) if r.ok]
        peer = VinaPeer.from_ligand_box(protein, mols, padding=8.0)
        for mol in mols[: max(1, max_poses // len(sets))]:
            t0 = time.perf_counter()
            score = peer.score_mol(mol)
            t += time.perf_counter() - t0
            n += score == score
    return n / t, n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--complexes", type=int, default=5)
    parser.add_argument("--vina-poses", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--checkpoint", action="append", default=[], help="NAME=PATH: time another checkpoint too (e.g. the l=0 network)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sets = pose_sets(args.complexes)
    print(f"{len(sets)} receptors, CPU threads {args.threads}")
    rows = {}
    for symmetry in ("e3", "se3"):
        rows[f"dockscore {symmetry}"] = run_dockscore(symmetry, sets)
    for item in args.checkpoint:
        name, path = item.split("=", 1)
        rows[f"dockscore {name}"] = run_dockscore("e3", sets, checkpoint=Path(path))
    vina = run_vina(sets, args.vina_poses)
    if vina:
        rows["vina 1.2.7 score-only"] = vina
    print(f"{'tool':<24}{'poses':>8}{'poses/s':>12}{'x Vina':>10}")
    for name, (rate, n) in rows.items():
        ratio = f"{rate / vina[0]:.1f}" if vina else "n/a"
        print(f"{name:<24}{n:>8}{rate:>12.1f}{ratio:>10}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
