"""The prior's soft core on the stored 5-fold CV models of the e3 recipe, per variant (issue 26).

    python bench/cv_soft_core_variants.py RUN_DIR --folds 0,1,2 --variants all,none,side1   # one process per core
    python bench/cv_soft_core_variants.py RUN_DIR --pool --variants all,none,side1

RUN_DIR is a `dockscore train --cv` output (folds.json, fold<f>/dockscore-e3.safetensors). Each fold
model is scored on its own test fold with w = 2 and no wall, with the soft core on every pair
(all), on none, or on the k side chains each pose overlaps most (sidek): affinity and docking
predictions, the clash test and the placed-active screen (4 size-matched non-binders a pocket),
stored per fold in softcore_variants.json; --pool prints the pooled table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dockscore.checkpoint import load_model  # noqa: E402
from dockscore.training.cv import (_pred_from_json, _pred_to_json, _screens_from_json, _screens_to_json, fold_nonbinders,  # noqa: E402
                                   fold_own_placements, headline, metrics, model_predictions, screen_scores, screening_figures)
from dockscore.training.data import load_complexes  # noqa: E402
from dockscore.training.evaluate import clash_test  # noqa: E402
from dockscore.training.negatives import nonbinder_store  # noqa: E402


def variant(name: str) -> tuple[float | None, int | None]:
    """(soft core A, flexible side chains) of a variant name."""
    return {"all": (0.7, None), "none": (None, None)}.get(name) or (0.7, int(name.removeprefix("side")))


def score_folds(run: Path, folds_to_do: list[int], variants: list[str], cache: Path, data: Path) -> None:
    meta = json.loads((run / "folds.json").read_text())
    by_id = {c.id: c for c in load_complexes(cache)}
    store = nonbinder_store(cache, run)
    for f in folds_to_do:
        out_path = run / f"fold{f}" / "softcore_variants.json"
        out = json.loads(out_path.read_text()) if out_path.exists() else {}
        test = [by_id[i] for i in meta["folds"][f] if i in by_id]
        placed = fold_nonbinders(data, test, meta["group_of"], store, 0)
        own = fold_own_placements(data, test, store)
        model = load_model(run / f"fold{f}" / "dockscore-e3.safetensors")
        model.set_pose_prior_weight(2.0)
        for name in variants:
            if name in out:
                continue
            t = time.time()
            cap, flexible = variant(name)
            model.set_prior_overlap_cap(cap)
            model.set_flexible_side_chains(flexible)
            out[name] = {"predictions": _pred_to_json(model_predictions(model, test)), "clash": clash_test(model, test),
                         "screen": _screens_to_json(screen_scores(model, test, placed, by_id, own))}
            out_path.write_text(json.dumps(out))
            print(f"fold {f} {name}: clash {out[name]['clash']['pushed_above_crystal']} ({time.time() - t:.0f} s)", flush=True)


def pool(run: Path, variants: list[str]) -> None:
    meta = json.loads((run / "folds.json").read_text())
    for name in variants:
        preds, screens, failed, n = [], [], 0, 0
        for f in range(len(meta["folds"])):
            stored = json.loads((run / f"fold{f}" / "softcore_variants.json").read_text())[name]
            preds += _pred_from_json(stored["predictions"])
            screens += _screens_from_json(stored["screen"])
            failed, n = failed + stored["clash"]["pushed_above_crystal"], n + stored["clash"]["complexes"]
        h, s = headline(metrics(preds, meta["group_of"])), screening_figures(screens)
        print(f"{name:6s} R {h['pearson']:.3f} rho {h['ranking_rho']:.3f} docking {h['dock_excl']:.3f} clash {failed}/{n} "
              f"screen AUC {s['roc_auc']:.3f} BEDROC {s['bedroc']:.3f} EF1 {s['ef1']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("--folds", default="0,1,2,3,4")
    parser.add_argument("--variants", default="all,none,side1,side2")
    parser.add_argument("--pool", action="store_true")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "pdbbind.pt")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    torch.set_num_threads(1)
    variants = args.variants.split(",")
    if args.pool:
        pool(args.run, variants)
    else:
        score_folds(args.run, [int(f) for f in args.folds.split(",")], variants, args.cache, args.data)


if __name__ == "__main__":
    main()
