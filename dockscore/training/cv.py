"""Protein-grouped cross-validation: the selection signal for model recipes.

Why: one fixed validation split (77 complexes in ``models/split.json``) decides between recipes
by differences smaller than its own sampling noise, and a split by UniProt id alone still leaks
close homologues (HIV-1 protease of ten strains has ten UniProt ids). Here the CV pool (train +
val of ``models/split.json``; ``test`` and ``fep_targets`` stay held out: never trained on, never
used for a choice) is cut into protein groups, merged across near-identical pockets, and K folds
over those groups test every pool complex exactly once. Each fold reports the model and, on the
same test complexes, the baselines a model must beat: ligand heavy-atom count, the ligand-only
ridge of ``bench/ligand_only.py``, and the Vina-typed prior alone (the model with its learned
correction switched off). Figures carry bootstrap 95 % intervals (``dockscore.evaluation.benchmark``).
"""

from __future__ import annotations

import csv
import json
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from dockscore.checkpoint import MODELS_DIR
from dockscore.evaluation.benchmark import compute_metrics
from dockscore.training.baselines import ALPHAS, LigandOnlyRidge, descriptors
from dockscore.training.folds import ProteinGroups, inner_validation, make_folds, protein_groups, read_group_inputs
from dockscore.training.negatives import nonbinder_store
from dockscore.training.recipes import recipe, with_inference

SPLIT_PATH = MODELS_DIR / "split.json"


def with_shipped_inference(model):
    """The model with its symmetry's recipe's inference terms (dockscore.training.recipes: the prior's
    soft core, the pose score's w, the overlap wall and the learned correction's fade; fixed terms
    only, no parameter moves): fold models are scored "as trained" and "as shipped"."""
    return with_inference(model, recipe(model.config.symmetry).inference)


def shipped_terms(symmetry: str) -> dict:
    """The recipe's inference terms as stored beside a fold's predictions: a fold scored under other
    terms (the recipe changed since) is scored again when a run resumes, not mixed with new folds."""
    return asdict(recipe(symmetry).inference)


# What a fold stores that depends on the shipped inference terms (scored again when they change).
SHIPPED_KEYS = ("dockscore_shipped", "dockscore_fold_prior", "screening", "screening_placed", "clash_test")



# ----------------------------------------------------------------------------- metrics

@dataclass
class Prediction:
    """One scorer's numbers for one test complex: the crystal pose's score (and pose score, which
    chooses among poses) and its docked decoys' pose scores with their RMSD."""

    id: str
    pK: float
    score: float
    pose_score: float | None = None
    decoys: list[tuple[float, float]] = field(default_factory=list)  # (pose score, rmsd)


def metrics(preds: list[Prediction], group_of: dict[str, str], n_boot: int = 1000) -> dict:
    """Scoring Pearson R (bootstrap over protein groups), within-protein Spearman rho (mean over
    groups with >= 3 ligands) and docking top-1 < 2 A with the crystal pose included and excluded
    (over complexes with decoys), all by :func:`dockscore.evaluation.benchmark.compute_metrics`."""
    rows = []
    for n, p in enumerate(preds):
        rows.append({"row": n, "group": group_of[p.id], "kind": "", "name": p.id, "index": 0, "score": p.score,
                     "pose_score": None, "activity": p.pK, "rmsd": None})
        if p.decoys:  # docking: one group per complex (its crystal pose and its decoys)
            native = p.pose_score if p.pose_score is not None else p.score
            rows.append({"row": n, "group": f"dock:{p.id}", "kind": "crystal", "name": p.id, "index": 0, "score": native,
                         "pose_score": native, "activity": None, "rmsd": 0.0})
            rows.extend({"row": n, "group": f"dock:{p.id}", "kind": "decoys", "name": p.id, "index": j + 1, "score": s,
                         "pose_score": s, "activity": None, "rmsd": r} for j, (s, r) in enumerate(p.decoys))
    out = compute_metrics(rows, n_boot=n_boot)
    out.pop("n_poses", None)
    out.pop("n_scored", None)
    out.get("ranking", {}).pop("per_group", None)
    return {"n": len(preds), **out}


def headline(m: dict) -> dict:
    """The figures of a metrics dict a table shows."""
    sc, rk, dk = m.get("scoring", {}), m.get("ranking", {}), m.get("docking", {})
    return {"n": m.get("n"), "pearson": sc.get("pearson"), "pearson_ci95": sc.get("ci95"),
            "ranking_rho": rk.get("mean_spearman"), "ranking_ci95": rk.get("ci95"), "ranking_groups": rk.get("n_groups"),
            "dock_excl": dk.get("top1_native_excluded"), "dock_excl_ci95": dk.get("ci95_excluded"), "dock_excl_n": dk.get("n_excluded"),
            "dock_incl": dk.get("top1_native_included"), "dock_incl_ci95": dk.get("ci95_included"), "dock_incl_n": dk.get("n_included")}


# ----------------------------------------------------------------------------- scorers

def model_predictions(model, complexes: list) -> list[Prediction]:
    """A trained model's scores (``dockscore.training.loop.predict``) as predictions."""
    from dockscore.training.evaluate import predict

    pred = predict(model, complexes)
    return [Prediction(c.id, c.pK, pred["native"][c.id], pred["native_pose"][c.id], pred["decoys"].get(c.id, [])) for c in complexes]


def prior_predictions(complexes: list, symmetry: str = "e3", prior_overlap_cap: float | None = None) -> list[Prediction]:
    """The Vina-typed prior alone (with the fixed hard-clash term): an untrained model under
    :func:`dockscore.model.learned_correction_off`. It has no parameters to fit, so one pass serves
    every fold; a trained model's prior-only score is a positive linear map of it (same ranks)."""
    from dockscore.model import DockScoreModel, ModelConfig, learned_correction_off

    torch.manual_seed(0)
    model = DockScoreModel(ModelConfig(symmetry=symmetry, vina_prior=1.0, prior_overlap_cap=prior_overlap_cap))
    with learned_correction_off(model):
        return model_predictions(model, complexes)


def linear_fit(fit: list[Prediction], test: list[Prediction]) -> list[Prediction]:
    """A fixed scorer mapped to pK by a line fitted on the training folds (as a fold model is
    calibrated on its training complexes): without it, pooled R over folds would favour the fixed
    scorer, whose one map needs no per-fold calibration, over every fitted one."""
    a, b = np.polyfit([p.score for p in fit], [p.pK for p in fit], 1)
    line = lambda x: None if x is None else float(a * x + b)  # noqa: E731
    return [Prediction(p.id, p.pK, line(p.score), line(p.pose_score), [(line(s), r) for s, r in p.decoys]) for p in test]


def fold_prior_part(model, complexes: list) -> list[Prediction]:
    """A trained model's own prior part under the shipped inference settings: its learned
    correction off, its offset and calibration kept (the w = 0 end of the correction-weight sweep)."""
    from dockscore.model import learned_correction_off

    with learned_correction_off(with_shipped_inference(model)):
        return model_predictions(model, complexes)


def heavy_atom_predictions(train: list, test: list) -> list[Prediction]:
    """Ligand heavy-atom count, linearly fitted to pK on the training folds (its sign included).
    Every pose of a ligand gets the same score, so its docking figure is the random-pick rate."""
    count = lambda c: Prediction(c.id, c.pK, c.heavy_atoms, c.heavy_atoms, [(c.heavy_atoms, r) for _, r in c.decoys])  # noqa: E731
    return linear_fit([count(c) for c in train], [count(c) for c in test])


# ----------------------------------------------------------------------------- screening
# Each test pocket's own ligand (the active) against size-matched ligands of other protein groups
# of the same test fold, placed in that pocket by the prior alone (dockscore.training.negatives): no fold
# model trained on any of them. Per fold: the pooled screen (every pocket's active and decoys, in
# pK; ROC AUC, EF1 %, BEDROC alpha 80.5) and the share of pockets whose own ligand outscores all
# its decoys. CASF-2016's screening power cross-docks every test ligand into every pocket; this
# is its cheaper, size-matched cousin. Two readings: the active in its crystal pose, and the
# active placed by the same prior-only search as its decoys ("placed": no crystal-pose advantage).
SCREEN_DECOYS = 4  # non-binders per test pocket


@dataclass
class ScreenScores:
    """One scorer's scores of one pocket's active and its non-binder decoys (pK)."""

    id: str
    active: float
    decoys: list[float] = field(default_factory=list)


def fold_nonbinders(data_root: Path, test: list, group_of: dict[str, str], store: Path, seed: int, log=print) -> dict:
    """The placed non-binders of a test fold's pockets (from the fold's own other-group ligands)."""
    from dockscore.training.negatives import nonbinder_poses, size_matched_partners

    ids = [c.id for c in test]
    partners = size_matched_partners({c.id: c.heavy_atoms for c in test}, group_of, ids, ids, SCREEN_DECOYS, seed)
    return nonbinder_poses(Path(data_root) / "pdbbind", partners, store, log)


def fold_own_placements(data_root: Path, test: list, store: Path, log=print) -> dict:
    """Each test pocket's own ligand placed in it by the prior-only search of its decoys."""
    from dockscore.training.negatives import nonbinder_poses

    return nonbinder_poses(Path(data_root) / "pdbbind", {c.id: [c.id] for c in test}, store, log)


@torch.no_grad()
def screen_scores(model, test: list, placed: dict, by_id: dict, own: dict | None = None) -> list[ScreenScores]:
    """``model``'s scores of each test pocket's own ligand (its crystal pose, or its placement in
    ``own`` when given) and its placed non-binders."""
    from dockscore.training.evaluate import _encode_and_graphs

    model.eval()
    settings = model.config.graph_settings()
    out = []
    for cx in test:
        decoys = [by_id[j].ligand.with_positions(pos) for (p, j), pos in sorted(placed.items()) if p == cx.id and j != cx.id]
        active = cx.ligand if own is None or (cx.id, cx.id) not in own else cx.ligand.with_positions(own[(cx.id, cx.id)])
        batch, ps, pv = _encode_and_graphs(model, [(cx, active, False)] + [(cx, d, False) for d in decoys], settings)
        scores = model(batch, ps, pv)["score"].tolist()
        out.append(ScreenScores(cx.id, scores[0], scores[1:]))
    return out


def heavy_atom_screen(test: list, placed: dict, by_id: dict) -> list[ScreenScores]:
    """Ligand size as the screening score: what size matching leaves of it."""
    return [ScreenScores(cx.id, float(cx.heavy_atoms), [float(by_id[j].heavy_atoms) for (p, j) in sorted(placed) if p == cx.id and j != cx.id])
            for cx in test]


def screening_figures(screens: list[ScreenScores]) -> dict:
    """Pooled ROC AUC, EF1 %, EF5 %, BEDROC (alpha 80.5) and the share of pockets whose own
    ligand tops its decoys."""
    from dockscore.evaluation.metrics import screening_metrics

    actives = [s.active for s in screens if s.decoys]
    decoys = [d for s in screens for d in s.decoys]
    if not actives or not decoys:
        return {}
    figures = screening_metrics(actives, decoys)
    figures["own_ligand_top"] = float(np.mean([s.active > max(s.decoys) for s in screens if s.decoys]))
    return figures


def _screens_to_json(screens: list[ScreenScores]) -> list[dict]:
    return [asdict(s) for s in screens]


def _screens_from_json(rows: list[dict]) -> list[ScreenScores]:
    return [ScreenScores(**r) for r in rows]


def ligand_descriptors(pdbbind_root: str | Path, ids: list[str]) -> dict[str, np.ndarray]:
    """RDKit 2D descriptors (:func:`dockscore.training.baselines.descriptors`) of each crystal ligand."""
    from rdkit import Chem

    root = Path(pdbbind_root)
    return {i: descriptors(Chem.MolFromMolFile(str(root / i / "ligand.sdf"), removeHs=False)) for i in ids}


def ridge_predictions(train: list, test: list, features: dict[str, np.ndarray], group_of: dict[str, str], seed: int = 0) -> tuple[list[Prediction], float]:
    """The ligand-only ridge, fitted on the training folds; its penalty chosen by Pearson R pooled
    over an inner grouped 4-fold split of those training complexes (never on the test fold)."""
    X = lambda cs: np.stack([features[c.id] for c in cs])  # noqa: E731
    y = lambda cs: np.array([c.pK for c in cs])  # noqa: E731
    by_id = {c.id: c for c in train}
    n_groups = len({group_of[c.id] for c in train})
    inner = make_folds({c.id: group_of[c.id] for c in train}, min(4, n_groups), seed) if n_groups >= 2 else []
    best, best_alpha = -np.inf, ALPHAS[len(ALPHAS) // 2]  # the middle penalty when there is nothing to choose on
    for alpha in ALPHAS if inner else ():
        pred, true = [], []
        for fold in inner:
            held = set(fold)
            fit = [c for c in train if c.id not in held]
            test_in = [by_id[i] for i in fold]
            pred.extend(LigandOnlyRidge(alpha).fit(X(fit), y(fit)).predict(X(test_in)))
            true.extend(y(test_in))
        r = np.nan_to_num(np.corrcoef(pred, true)[0, 1], nan=-1.0) if len(pred) > 2 else -1.0
        if r > best:
            best, best_alpha = r, alpha
    p = LigandOnlyRidge(best_alpha).fit(X(train), y(train)).predict(X(test))
    return [Prediction(c.id, c.pK, float(s), float(s), [(float(s), r) for _, r in c.decoys]) for c, s in zip(test, p)], best_alpha


# ----------------------------------------------------------------------------- the driver

SCORERS = {  # name -> what it is (table order)
    "dockscore": "fold model as trained (no soft core, pose score w = 1)",
    "dockscore_shipped": "fold model with the shipped inference settings (prior soft core 0.7 A, pose score w = 2)",
    "dockscore_fold_prior": "the fold model's own prior part (shipped settings, learned correction off: its calibration kept)",
    "dockscore_cw_nested": "shipped settings, learned correction weighted by the weight the other folds chose (nested: the test fold never chooses)",
    "dockscore_contacts": "shipped settings + the element-contact term (dockscore.training.contacts) fitted on the fold's training complexes, its penalty chosen on their inner grouped folds",
    "vina_prior": "Vina-typed prior alone (+ hard clash), learned correction off, no soft core; linear fit on the training folds",
    "vina_prior_cap0.7": "Vina-typed prior alone, 0.7 A soft core; linear fit on the training folds",
    "heavy_atoms": "ligand heavy-atom count, linear fit on the training folds",
    "ligand_ridge": "ligand-only ridge (dockscore.training.baselines descriptors), fit on the training folds",
}


CORRECTION_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def blend(prior_part: list[Prediction], full: list[Prediction], weight: float) -> list[Prediction]:
    """One fold model's predictions with its learned correction weighted by ``weight``: the
    correction enters the score linearly, so score(w) = prior part + w x (full - prior part),
    for the crystal pose and every decoy alike (= ``model.set_correction_weight(w)``)."""
    def mix(a: float, b: float) -> float:
        return a + weight * (b - a)

    out = []
    for p0, p1 in zip(prior_part, full):
        assert p0.id == p1.id and len(p0.decoys) == len(p1.decoys)
        pose = mix(p0.pose_score, p1.pose_score) if p0.pose_score is not None and p1.pose_score is not None else None
        out.append(Prediction(p1.id, p1.pK, mix(p0.score, p1.score), pose,
                              [(mix(a, b), r) for (a, r), (b, _) in zip(p0.decoys, p1.decoys)]))
    return out


def correction_weight_sweep(prior_part: dict[int, list[Prediction]], full: dict[int, list[Prediction]], group_of: dict[str, str],
                            weights=CORRECTION_WEIGHTS, n_boot: int = 1000) -> dict:
    """Pooled and per-fold scoring R of every correction weight, and the nested choice: each test
    fold gets the weight that maximises pooled R over the other folds (the figure that estimates
    what choosing the weight by CV will give on new proteins)."""
    done = sorted(set(prior_part) & set(full))
    blended = {w: {f: blend(prior_part[f], full[f], w) for f in done} for w in weights}
    pooled = {w: metrics([p for f in done for p in blended[w][f]], group_of, n_boot) for w in weights}
    per_fold = {w: [metrics(blended[w][f], group_of, 0)["scoring"].get("pearson") for f in done] for w in weights}
    chosen, nested = {}, {}
    for f in done:
        others = [g for g in done if g != f]
        if not others:
            break
        r = {w: metrics([p for g in others for p in blended[w][g]], group_of, 0)["scoring"].get("pearson") for w in weights}
        chosen[f] = max(weights, key=lambda w: (np.nan_to_num(r[w], nan=-1.0), -abs(w - 1.0)))
        nested[f] = blended[chosen[f]][f]
    return {"weights": list(weights), "folds": done, "pooled": {str(w): headline(m) for w, m in pooled.items()},
            "per_fold_pearson": {str(w): v for w, v in per_fold.items()}, "nested_choice": chosen, "nested_predictions": nested,
            "best_pooled": max(weights, key=lambda w: np.nan_to_num(pooled[w]["scoring"].get("pearson"), nan=-1.0))}


def _pred_to_json(preds: list[Prediction]) -> list[dict]:
    return [asdict(p) for p in preds]


def _pred_from_json(rows: list[dict]) -> list[Prediction]:
    return [Prediction(r["id"], r["pK"], r["score"], r["pose_score"], [tuple(d) for d in r["decoys"]]) for r in rows]


def _fmt(value, ci=None, digits: int = 3) -> str:
    if value is None or value != value:
        return "-"
    text = f"{value:.{digits}f}"
    if ci and ci[0] == ci[0]:
        text += f" [{ci[0]:.{digits - 1}f}, {ci[1]:.{digits - 1}f}]"
    return text


def write_tables(report: dict, out_dir: Path, stem: str = "cv") -> None:
    """STEM.json (everything), STEM.md and STEM.csv (pooled headline figures per scorer, and per fold)."""
    out_dir = Path(out_dir)
    (out_dir / f"{stem}.json").write_text(json.dumps(report, indent=1))
    folds = report["folds"]
    title = "baselines" if "symmetry" not in report["recipe"] else f"{len(folds)} of {report['cv']['k']} folds done"
    lines = [f"# {report['cv']['k']}-fold protein-grouped CV ({title})", "",
             f"Pool: {report['cv']['pool']} complexes (train + val of models/split.json; test and fep_targets held out), "
             f"{report['cv']['grouping']['merged_groups']} protein groups after merging {report['cv']['grouping']['uniprot_groups']} "
             f"UniProt groups. " + (f"Recipe: {report['recipe']['symmetry']}, {report['recipe']['epochs']} epochs, seed {report['recipe']['seed']}; "
                                    f"epochs chosen on an inner validation of {report['cv']['inner_val_frac']:.0%} of each fold's training groups."
                                    if "symmetry" in report["recipe"] else "Baselines only (no training)."), "",
             "| scorer | Pearson R [95 %] | R per fold | within-protein rho [95 %] (groups) | docking top-1, native excluded [95 %] (n) | native included |",
             "|---|---|---|---|---|---|"]
    csv_rows = []
    for name in SCORERS:
        if name not in report["pooled"]:
            continue
        h = headline(report["pooled"][name])
        per_fold = [f.get("metrics", {}).get(name, {}).get("scoring", {}).get("pearson") for f in folds]
        lines.append(f"| {name} | {_fmt(h['pearson'], h['pearson_ci95'])} | {' '.join(_fmt(r, digits=2) for r in per_fold)} | "
                     f"{_fmt(h['ranking_rho'], h['ranking_ci95'])} ({h['ranking_groups']}) | "
                     f"{_fmt(h['dock_excl'], h['dock_excl_ci95'])} ({h['dock_excl_n']}) | {_fmt(h['dock_incl'], h['dock_incl_ci95'])} ({h['dock_incl_n']}) |")
        csv_rows.append({"scorer": name, "fold": "pooled", **h})
        for f in folds:
            if name in f.get("metrics", {}):
                csv_rows.append({"scorer": name, "fold": f["fold"], **headline(f["metrics"][name])})
    lines += ["", *(f"- {k}: {v}" for k, v in SCORERS.items() if k in report["pooled"]), ""]
    sweep = report.get("correction_weight")
    if sweep:
        lines += ["## Weight of the learned correction (shipped settings; 0 = the fold model's prior part alone)", "",
                  "| weight | pooled Pearson R [95 %] | R per fold | within-protein rho | docking top-1, native excluded |", "|---|---|---|---|---|"]
        for w in sweep["weights"]:
            h = sweep["pooled"][str(w)]
            lines.append(f"| {w:g} | {_fmt(h['pearson'], h['pearson_ci95'])} | {' '.join(_fmt(r, digits=2) for r in sweep['per_fold_pearson'][str(w)])} | "
                         f"{_fmt(h['ranking_rho'])} | {_fmt(h['dock_excl'])} |")
        lines += ["", f"Best pooled weight: {sweep['best_pooled']:g}; nested choice per test fold (chosen on the other folds): "
                  + ", ".join(f"fold {f}: {w:g}" for f, w in sweep["nested_choice"].items()) + "", ""]
    lines += _screening_lines(report)
    (out_dir / f"{stem}.md").write_text("\n".join(lines))
    with open(out_dir / f"{stem}.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, list(csv_rows[0]) if csv_rows else ["scorer"])
        writer.writeheader()
        for row in csv_rows:
            writer.writerow({k: (json.dumps(v) if isinstance(v, (list, tuple)) else v) for k, v in row.items()})


def _screening_lines(report: dict) -> list[str]:
    """The screening and clash-test section of cv.md (pooled over the folds done)."""
    pooled = report.get("pooled_screening")
    if not pooled:
        return []
    lines = [f"## Screening: each test pocket's own ligand against {SCREEN_DECOYS} size-matched non-binders of the fold placed in it, "
             "and the clash test", ""]
    for key, what in (("screening", "the active in its crystal pose"), ("screening_placed", "the active placed by the decoys' search")):
        figures = report.get(f"pooled_{key}")
        if not figures:
            continue
        lines += [f"{what.capitalize()}:", "",
                  "| scorer | ROC AUC | EF1 % | EF5 % | BEDROC (80.5) | own ligand tops its decoys | AUC per fold | "
                  "clash test: complexes with a pushed pose above crystal |", "|---|---|---|---|---|---|---|---|"]
        for name, fig in figures.items():
            per_fold = [f.get(key, {}).get(name, {}).get("roc_auc") for f in report["folds"]]
            clash = report.get("pooled_clash_test", {}).get(name)
            lines.append(f"| {name} | {_fmt(fig.get('roc_auc'))} | {_fmt(fig.get('ef1'), digits=1)} | {_fmt(fig.get('ef5'), digits=1)} | "
                         f"{_fmt(fig.get('bedroc'))} | {_fmt(fig.get('own_ligand_top'))} | {' '.join(_fmt(a, digits=2) for a in per_fold)} | "
                         + (f"{clash['pushed_above_crystal']} of {clash['complexes']}" if clash else "") + " |")
        lines.append("")
    return lines


def _fold_screening(data_root: Path, fold_dir: Path, name: str, test: list, by_id: dict, group_of: dict[str, str], store: Path,
                    seed: int, log=print) -> dict:
    """The fold's screening scores and clash tests (stored in its predictions.json), for the fold
    model as trained and as shipped (and with its element-contact term, when fitted), the fold's
    Vina-typed prior (same soft core and wall) and ligand size."""
    from dockscore.checkpoint import load_model
    from dockscore.model import DockScoreModel, ModelConfig, learned_correction_off
    from dockscore.training.evaluate import clash_test

    placed = fold_nonbinders(data_root, test, group_of, store, seed, log)
    own = fold_own_placements(data_root, test, store, log)
    trained = load_model(fold_dir / f"{name}.safetensors")
    shipped = with_shipped_inference(load_model(fold_dir / f"{name}.safetensors"))
    torch.manual_seed(0)
    prior = with_shipped_inference(DockScoreModel(ModelConfig(symmetry=trained.config.symmetry, vina_prior=1.0)))
    screens, placed_screens, clashes = {}, {}, {}
    scorers = [("dockscore", trained), ("dockscore_shipped", shipped), ("vina_prior_shipped", prior)]
    if _contacts_checkpoint(fold_dir, name).exists():  # the fold model with its fitted element-contact term
        scorers.append(("dockscore_contacts", load_model(_contacts_checkpoint(fold_dir, name))))
    for label, model in scorers:
        with learned_correction_off(model) if label.startswith("vina") else nullcontext():
            screens[label] = _screens_to_json(screen_scores(model, test, placed, by_id))
            placed_screens[label] = _screens_to_json(screen_scores(model, test, placed, by_id, own))
            clashes[label] = clash_test(model, test)
    screens["heavy_atoms"] = placed_screens["heavy_atoms"] = _screens_to_json(heavy_atom_screen(test, placed, by_id))
    return {"screening": screens, "screening_placed": placed_screens, "clash_test": clashes}


def _pool_metrics(folds: list[dict], preds: dict[str, dict[int, list[Prediction]]], group_of: dict[str, str], n_boot: int = 1000) -> dict:
    """Metrics of every scorer over the test complexes of the folds done (each scored by its fold's fit)."""
    done = [f["fold"] for f in folds]
    return {name: metrics([p for k in done for p in by_fold[k]], group_of, n_boot)
            for name, by_fold in preds.items() if by_fold and all(k in by_fold for k in done)}


def cv_pool(complexes: list, split_path: Path = SPLIT_PATH) -> list:
    """The complexes of train + val of the split file, by id; its test and fep_targets stay out."""
    split = json.loads(Path(split_path).read_text())
    wanted = (set(split["train"]) | set(split["val"])) - set(split["test"]) - set(split["fep_targets"])
    return sorted((c for c in complexes if c.id in wanted), key=lambda c: c.id)


def baseline_predictions(pool: list, folds: list[list[str]], group_of: dict[str, str], pdbbind_root: Path, symmetry: str = "e3",
                         seed: int = 0) -> tuple[dict[str, dict[int, list[Prediction]]], dict[int, float]]:
    """Each baseline's predictions on each test fold (fitted, where they fit, on the other folds'
    groups), and the ridge penalty chosen per fold."""
    by_id = {c.id: c for c in pool}
    cap = recipe(symmetry).inference.prior_overlap_cap
    prior = {name: {p.id: p for p in prior_predictions(pool, symmetry, c)} for name, c in (("vina_prior", None), ("vina_prior_cap0.7", cap))}
    features = ligand_descriptors(pdbbind_root, [c.id for c in pool])
    preds: dict[str, dict[int, list[Prediction]]] = {"vina_prior": {}, "vina_prior_cap0.7": {}, "heavy_atoms": {}, "ligand_ridge": {}}
    alphas = {}
    for f, fold in enumerate(folds):
        test_groups = {group_of[i] for i in fold}
        fit = [c for c in pool if group_of[c.id] not in test_groups]
        test = [by_id[i] for i in fold]
        for name in prior:
            preds[name][f] = linear_fit([prior[name][c.id] for c in fit], [prior[name][i] for i in fold])
        preds["heavy_atoms"][f] = heavy_atom_predictions(fit, test)
        preds["ligand_ridge"][f], alphas[f] = ridge_predictions(fit, test, features, group_of, seed)
    return preds, alphas


def _report(recipe: dict, k: int, cv_seed: int, pool: list, folds: list[list[str]], grouping: ProteinGroups, inner_val_frac: float,
            scorers: list[str]) -> dict:
    return {"recipe": recipe,
            "cv": {"k": k, "seed": cv_seed, "pool": len(pool), "held_out": ["test", "fep_targets"], "inner_val_frac": inner_val_frac,
                   "fold_sizes": [len(f) for f in folds], "grouping": {key: v for key, v in grouping.summary().items() if key != "merges"}},
            "scorers": {n: SCORERS[n] for n in scorers}, "folds": [], "pooled": {}}


def _baselines_table(pool: list, folds: list[list[str]], grouping: ProteinGroups, data_root: Path, out_dir: Path, symmetry: str,
                     k: int, cv_seed: int, n_boot: int, log) -> tuple[dict, dict]:
    """The baselines' predictions per fold and their table (baselines.*), written before any
    training: they need none, and their table exists even if a fold fails."""
    t0 = time.time()
    group_of = grouping.group_of
    baselines, alphas = baseline_predictions(pool, folds, group_of, data_root / "pdbbind", symmetry, cv_seed)
    table = _report({"baselines_only": True}, k, cv_seed, pool, folds, grouping, 0.0, list(baselines))
    table["folds"] = [{"fold": f, "test": len(fold), "ridge_alpha": alphas.get(f),
                       "metrics": {n: metrics(by_fold[f], group_of, n_boot) for n, by_fold in baselines.items()}} for f, fold in enumerate(folds)]
    table["pooled"] = _pool_metrics(table["folds"], baselines, group_of, n_boot)
    write_tables(table, out_dir, "baselines")
    log(f"baselines scored ({time.time() - t0:.0f} s): {out_dir / 'baselines.md'}")
    return baselines, alphas


def _fold_model(complexes: list, by_id: dict, test: list, train_ids: list[str], val_ids: list[str], fold_dir: Path, name: str, cfg,
                model_config, negatives, nonbinders, device: str, extra: dict, log) -> tuple[dict[str, list[Prediction]], dict]:
    """A fold's model predictions on its test complexes (as trained, as shipped, its prior part) and
    its training info: trained and saved, or read back from ``fold_dir/predictions.json``."""
    from dockscore.checkpoint import load_model, save_model
    from dockscore.training.evaluate import calibrate
    from dockscore.training.loop import train

    saved = fold_dir / "predictions.json"
    f = extra["cv_fold"]
    preds: dict[str, list[Prediction]] = {}
    if saved.exists():
        stored = json.loads(saved.read_text())
        info = stored["info"]
        log(f"fold {f}: read {saved}")
        terms = shipped_terms(model_config.symmetry)
        if stored.get("shipped_inference") != terms:  # scored under other fixed terms, or before they were stored: again
            log(f"fold {f}: shipped inference terms changed ({stored.get('shipped_inference')} -> {terms}); scoring it again")
            for key in [*SHIPPED_KEYS, *(k for k in stored if k.startswith("dockscore_contacts_"))]:
                stored.pop(key, None)
            shipped = with_shipped_inference(load_model(fold_dir / f"{name}.safetensors"))
            stored.update(dockscore_shipped=_pred_to_json(model_predictions(shipped, test)), shipped_inference=terms,
                          dockscore_fold_prior=_pred_to_json(fold_prior_part(shipped, test)))
            saved.write_text(json.dumps(stored))
        for key in ("dockscore", "dockscore_shipped", "dockscore_fold_prior"):
            preds[key] = _pred_from_json(stored[key])
    else:
        log(f"fold {f}: train {len(train_ids)}, inner val {len(val_ids)}, test {len(test)} complexes")
        t0 = time.time()
        model, info = train(complexes, {"train": train_ids, "val": val_ids}, cfg, model_config, log=log, device=device,
                            enantiomers=negatives, nonbinders=nonbinders)
        info["calibration"] = calibrate(model, [by_id[i] for i in train_ids])
        save_model(model, fold_dir / f"{name}.safetensors", extra={**extra, "best_epoch": info["best_epoch"]})
        preds["dockscore"] = model_predictions(model, test)
        with_shipped_inference(model)  # the saved checkpoint stays as trained
        preds["dockscore_shipped"] = model_predictions(model, test)
        preds["dockscore_fold_prior"] = fold_prior_part(model, test)
        info = {"best_epoch": info["best_epoch"], "epochs_run": info["epochs_run"], "calibration": info["calibration"],
                "history": info["history"], "train_seconds": time.time() - t0}
        (fold_dir / f"{name}.metrics.json").write_text(json.dumps({"train_ids": train_ids, "inner_val_ids": val_ids, "test_ids": [c.id for c in test],
                                                                   **info}, indent=1))
        saved.write_text(json.dumps({"dockscore": _pred_to_json(preds["dockscore"]),
                                     "dockscore_shipped": _pred_to_json(preds["dockscore_shipped"]),
                                     "shipped_inference": shipped_terms(model_config.symmetry),
                                     "dockscore_fold_prior": _pred_to_json(preds["dockscore_fold_prior"]), "info": info}))
    return preds, info


def _contacts_checkpoint(fold_dir: Path, name: str) -> Path:
    """Where a fold keeps its model with the fitted element-contact term (screened beside the others)."""
    return fold_dir / f"{name}-contacts.safetensors"


def _contacts_key(element_contacts: float) -> str:
    """The predictions.json key of a fold model scored with its fitted element-contact term."""
    return f"dockscore_contacts_{element_contacts:g}"


def _fold_complete(saved: Path, element_contacts: float | None, screening: bool) -> bool:
    """Whether a fold's predictions.json holds everything the table reads (trained, contact-fitted, screened)."""
    try:
        stored = json.loads(saved.read_text())
    except (FileNotFoundError, json.JSONDecodeError):  # not written yet, or being written
        return False
    return ((not element_contacts or _contacts_key(element_contacts) in stored)
            and (not screening or ("screening" in stored and "screening_placed" in stored)))


def run_cv(data_root: str | Path, out_dir: str | Path, k: int = 5, cv_seed: int = 0, symmetry: str = "e3", epochs: int = 16,
           seed: int = 0, model_config=None, train_overrides: dict | None = None, cache: Path | None = None, limit: int | None = None,
           device: str = "cpu", time_budget_s: float | None = None, name: str | None = None, inner_val_frac: float = 0.1,
           split_path: Path = SPLIT_PATH, n_boot: int = 1000, element_contacts: float | None = None, screening: bool = True,
           folds_to_run: list[int] | None = None, log=print) -> dict:
    """Train one model per fold with the given recipe, score its test fold, and write ``fold<f>/``
    (checkpoint, metrics with the training history, predictions) and the CV table (cv.json, cv.md,
    cv.csv) after every fold; the baselines' table (baselines.*) is written before any training.
    A fold whose predictions.json exists is read, not retrained (resume after an interruption).
    ``element_contacts`` (A): also score each fold model with the element-contact term fitted on
    its training complexes (``dockscore_contacts``; a stored fold gets it from its checkpoint).
    ``screening``: each fold's screening figures and clash test (:func:`screening_figures`; the
    non-binder placements are stored beside ``cache``, or in ``out_dir``). ``folds_to_run``: train
    only these folds (the others are read once complete, skipped until then), so one process per
    core can share the folds; a last run without it writes the table of all."""
    from dockscore.model import ModelConfig
    from dockscore.training.loop import TrainConfig
    from dockscore.training.data import load_training_complexes

    data_root, out_dir = Path(data_root), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_config = model_config or ModelConfig(symmetry=symmetry)
    complexes = load_training_complexes(data_root, model_config.graph_settings(), cache, limit, log)
    pool = cv_pool(complexes, split_path)
    by_id = {c.id: c for c in pool}
    t0 = time.time()
    grouping = protein_groups(read_group_inputs(data_root / "pdbbind", [c.id for c in pool]))
    group_of = grouping.group_of
    folds = make_folds(group_of, k, cv_seed)
    log(f"CV pool {len(pool)} complexes: {grouping.n_uniprot} UniProt groups -> {len(grouping.members)} after merging "
        f"({len(grouping.merges)} merges); fold sizes {[len(f) for f in folds]} ({time.time() - t0:.0f} s)")
    (out_dir / "folds.json").write_text(json.dumps({"k": k, "seed": cv_seed, "folds": folds, "group_of": group_of,
                                                    "grouping": grouping.summary()}, indent=1))

    baselines, alphas = _baselines_table(pool, folds, grouping, data_root, out_dir, symmetry, k, cv_seed, n_boot, log)

    cfg = TrainConfig(symmetry=symmetry, epochs=epochs, seed=seed, time_budget_s=time_budget_s, **(train_overrides or {}))
    negatives = None
    if cfg.enantiomer_weight > 0:  # placed once for the whole pool; each fold trains on its own training ids' only
        from dockscore.training.loop import training_enantiomers

        negatives = training_enantiomers(data_root, [c.id for c in pool], cache, out_dir, log)
    nonbinders = None
    if cfg.nonbinder_weight > 0:  # placed once for the whole pool; a fold trains on pairs of its own training ids only
        from dockscore.training.loop import training_nonbinders

        nonbinders = training_nonbinders(data_root, pool, [c.id for c in pool], group_of, cache, out_dir, seed=cv_seed, log=log)
    preds: dict[str, dict[int, list[Prediction]]] = {"dockscore": {}, "dockscore_shipped": {}, "dockscore_fold_prior": {},
                                                     "dockscore_cw_nested": {}, **({"dockscore_contacts": {}} if element_contacts else {}),
                                                     **baselines}
    report = _report({"symmetry": symmetry, "epochs": epochs, "seed": seed, "train_config": dict(cfg.__dict__),
                      "model_config": model_config.to_dict()}, k, cv_seed, pool, folds, grouping, inner_val_frac, list(preds))
    name = name or f"dockscore-{symmetry}"
    screens: dict[int, dict[str, list[ScreenScores]]] = {}
    placed_screens: dict[int, dict[str, list[ScreenScores]]] = {}
    for f, fold in enumerate(folds):
        fold_dir = out_dir / f"fold{f}"
        test = [by_id[i] for i in fold]
        test_groups = {group_of[i] for i in fold}
        train_ids, val_ids = inner_validation([c.id for c in pool if group_of[c.id] not in test_groups], group_of, inner_val_frac,
                                              cv_seed * 1000 + f)
        saved = fold_dir / "predictions.json"
        if folds_to_run is not None and f not in folds_to_run and not _fold_complete(saved, element_contacts, screening):
            continue  # another process's fold, not finished: the last run reads it
        fold_preds, info = _fold_model(complexes, by_id, test, train_ids, val_ids, fold_dir, name, cfg, model_config, negatives, nonbinders,
                                       device, {"seed": seed, "cv_fold": f, "cv_k": k, "cv_seed": cv_seed, "epochs": epochs}, log)
        for key, value in fold_preds.items():
            preds[key][f] = value
        if element_contacts:
            stored = json.loads(saved.read_text())
            key = _contacts_key(element_contacts)
            if key not in stored:
                from dockscore.checkpoint import load_model, save_model
                from dockscore.training.contacts import fit_element_contacts

                model = with_shipped_inference(load_model(fold_dir / f"{name}.safetensors"))
                fit_ids = train_ids + val_ids
                contact_fit = fit_element_contacts(model, [by_id[i] for i in fit_ids], [group_of[i] for i in fit_ids], element_contacts, log=log)
                save_model(model, _contacts_checkpoint(fold_dir, name), extra={"cv_fold": f, "element_contacts": element_contacts})
                stored[key] = _pred_to_json(model_predictions(model, test))
                stored[key + "_fit"] = contact_fit.to_dict()
                saved.write_text(json.dumps(stored))
            preds["dockscore_contacts"][f] = _pred_from_json(stored[key])
        report["folds"].append({"fold": f, "test": len(fold), "train": len(train_ids), "inner_val": len(val_ids),
                                "best_epoch": info["best_epoch"], "ridge_alpha": alphas.get(f),
                                "metrics": {n: metrics(by_fold[f], group_of, n_boot) for n, by_fold in preds.items() if f in by_fold}})
        if screening:
            stored = json.loads(saved.read_text())
            if "screening" not in stored or "screening_placed" not in stored:
                stored.update(_fold_screening(data_root, fold_dir, name, test, by_id, group_of, nonbinder_store(cache, out_dir),
                                              cv_seed * 1000 + f, log))
                saved.write_text(json.dumps(stored))
            screens[f] = {label: _screens_from_json(rows) for label, rows in stored["screening"].items()}
            report["folds"][-1]["screening"] = {label: screening_figures(rows) for label, rows in screens[f].items()}
            if "screening_placed" in stored:
                placed_screens[f] = {label: _screens_from_json(rows) for label, rows in stored["screening_placed"].items()}
                report["folds"][-1]["screening_placed"] = {label: screening_figures(rows) for label, rows in placed_screens[f].items()}
                report["pooled_screening_placed"] = {label: screening_figures([s for by in placed_screens.values() for s in by[label]])
                                                     for label in placed_screens[f]}
            report["folds"][-1]["clash_test"] = {label: {k: v for k, v in c.items() if k != "failed"} for label, c in stored["clash_test"].items()}
            report["pooled_screening"] = {label: screening_figures([s for by in screens.values() for s in by[label]]) for label in screens[f]}
            report["pooled_clash_test"] = {label: {key: sum(e["clash_test"][label][key] for e in report["folds"] if "clash_test" in e)
                                                   for key in ("complexes", "pushed_poses", "pushed_above_crystal")}
                                           for label in stored["clash_test"]}
        if len(preds["dockscore_fold_prior"]) > 1:  # the nested choice needs another fold to choose on
            sweep = correction_weight_sweep(preds["dockscore_fold_prior"], preds["dockscore_shipped"], group_of, n_boot=n_boot)
            preds["dockscore_cw_nested"] = sweep.pop("nested_predictions")
            report["correction_weight"] = sweep
            for entry in report["folds"]:
                if entry["fold"] in preds["dockscore_cw_nested"]:
                    entry["metrics"]["dockscore_cw_nested"] = metrics(preds["dockscore_cw_nested"][entry["fold"]], group_of, n_boot)
        report["pooled"] = _pool_metrics(report["folds"], preds, group_of, n_boot)
        write_tables(report, out_dir)
        h = headline(report["folds"][-1]["metrics"]["dockscore"])
        log(f"fold {f}: R {_fmt(h['pearson'])}, within-protein rho {_fmt(h['ranking_rho'])}, docking top-1 {_fmt(h['dock_excl'])} "
            f"(cv table: {out_dir / 'cv.md'})")
    return report
