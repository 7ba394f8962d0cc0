"""Experiment (not shipped): MMFF94 ligand strain added to the E(3) score, judged by docking power.

    python bench/strain_experiment.py [--cache .cache/pdbbind_relaxed.pt] [--jobs 2]
        [--out bench/results/strain_experiment.json]

Why: Vina scores no intramolecular strain, and docked poses can carry strained torsions or
internal contacts. Per pose (H added, H optimised with heavy atoms fixed): the energy of all
MMFF94 terms or of the torsion + van der Waals terms only, either absolute or minus the same
terms at a local minimum (free, or heavy atoms restrained 0.5 A). The score becomes
score - a * strain / 1.364 (kcal/mol to pK), a on a grid. The base is the shipped ensemble.

Protocol: variants and weights are compared on training and validation docking only; the
chosen one (torsion + vdW, pose - free minimum, a = 0.04: the middle of the best plateau) is
then read once on the test and FEP-target complexes. Result: +5 of 173 training and +3 of 26
validation complexes, but -4 of 34 test complexes, so it was not shipped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dockscore.checkpoint import load_model  # noqa: E402
from dockscore.model import KCAL_PER_PK  # noqa: E402
from contact_potential import docking, pose_table  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "pdbbind"
MMFF_TERMS = ("Bond", "Angle", "StretchBend", "Oop", "Torsion", "VdW", "Ele")


def mmff_components(mol) -> list[list[float]] | None:
    """MMFF94 term energies (kcal/mol, MMFF_TERMS order) at the pose, at a restrained and at a free local minimum."""
    from rdkit import Chem
    from rdkit.Chem import rdForceFieldHelpers as ff

    m = Chem.AddHs(mol, addCoords=True)
    props = ff.MMFFGetMoleculeProperties(m)
    if props is None:
        return None
    term_props = []
    for term in MMFF_TERMS:
        p = ff.MMFFGetMoleculeProperties(m)
        for other in MMFF_TERMS:
            getattr(p, f"SetMMFF{other}Term")(other == term)
        term_props.append(p)
    energies = lambda mol_: [ff.MMFFGetMoleculeForceField(mol_, p).CalcEnergy() for p in term_props]  # noqa: E731
    heavy = [a.GetIdx() for a in m.GetAtoms() if a.GetAtomicNum() > 1]
    field = ff.MMFFGetMoleculeForceField(m, props)
    for i in heavy:
        field.AddFixedPoint(i)
    field.Minimize(maxIts=500)
    out = [energies(m)]
    restrained = Chem.Mol(m)
    field = ff.MMFFGetMoleculeForceField(restrained, props)
    for i in heavy:
        field.MMFFAddPositionConstraint(i, 0.5, 10.0)
    field.Minimize(maxIts=1000)
    out.append(energies(restrained))
    free = Chem.Mol(m)
    ff.MMFFGetMoleculeForceField(free, props).Minimize(maxIts=2000)
    out.append(energies(free))
    return out


def _strain_one(cid: str) -> tuple[str, list]:
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    poses = [Chem.RemoveHs(Chem.MolFromMolFile(str(DATA / cid / "ligand.sdf"), removeHs=False))]
    poses += list(Chem.SDMolSupplier(str(DATA / cid / "decoys.sdf"), removeHs=False))
    return cid, [mmff_components(m) if m is not None else None for m in poses]


STRAIN_VARIANTS = {  # name -> f(pose, restrained, free) over MMFF_TERMS arrays
    "all terms, pose - free minimum": lambda p, r, f: p.sum() - f.sum(),
    "all terms, pose - restrained minimum": lambda p, r, f: p.sum() - r.sum(),
    "all terms, absolute": lambda p, r, f: p.sum(),
    "torsion, absolute": lambda p, r, f: p[4],
    "torsion, pose - restrained minimum": lambda p, r, f: p[4] - r[4],
    "torsion + vdW, absolute": lambda p, r, f: p[4] + p[5],
    "torsion + vdW, pose - free minimum": lambda p, r, f: p[4] + p[5] - f[4] - f[5],
    "torsion + vdW, pose - restrained minimum": lambda p, r, f: p[4] + p[5] - r[4] - r[5],
}


def strain_experiment(rows: list[dict], jobs: int) -> dict:
    todo = [r["id"] for r in rows if r["n_smina"] > 1 and r["split"] != "none"]
    t0 = time.time()
    with ProcessPoolExecutor(jobs) as pool:
        energies = dict(pool.map(_strain_one, todo, chunksize=4))
    print(f"MMFF94 energies of {sum(len(v) for v in energies.values())} poses in {time.time() - t0:.0f} s", flush=True)
    with_strain = []
    for r in rows:
        e = energies.get(r["id"])
        if e is None or len(e) != r["n_smina"]:
            continue
        for name, fn in STRAIN_VARIANTS.items():
            v = np.array([fn(*(np.asarray(x) for x in c)) if c is not None else np.nan for c in e], dtype=float)
            full = np.zeros(len(r["rmsd"]))
            full[: r["n_smina"]] = np.nan_to_num(v, nan=np.nanmax(v) if np.isfinite(v).any() else 0.0)
            r[name] = torch.tensor(full, dtype=torch.float32)
        with_strain.append(r)
    grid = {}
    for name in STRAIN_VARIANTS:
        for a in (0.005, 0.01, 0.02, 0.03, 0.04, 0.06, 0.08, 0.12):
            fn = lambda r, a=a, name=name: r["score"] - a * r[name] / KCAL_PER_PK  # noqa: E731
            tr, va = docking(with_strain, fn, {"train"}), docking(with_strain, fn, {"val"})
            grid[f"{name} | a={a}"] = {"train": tr, "val": va, "train+val": tr[0] + va[0]}
    base = {s: docking(with_strain, lambda r: r["score"], {s}) for s in ("train", "val", "test", "fep_targets")}
    best = max(grid, key=lambda k: grid[k]["train+val"])
    print(f"strain: best on train+val {best} {grid[best]} against shipped {base}", flush=True)
    return {"shipped_score": base, "grid": grid, "best_on_train_val": best}


def held_out_read(rows: list[dict], name: str, a: float) -> dict:
    fn = lambda r: r["score"] - a * r[name] / KCAL_PER_PK  # noqa: E731
    return {s: {"shipped": docking([r for r in rows if name in r], lambda r: r["score"], {s}),
                "with_strain": docking([r for r in rows if name in r], fn, {s})} for s in ("test", "fep_targets")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "pdbbind_relaxed.pt")
    parser.add_argument("--split", type=Path, default=ROOT / "models" / "split.json")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--chosen-strain", default="torsion + vdW, pose - free minimum")
    parser.add_argument("--chosen-weight", type=float, default=0.04)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "dockscore-e3.safetensors")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "strain_experiment.json")
    args = parser.parse_args()
    torch.manual_seed(0)
    t0 = time.time()
    model = load_model(args.model)
    rows = pose_table(model, args.cache, json.loads(args.split.read_text()), ROOT / ".cache" / "pdbbind.pt", with_counts=False)
    print(f"pose table: {sum(len(r['rmsd']) for r in rows)} poses of {len(rows)} complexes in {time.time() - t0:.0f} s", flush=True)
    result = {"strain": strain_experiment(rows, args.jobs)}
    result["strain"]["held_out_read"] = {"variant": args.chosen_strain, "a": args.chosen_weight,
                                         **held_out_read(rows, args.chosen_strain, args.chosen_weight)}
    print("held-out read:", json.dumps(result["strain"]["held_out_read"]), flush=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"-> {args.out} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
