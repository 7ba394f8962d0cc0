"""How far the learned correction should reach into overlap, read on the whole CV table (issue 26):
affinity, within-protein ranking, docking, the clash test and the placed-active screen, from
stored fold models.

    python bench/cv_correction_fade.py RUN_DIR --folds 0,2,4      # score (one process per core)
    python bench/cv_correction_fade.py RUN_DIR --pool [--out bench/results/cv_correction_fade.md]   # the table, paired intervals

RUN_DIR is a `dockscore train --cv` output (folds.json, fold<f>/<name>.safetensors). Each fold model
scores its own test fold (crystal and docked poses, its pocket's own ligand placed like its 4
size-matched non-binders, the clash test's pushed poses) with the prior's soft core (0.7 A),
w = 2 and no wall, once with the learned correction on and once off, and keeps each pose's summed
overlap past the onset (dockscore.overlap). The score is linear in the correction's share, so
every setting is an exact blend per pose (stored in correction_fade.json per fold):

* ``weight c``: every pose keeps share c (the CV's correction-weight sweep);
* ``fade A, floor f``: dockscore.overlap.correction_share (1 with no overlap, f from A on).

Choice rule (fixed before the table was read): no fold fails the clash test, then the highest
pooled R, ties (0.001) to BEDROC. Intervals: 95 % paired bootstrap over protein groups against
weight 1 (the models as shipped before the fade).
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

from dockscore.checkpoint import load_model  # noqa: E402
from dockscore.evaluation.metrics import screening_metrics  # noqa: E402
from dockscore.overlap import pushed_into_protein  # noqa: E402
from dockscore.training.cv import (Prediction, ScreenScores, fold_nonbinders, fold_own_placements, headline, metrics,  # noqa: E402
                                   screening_figures)
from dockscore.training.data import load_complexes  # noqa: E402
from dockscore.training.evaluate import _encode_and_graphs  # noqa: E402
from dockscore.training.negatives import nonbinder_store  # noqa: E402

SETTINGS = [("weight", 1.0, None), ("weight", 0.25, None)] + [("fade", a, f) for f in (0.25, 0.0) for a in (0.25, 0.5, 1.0)]


@torch.no_grad()
def pose_parts(model, cx, ligands: list) -> list[list[float]]:
    """Per pose: score and pose score with the correction off and on, and the summed overlap (A)."""
    batch, ps, pv = _encode_and_graphs(model, [(cx, ligand, False) for ligand in ligands], model.config.graph_settings())
    off, on = [(model.set_correction_weight(w), model(batch, ps, pv))[1] for w in (0.0, 1.0)]
    return [list(row) for row in zip(off["score"].tolist(), on["score"].tolist(), off["pose_score"].tolist(), on["pose_score"].tolist(),
                                     on["overlap"].tolist())]


def score_fold(run: Path, f: int, cache: Path, data: Path) -> None:
    meta = json.loads((run / "folds.json").read_text())
    by_id = {c.id: c for c in load_complexes(cache)}
    test = [by_id[i] for i in meta["folds"][f] if i in by_id]
    store = nonbinder_store(cache, run)
    placed, own = fold_nonbinders(data, test, meta["group_of"], store, 0), fold_own_placements(data, test, store)
    model = load_model(next((run / f"fold{f}").glob("*.safetensors")))
    model.set_prior_overlap_cap(0.7), model.set_pose_prior_weight(2.0), model.set_overlap_wall(0.0)
    out: dict[str, dict] = {"poses": {}, "screen": {}, "clash": {}}
    t = time.time()
    for cx in test:
        out["poses"][cx.id] = {"pK": cx.pK, "rmsd": [r for _, r in cx.decoys],
                               "parts": pose_parts(model, cx, [cx.ligand] + [d for d, _ in cx.decoys])}
        decoys = [by_id[j].ligand.with_positions(pos) for (p, j), pos in sorted(placed.items()) if p == cx.id and j != cx.id]
        active = cx.ligand.with_positions(own[(cx.id, cx.id)]) if (cx.id, cx.id) in own else cx.ligand
        out["screen"][cx.id] = pose_parts(model, cx, [active] + decoys)
        moves = pushed_into_protein(cx.ligand.pos.numpy(), cx.protein.pos.numpy())
        if moves:
            out["clash"][cx.id] = pose_parts(model, cx, [cx.ligand] + [cx.ligand.with_positions(torch.tensor(p, dtype=torch.float32)) for _, _, p in moves])
    (run / f"fold{f}" / "correction_fade.json").write_text(json.dumps(out))
    print(f"fold {f}: {time.time() - t:.0f} s", flush=True)


def share(setting: tuple, overlap: float) -> float:
    kind, a, floor = setting
    return a if kind == "weight" else 1.0 - (1.0 - floor) * min(max(overlap / a, 0.0), 1.0)


def scored(folds: list[dict], setting: tuple):
    """Predictions, screens (by pocket) and per-fold clash failures under ``setting``."""
    def s(part: list[float], k: int = 0) -> float:
        return part[k] + share(setting, part[4]) * (part[k + 1] - part[k])

    preds, screens, failures = {}, {}, []
    for d in folds:
        for i, p in d["poses"].items():
            parts = p["parts"]
            preds[i] = Prediction(i, p["pK"], s(parts[0]), s(parts[0], 2), [(s(x, 2), r) for x, r in zip(parts[1:], p["rmsd"])])
        screens.update({i: ScreenScores(i, s(x[0]), [s(y) for y in x[1:]]) for i, x in d["screen"].items()})
        failures.append(sum(max(s(x) for x in c[1:]) > s(c[0]) for c in d["clash"].values()))
    return preds, screens, failures


def figures(preds: dict, screens: dict, ids: list[str]) -> np.ndarray:
    """R, docking top-1 (native excluded), screen AUC, BEDROC, EF1 over ``ids`` (a bootstrap draw repeats some)."""
    p = [preds[i] for i in ids]
    dock = [max(x.decoys)[1] < 2.0 for x in p if x.decoys]
    sc = [screens[i] for i in ids if screens[i].decoys]
    m = screening_metrics([x.active for x in sc], [y for x in sc for y in x.decoys])
    return np.array([np.corrcoef([x.pK for x in p], [x.score for x in p])[0, 1], np.mean(dock), m["roc_auc"], m["bedroc"], m["ef1"]])


def pool(run: Path, n_boot: int = 300, out: Path | None = None) -> None:
    meta = json.loads((run / "folds.json").read_text())
    group_of = meta["group_of"]
    folds = [json.loads((run / f"fold{f}" / "correction_fade.json").read_text()) for f in range(len(meta["folds"]))]
    ref_preds, ref_screens, _ = scored(folds, SETTINGS[0])
    groups = sorted({group_of[i] for i in ref_preds})
    members = {g: [i for i in ref_preds if group_of[i] == g] for g in groups}
    rng = np.random.default_rng(0)
    draws = [[i for g in rng.choice(groups, len(groups)) for i in members[g]] for _ in range(n_boot)]
    ids = list(ref_preds)
    lines = [f"Learned correction's share on the stored fold models of {run} (bench/cv_correction_fade.py --pool; soft core, w = 2, no wall)", "",
             "| learned correction | pooled R | rho | docking | clash (per fold) | screen AUC | BEDROC | EF1 | share of crystal poses faded | "
             "paired vs weight 1: R, docking, AUC, BEDROC, EF1 [95 %] |", "|---|---|---|---|---|---|---|---|---|---|"]
    print("\n".join(lines))
    rows = []
    for setting in SETTINGS:
        preds, screens, failures = scored(folds, setting)
        h, s = headline(metrics(list(preds.values()), group_of, 0)), screening_figures(list(screens.values()))
        diff = figures(preds, screens, ids) - figures(ref_preds, ref_screens, ids)
        lo, hi = np.nanpercentile([figures(preds, screens, x) - figures(ref_preds, ref_screens, x) for x in draws], [2.5, 97.5], axis=0)
        faded = np.mean([share(setting, p["parts"][0][4]) < 1 for d in folds for p in d["poses"].values()])
        label = f"weight {setting[1]:g}" if setting[0] == "weight" else f"fade {setting[1]:g} A, floor {setting[2]:g}"
        rows.append((sum(failures), h["pearson"], s["bedroc"], label))
        lines.append(f"| {label} | {h['pearson']:.3f} | {h['ranking_rho']:.3f} | {h['dock_excl']:.3f} | {sum(failures)} {failures} | {s['roc_auc']:.3f} | "
                     f"{s['bedroc']:.3f} | {s['ef1']:.2f} | {faded:.3f} | " + ", ".join(f"{x:+.3f} [{a:+.3f}, {b:+.3f}]" for x, a, b in zip(diff, lo, hi)) + " |")
        print(lines[-1], flush=True)
    safe = [r for r in rows if r[0] == 0]
    if safe:
        best_r = max(r[1] for r in safe)
        lines += ["", "chosen (no fold fails the clash test, then the highest pooled R, ties within 0.001 to BEDROC): "
                  + max((r for r in safe if r[1] >= best_r - 0.001), key=lambda r: (r[2], r[1]))[3]]
        print(lines[-1])
    if out is not None:
        out.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("--folds", default="0,1,2,3,4")
    parser.add_argument("--pool", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="with --pool: also write the table here (Markdown)")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "pdbbind.pt")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.pool:
        pool(args.run, out=args.out)
    else:
        for f in map(int, args.folds.split(",")):
            score_fold(args.run, f, args.cache, args.data)


if __name__ == "__main__":
    main()
