"""A model read on training-format complexes: predictions (crystal, decoys, mirror images), the pK
calibration, the held-out report (scoring, within-protein ranking, docking), the clash test and
the JACS FEP series. Shared by the training loop, the CV, the element-contact fit and the benches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Batch

from dockscore.evaluation.metrics import pearson, spearman
from dockscore.graph import PreparedProtein, build_complex_graph
from dockscore.model import DockScoreModel
from dockscore.overlap import pushed_into_protein
from dockscore.training.data import Complex


def _model_device(model) -> torch.device:
    return next(model.parameters()).device


def _encode_and_graphs(model, items, settings):
    """Encode each distinct protein once, build the pose graphs, batch them.

    ``items``: list of (Complex, PreparedLigand, mirrored: bool). Returns (Batch, protein_s, protein_v)."""
    enc_cache: dict[tuple[str, bool], int] = {}
    s_parts, v_parts, graphs = [], [], []
    offset = 0
    for cx, ligand, mirrored in items:
        key = (cx.id, mirrored)
        sign = -1.0 if mirrored else 1.0
        if key not in enc_cache:
            dev = _model_device(model)
            s, v = model.encode_protein(cx.protein.x.to(dev), sign * cx.protein.pos.to(dev), cx.protein.bond_index.to(dev))
            enc_cache[key] = offset
            s_parts.append(s)
            v_parts.append(v)
            offset += s.shape[0]
        protein = cx.protein if not mirrored else PreparedProtein(cx.protein.protein, cx.protein.x, -cx.protein.pos, cx.protein.radius, cx.protein.bond_index)
        lig = ligand if not mirrored else ligand.with_positions(-ligand.pos)
        g = build_complex_graph(protein, lig, settings)
        g.pocket_atom = g.pocket_atom + enc_cache[key]
        graphs.append(g)
    return Batch.from_data_list(graphs).to(_model_device(model)), torch.cat(s_parts), torch.cat(v_parts)


@torch.no_grad()
def predict(model: DockScoreModel, complexes: list[Complex], with_decoys: bool = True, with_mirror: bool = False) -> dict:
    """Scores of crystal poses and of the mirror-image complexes, and pose scores of crystal poses
    (``native_pose``) and decoys (``decoys``: pose score, RMSD), for evaluation."""
    model.eval()
    settings = model.config.graph_settings()
    native, native_pose, decoys, mirror = {}, {}, {}, {}
    for cx in complexes:
        items = [(cx, cx.ligand, False)] + ([(cx, d, False) for d, _ in cx.decoys] if with_decoys else [])
        if with_mirror:
            items.append((cx, cx.ligand, True))
        batch, ps, pv = _encode_and_graphs(model, items, settings)
        out = model(batch, ps, pv)
        scores, pose_scores = out["score"].tolist(), out["pose_score"].tolist()
        native[cx.id], native_pose[cx.id] = scores[0], pose_scores[0]
        if with_mirror:
            mirror[cx.id] = scores.pop()
            pose_scores.pop()
        if with_decoys and cx.decoys:
            decoys[cx.id] = list(zip(pose_scores[1:], [r for _, r in cx.decoys]))
    return {"native": native, "native_pose": native_pose, "decoys": decoys, "mirror": mirror}


@torch.no_grad()
def calibrate(model: DockScoreModel, complexes: list[Complex]) -> dict:
    """Least-squares map of the interaction sum onto pK over *training* crystal poses.

    Rank metrics are unchanged; absolute pK values (RMSE) become meaningful. Kept only when the
    slope is positive (a negative slope would invert the physically signed terms)."""
    pred = predict(model, complexes, with_decoys=False)["native"]
    scale, offset = float(model.head.scale), float(model.head.offset)
    interaction = np.array([(pred[c.id] - offset) / scale for c in complexes])
    y = np.array([c.pK for c in complexes])
    a, b = np.polyfit(interaction, y, 1)
    if a <= 0:
        return {"applied": False, "slope": float(a)}
    model.head.scale.fill_(float(a))
    model.head.offset.data.fill_(float(b))
    return {"applied": True, "scale": float(a), "offset": float(b), "n": len(complexes)}


def evaluate(model: DockScoreModel, complexes: list[Complex]) -> dict:
    """Scoring power (Pearson R, Spearman, RMSE vs pK) and docking power (top-1 < 2 A, poses chosen by
    the pose score) on a set."""
    se3 = model.config.symmetry == "se3"
    pred = predict(model, complexes, with_mirror=se3)
    ids = [c.id for c in complexes]
    y = [c.pK for c in complexes]
    p = [pred["native"][i] for i in ids]
    hac = [c.heavy_atoms for c in complexes]
    out = {
        "n": len(ids),
        "pearson": pearson(p, y),
        "spearman": spearman(p, y),
        "rmse": float(np.sqrt(np.mean((np.asarray(p) - np.asarray(y)) ** 2))),
        "pK_std": float(np.std(y)),  # the RMSE of always predicting this set's mean
        "heavy_atom_pearson": pearson(hac, y),
        "heavy_atom_spearman": spearman(hac, y),
    }
    by_protein: dict[str, list[int]] = {}
    for k, c in enumerate(complexes):
        by_protein.setdefault(c.uniprot, []).append(k)
    rhos = [spearman([p[k] for k in ks], [y[k] for k in ks]) for ks in by_protein.values() if len(ks) >= 4]
    rhos = [r for r in rhos if r == r]
    if rhos:  # ranking power: complexes of one protein ranked against each other (what a congeneric series asks)
        out["ranking_mean_spearman"], out["ranking_n_proteins"] = float(np.mean(rhos)), len(rhos)
    if se3:  # handedness: does the real (L-protein) complex outscore its mirror image?
        gaps = [pred["native"][i] - pred["mirror"][i] for i in ids]
        out["mirror_win_rate"] = float(np.mean([g > 0 for g in gaps]))
        out["mirror_mean_gap"] = float(np.mean(gaps))
    incl, excl, n_dock = 0, 0, 0
    for cx in complexes:
        if cx.id not in pred["decoys"]:
            continue
        dec = pred["decoys"][cx.id]
        if not any(r < 2.0 for _, r in dec):
            continue
        n_dock += 1
        poses = [(pred["native_pose"][cx.id], 0.0)] + dec
        incl += max(poses)[1] < 2.0
        excl += max(dec)[1] < 2.0
    if n_dock:
        out.update({"docking_n": n_dock, "docking_top1_native_included": incl / n_dock, "docking_top1_native_excluded": excl / n_dock})
    return out


@torch.no_grad()
def clash_test(model: DockScoreModel, complexes: list[Complex]) -> dict:
    """The clash test (issue 26): each crystal ligand moved 1-2 A into its protein along the 26
    grid directions (:func:`dockscore.overlap.pushed_into_protein`); a complex fails when any
    such pose outscores its crystal pose. Returns counts and the failing ids."""
    model.eval()
    settings = model.config.graph_settings()
    failed, n_complexes, n_poses, margins = [], 0, 0, []
    for cx in complexes:
        moves = pushed_into_protein(cx.ligand.pos.numpy(), cx.protein.pos.numpy())
        if not moves:
            continue
        items = [(cx, cx.ligand, False)] + [(cx, cx.ligand.with_positions(torch.tensor(pos, dtype=torch.float32)), False) for _, _, pos in moves]
        batch, ps, pv = _encode_and_graphs(model, items, settings)
        scores = model(batch, ps, pv)["score"].tolist()
        n_complexes, n_poses = n_complexes + 1, n_poses + len(moves)
        margins.append(scores[0] - max(scores[1:]))
        if max(scores[1:]) > scores[0]:
            failed.append(cx.id)
    return {"complexes": n_complexes, "pushed_poses": n_poses, "pushed_above_crystal": len(failed), "failed": failed,
            "median_margin_pK": float(np.median(margins)) if margins else float("nan")}


FEP_TARGETS = ("bace", "cdk2", "jnk1_manual_flips", "mcl1_extra_flips", "p38", "ptp1b", "thrombin_core", "tyk2")


def evaluate_fep(model: DockScoreModel, fep_root: Path) -> dict:
    """Per-target Spearman rho of score vs measured pK (dG in kcal/mol at 298 K) on the JACS FEP series, with the heavy-atom baseline.

    The same unit conversion as `dockscore benchmark` (:func:`dockscore.evaluation.benchmark.to_pk`), so training
    logs and the benchmark read one series the same way."""
    from dockscore.evaluation.benchmark import to_pk
    from dockscore.scoring import Scorer

    out = {}
    for target in FEP_TARGETS:
        protein = fep_root / f"{target}_protein.pdb"
        ligands = fep_root / f"{target}_ligands.sdf"
        if not protein.exists():
            continue
        scorer = Scorer(protein, model=model)
        scores, pks, hac = [], [], []
        for result in scorer.score_file(ligands):
            if result.status != "ok" or "r_exp_dg" not in result.record.props:
                continue
            scores.append(result.score)
            pks.append(to_pk(float(result.record.props["r_exp_dg"]), "kcal/mol"))
            hac.append(result.record.mol.GetNumHeavyAtoms())
        out[target] = {"n": len(scores), "spearman": spearman(scores, pks), "heavy_atom_spearman": spearman(hac, pks)}
    out["mean"] = {
        "spearman": float(np.mean([v["spearman"] for v in out.values()])),
        "heavy_atom_spearman": float(np.mean([v["heavy_atom_spearman"] for k, v in out.items() if k != "mean"])),
    }
    return out
