"""The learned correction's weight on the whole CV table (issue 26): affinity, within-protein
ranking, docking, the clash test and the placed-active screen, per weight, from stored fold models.

    python bench/cv_correction_weight.py RUN_DIR --folds 0,2,4        # score (one process per core)
    python bench/cv_correction_weight.py RUN_DIR --pool [--torsions]  # the table, paired intervals

RUN_DIR is a `dockscore train --cv` output (folds.json, fold<f>/<name>.safetensors). Each fold model
is scored on its own test fold with the prior's soft core (0.7 A), w = 2 and no wall, once with the
learned correction on and once off; the score is linear in the weight (dockscore.model:
``correction_weight``), so every other weight is an exact blend of the two. Stored per fold in
correction_weight.json. ``--torsions`` adds Vina's torsion normalisation (the interaction sum
divided by 1 + 0.0585 x rotatable bonds) to every row. Intervals: 95 % paired bootstrap over
protein groups of each weight against weight 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem
from rdkit.Chem import rdMolDescriptors

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dockscore.checkpoint import load_model  # noqa: E402
from dockscore.evaluation.metrics import screening_metrics  # noqa: E402
from dockscore.io.ligands import iter_ligands  # noqa: E402
from dockscore.overlap import pushed_into_protein  # noqa: E402
from dockscore.training.cv import (CORRECTION_WEIGHTS, Prediction, ScreenScores, _pred_from_json, _pred_to_json,  # noqa: E402
                                   fold_nonbinders, fold_own_placements, headline, metrics, model_predictions, screen_scores,
                                   screening_figures)
from dockscore.training.data import load_complexes  # noqa: E402
from dockscore.training.evaluate import _encode_and_graphs  # noqa: E402
from dockscore.training.negatives import nonbinder_store  # noqa: E402

VINA_TORSION_WEIGHT = 0.0585  # Vina 1.2's conformational-entropy weight (Trott & Olson 2010)


@torch.no_grad()
def clash_scores(model, complexes: list) -> dict[str, list[float]]:
    """Per complex: the crystal pose's score, then its pushed poses' (dockscore.overlap.pushed_into_protein)."""
    settings, out = model.config.graph_settings(), {}
    for cx in complexes:
        moves = pushed_into_protein(cx.ligand.pos.numpy(), cx.protein.pos.numpy())
        if moves:
            items = [(cx, cx.ligand, False)] + [(cx, cx.ligand.with_positions(torch.tensor(p, dtype=torch.float32)), False) for _, _, p in moves]
            batch, ps, pv = _encode_and_graphs(model, items, settings)
            out[cx.id] = model(batch, ps, pv)["score"].tolist()
    return out


def score_fold(run: Path, f: int, cache: Path, data: Path) -> None:
    meta = json.loads((run / "folds.json").read_text())
    by_id = {c.id: c for c in load_complexes(cache)}
    test = [by_id[i] for i in meta["folds"][f] if i in by_id]
    store = nonbinder_store(cache, run)
    placed = fold_nonbinders(data, test, meta["group_of"], store, 0)
    own = fold_own_placements(data, test, store)
    model = load_model(next((run / f"fold{f}").glob("*.safetensors")))
    model.set_prior_overlap_cap(0.7), model.set_pose_prior_weight(2.0), model.set_overlap_wall(0.0)
    decoy_ids = {cx.id: [j for (p, j) in sorted(placed) if p == cx.id and j != cx.id] for cx in test}
    ids = set(decoy_ids) | {j for js in decoy_ids.values() for j in js}
    out = {"offset": float(model.offset), "decoy_ids": decoy_ids,
           "rotatable_bonds": {i: rdMolDescriptors.CalcNumRotatableBonds(Chem.RemoveHs(next(iter_ligands(data / "pdbbind" / i / "ligand.sdf")).mol))
                               for i in sorted(ids)}}
    for weight in (0.0, 1.0):
        t = time.time()
        model.set_correction_weight(weight)
        out[f"weight{weight:g}"] = {"predictions": _pred_to_json(model_predictions(model, test)), "clash": clash_scores(model, test),
                                    "screen": [s.__dict__ for s in screen_scores(model, test, placed, by_id, own)]}
        print(f"fold {f}, correction weight {weight:g}: {time.time() - t:.0f} s", flush=True)
    (run / f"fold{f}" / "correction_weight.json").write_text(json.dumps(out))


def blended(folds: list[dict], weight: float, torsions: bool) -> tuple[list[Prediction], dict[str, ScreenScores], dict[str, list[float]]]:
    """Every fold's predictions, screens and clash scores at ``weight`` (exact: the score is linear in it)."""
    preds, screens, clash = [], {}, {}
    for d in folds:
        off, nrot = d["offset"], d["rotatable_bonds"]

        def s(a: float, b: float, ligand: str) -> float:
            x = a + weight * (b - a)
            return off + (x - off) / (1 + VINA_TORSION_WEIGHT * nrot[ligand]) if torsions else x

        off_, on = d["weight0"], d["weight1"]
        for a, b in zip(_pred_from_json(off_["predictions"]), _pred_from_json(on["predictions"])):
            preds.append(Prediction(b.id, b.pK, s(a.score, b.score, b.id), s(a.pose_score, b.pose_score, b.id),
                                    [(s(x, y, b.id), r) for (x, r), (y, _) in zip(a.decoys, b.decoys)]))
        for a, b in zip(off_["screen"], on["screen"]):
            screens[b["id"]] = ScreenScores(b["id"], s(a["active"], b["active"], b["id"]),
                                            [s(x, y, j) for x, y, j in zip(a["decoys"], b["decoys"], d["decoy_ids"][b["id"]])])
        clash.update({i: [x + weight * (y - x) for x, y in zip(off_["clash"][i], on["clash"][i])] for i in on["clash"]})
    return preds, screens, clash


def paired_figures(preds: dict[str, Prediction], screens: dict[str, ScreenScores], ids: list[str]) -> np.ndarray:
    """Pearson R, docking top-1 (native excluded), screening AUC, BEDROC, EF1 over ``ids`` (with repeats)."""
    p = [preds[i] for i in ids if i in preds]
    r = np.corrcoef([x.pK for x in p], [x.score for x in p])[0, 1]
    dock = np.mean([max(x.decoys)[1] < 2.0 for x in p if x.decoys])
    sc = [screens[i] for i in ids if i in screens and screens[i].decoys]
    m = screening_metrics([x.active for x in sc], [d for x in sc for d in x.decoys])
    return np.array([r, dock, m["roc_auc"], m["bedroc"], m["ef1"]])


def pool(run: Path, torsions: bool, n_boot: int = 300) -> None:
    meta = json.loads((run / "folds.json").read_text())
    group_of = meta["group_of"]
    folds = [json.loads((run / f"fold{f}" / "correction_weight.json").read_text()) for f in range(len(meta["folds"]))]
    reference = blended(folds, 1.0, False)
    ref_preds, ref_screens = {p.id: p for p in reference[0]}, reference[1]
    groups = sorted({group_of[p.id] for p in reference[0]})
    members = {g: [p.id for p in reference[0] if group_of[p.id] == g] for g in groups}
    rng = np.random.default_rng(0)
    draws = [[i for g in rng.choice(groups, len(groups)) for i in members[g]] for _ in range(n_boot)]
    names = ("R", "docking", "screen AUC", "BEDROC", "EF1")
    print(f"{'':22s} pooled R  rho    docking  clash (per fold)        screen AUC  BEDROC  EF1   | paired vs weight 1 [95 %]: " + ", ".join(names))
    for t in ((False, True) if torsions else (False,)):
        for w in CORRECTION_WEIGHTS:
            preds, screens, clash = blended(folds, w, t)
            h, s = headline(metrics(preds, group_of, 0)), screening_figures(list(screens.values()))
            per_fold = [sum(max(clash[i][1:]) > clash[i][0] for i in d["weight1"]["clash"]) for d in folds]
            by_id = {p.id: p for p in preds}
            diff = paired_figures(by_id, screens, [p.id for p in preds]) - paired_figures(ref_preds, ref_screens, [p.id for p in preds])
            boots = np.array([paired_figures(by_id, screens, ids) - paired_figures(ref_preds, ref_screens, ids) for ids in draws])
            lo, hi = np.nanpercentile(boots, [2.5, 97.5], axis=0)
            label = f"weight {w:g}" + (", torsions" if t else "")
            print(f"{label:22s} {h['pearson']:.3f}  {h['ranking_rho']:.3f}  {h['dock_excl']:.3f}    {sum(per_fold):3d}/{len(clash)} {str(per_fold):14s} "
                  f"{s['roc_auc']:.3f}       {s['bedroc']:.3f}   {s['ef1']:.2f}  | "
                  + ", ".join(f"{d:+.3f} [{a:+.3f}, {b:+.3f}]" for d, a, b in zip(diff, lo, hi)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("--folds", default="0,1,2,3,4")
    parser.add_argument("--pool", action="store_true")
    parser.add_argument("--torsions", action="store_true", help="also every weight with Vina's torsion normalisation")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "pdbbind.pt")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.pool:
        pool(args.run, args.torsions)
    else:
        for f in map(int, args.folds.split(",")):
            score_fold(args.run, f, args.cache, args.data)


if __name__ == "__main__":
    main()
