"""JACS FEP series ranking on the poses as given and after relaxing them (issue 26).

    python bench/fep_relaxed.py --model e3=dockscore/models/dockscore-e3.safetensors \
        --model before=runs/dockscore-e3-prefade.safetensors --out bench/results/fep_relaxed.json

The JACS poses are modelled, not crystal: some sit inside their protein (CDK2's substituents in
Lys89). Each ligand is relaxed once, by `dockscore minimize`'s optimiser (rigid body + torsions,
the prior's repulsion unbounded; 50 steps) under ``--relax-model`` (default: the shipped e3), and
every ``--model`` scores both the given and the relaxed poses. Prints and writes per series the
Spearman rho against measured affinity, the mean over series, and how many poses overlap the
protein (a heavy-atom pair past dockscore.overlap's onset; summed overlap over 1 A) before and
after. One thread.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dockscore.evaluation.benchmark import to_pk  # noqa: E402
from dockscore.evaluation.metrics import spearman  # noqa: E402
from dockscore.io.ligands import iter_ligands  # noqa: E402
from dockscore.optimize import optimize_pose, set_heavy_positions  # noqa: E402
from dockscore.scoring import Scorer  # noqa: E402
from dockscore.training.evaluate import FEP_TARGETS  # noqa: E402


def series(fep_root: Path, target: str, relax: Scorer, steps: int) -> tuple[list, list, list, float]:
    """The series' measured pK, given poses and relaxed poses (records the reader accepts, with a measured dG)."""
    t0 = time.time()
    pks, given, relaxed = [], [], []
    for record in iter_ligands(fep_root / f"{target}_ligands.sdf"):
        if not record.ok or "r_exp_dg" not in record.props:
            continue
        result = optimize_pose(relax, relax.prepare(record.mol), steps=steps)
        pks.append(to_pk(float(record.props["r_exp_dg"]), "kcal/mol"))
        given.append(record.mol)
        relaxed.append(set_heavy_positions(record.mol, result.pos))
    return pks, given, relaxed, time.time() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", action="append", default=[], metavar="NAME=PATH", help="scorers (default: the shipped e3)")
    parser.add_argument("--relax-model", type=Path, default=None, help="the model whose optimiser relaxes the poses (default: the shipped e3)")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    fep_root = args.data / "fep" / "jacs_set"
    models = dict(m.split("=", 1) for m in args.model) or {"e3": str(ROOT / "dockscore" / "models" / "dockscore-e3.safetensors")}
    report: dict = {"relax_model": str(args.relax_model or "shipped dockscore-e3"), "steps": args.steps, "models": models, "series": {}}
    for target in FEP_TARGETS:
        protein = fep_root / f"{target}_protein.pdb"
        if not protein.exists():
            continue
        pks, given, relaxed, seconds = series(fep_root, target, Scorer(protein, model=args.relax_model, symmetry="e3"), args.steps)
        row = {"n": len(pks), "relax_seconds": seconds, "heavy_atoms": spearman([m.GetNumHeavyAtoms() for m in given], pks)}
        for name, path in models.items():
            scorer = Scorer(protein, model=path)
            for label, poses in (("given", given), ("relaxed", relaxed)):
                results = scorer.score_mols(poses)
                row[f"{name} {label}"] = spearman([r.score for r in results], pks)
                row[f"overlapping {label}"] = sum(r.overlap > 0 for r in results)
                row[f"over 1 A {label}"] = sum(r.overlap > 1.0 for r in results)
        report["series"][target] = row
        print(target, json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    keys = [k for k in next(iter(report["series"].values())) if k == "heavy_atoms" or k.endswith(("given", "relaxed")) and not k.startswith(("overlapping", "over 1"))]
    report["mean"] = {k: float(np.mean([row[k] for row in report["series"].values()])) for k in keys}
    print("mean", json.dumps({k: round(v, 3) for k, v in report["mean"].items()}))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
