"""Ligand-only baseline: how much of the "affinity" signal needs no protein at all?

A ridge regression on RDKit's 2D descriptors of the ligand (about 200: size, polarity, logP,
counts of rings and functional groups), fitted on the same training complexes as dockscore
(`dockscore/models/split.json`), its penalty chosen on the validation proteins. A structure-based scorer
that cannot beat this is memorising ligand chemistry, not reading the pocket.

    python bench/ligand_only.py [--data ../shared/data]     # prints held-out figures
It is also a tool in bench/compare_vina.py (`ligand_only_scorer`).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
from rdkit import Chem

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dockscore.io.ligands import iter_ligands  # noqa: E402
from dockscore.evaluation.metrics import pearson, spearman  # noqa: E402
from dockscore.training.baselines import ALPHAS, LigandOnlyRidge, descriptors  # noqa: E402
from dockscore.training.evaluate import FEP_TARGETS  # noqa: E402


def _pdbbind_set(data: Path, ids: list[str], labels: dict) -> tuple[np.ndarray, np.ndarray]:
    X = [descriptors(Chem.MolFromMolFile(str(data / "pdbbind" / i / "ligand.sdf"), removeHs=False)) for i in ids]
    return np.stack(X), np.array([labels[i] for i in ids])


def fit_ligand_only(data: Path) -> tuple[LigandOnlyRidge, dict]:
    """Fit on the training split, choose the penalty by validation Pearson R; returns the model and its figures."""
    split = json.loads((ROOT / "dockscore" / "models" / "split.json").read_text())
    labels = {row["id"]: float(row["pK"]) for row in csv.DictReader(open(data / "pdbbind" / "index.csv"))}
    sets = {name: _pdbbind_set(data, split[name], labels) for name in ("train", "val", "test", "fep_targets")}
    val_r = {a: pearson(LigandOnlyRidge(a).fit(*sets["train"]).predict(sets["val"][0]), sets["val"][1]) for a in ALPHAS}
    alpha = max(val_r, key=lambda a: np.nan_to_num(val_r[a], nan=-1))
    model = LigandOnlyRidge(alpha).fit(*sets["train"])
    report = {"alpha": alpha, "val_pearson_by_alpha": val_r}
    for name, (X, y) in sets.items():
        p = model.predict(X)
        report[name] = {"n": len(y), "pearson": pearson(p, y), "spearman": spearman(p, y)}
    fep = data / "fep" / "jacs_set"
    if fep.exists():
        report["fep_series"] = {}
        for target in FEP_TARGETS:
            recs = [r for r in iter_ligands(fep / f"{target}_ligands.sdf") if r.ok and "r_exp_dg" in r.props]
            pk = [-float(r.props["r_exp_dg"]) / 1.364 for r in recs]
            pred = model.predict(np.stack([descriptors(r.mol) for r in recs]))
            report["fep_series"][target] = {"n": len(recs), "spearman": spearman(pred, pk)}
        report["fep_series"]["mean_spearman"] = float(np.mean([v["spearman"] for v in report["fep_series"].values()]))
    return model, report


def ligand_only_scorer(model: LigandOnlyRidge):
    """A bench tool with the same interface as the others in compare_vina.py."""
    def score_file(protein, ligands):
        for r in iter_ligands(ligands):
            score = float(model.predict(descriptors(r.mol)[None])[0]) if r.ok else None
            yield {"name": r.name, "index": r.index, "score": score, "status": "ok" if r.ok else "error",
                   "message": r.error or "", "props": r.props}
    return score_file


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    _, report = fit_ligand_only(args.data)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
