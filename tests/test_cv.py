"""Protein-grouped cross-validation: merged groups never straddle folds, every complex is tested
once, folds are deterministic, intervals contain their estimates, the prior-alone switch, and a
one-epoch run of `dockscore train --cv` on a few real complexes."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from dockscore.training.folds import GroupInput, inner_validation, make_folds, protein_groups
from dockscore.training.cv import Prediction, headline, linear_fit, metrics
from dockscore.model import LEARNED_TERMS, TERM_NAMES, DockScoreModel, ModelConfig, learned_correction_off

from .conftest import ROOT

DATA = ROOT.parent / "shared" / "data"


def _kmers(seed: int, n: int = 20) -> frozenset[str]:
    rng = random.Random(seed)
    return frozenset("".join(rng.choice("ACDEFGHIKLMNPQRSTVWY") for _ in range(5)) for _ in range(n))


def _entries() -> list[GroupInput]:
    shared = _kmers(1)
    half = frozenset(list(shared)[:10]) | _kmers(2, 10)  # containment 0.5: below the threshold
    return [
        GroupInput("a1", "U1", "Kinase X", shared), GroupInput("a2", "U1", "Kinase X", _kmers(3)),
        GroupInput("b1", "U2", "kinase x (mouse)", _kmers(4)),  # other name, other pocket
        GroupInput("c1", "U3", "Something", shared),  # near-identical pocket to a1: merged with U1
        GroupInput("d1", "U4", "KINASE-X", _kmers(5)),  # same name once normalised: merged with U1
        GroupInput("e1", "------", "", _kmers(6)), GroupInput("e2", "------", "", _kmers(7)),  # no UniProt: one group each
        GroupInput("f1", "U5", "Other", half),
    ]


def test_groups_merge_by_name_and_pocket_not_by_chance():
    groups = protein_groups(_entries())
    g = groups.group_of
    assert g["a1"] == g["a2"] == g["c1"] == g["d1"]
    assert len({g["b1"], g["a1"], g["e1"], g["e2"], g["f1"]}) == 5
    assert groups.n_uniprot == 7 and len(groups.members) == 5
    assert {m["why"].split()[0] for m in groups.merges} == {"name", "pockets"}


def _synthetic_groups(n_groups: int = 40, seed: int = 0) -> dict[str, str]:
    rng = random.Random(seed)
    return {f"g{g}_{i}": f"G{g}" for g in range(n_groups) for i in range(rng.choice([1, 1, 2, 3, 8]))}


def test_folds_keep_groups_whole_test_each_complex_once_and_are_deterministic():
    group_of = _synthetic_groups()
    folds = make_folds(group_of, 5, seed=3)
    flat = [i for f in folds for i in f]
    assert sorted(flat) == sorted(group_of) and len(flat) == len(set(flat))
    fold_of = {i: k for k, f in enumerate(folds) for i in f}
    for g in set(group_of.values()):
        assert len({fold_of[i] for i in group_of if group_of[i] == g}) == 1
    sizes = [len(f) for f in folds]
    assert max(sizes) - min(sizes) <= 8  # balanced to within the largest group
    assert make_folds(dict(reversed(list(group_of.items()))), 5, seed=3) == folds  # order of input does not matter
    assert make_folds(group_of, 5, seed=4) != folds
    with pytest.raises(ValueError):
        make_folds(group_of, 1)
    train = [i for f in folds[1:] for i in f]
    fit, val = inner_validation(train, group_of, 0.1, seed=0)
    assert sorted(fit + val) == sorted(train) and val
    assert not {group_of[i] for i in fit} & {group_of[i] for i in val}


def test_metrics_and_intervals_contain_the_estimate():
    rng = np.random.default_rng(0)
    group_of, preds = {}, []
    for g in range(12):
        for j in range(5):
            cid = f"c{g}_{j}"
            group_of[cid] = f"G{g}"
            pk = rng.normal(6, 1.5)
            decoys = [(float(rng.normal(0, 1)), float(r)) for r in (0.8, 3.0, 5.0)]
            preds.append(Prediction(cid, float(pk), float(pk + rng.normal(0, 1.0)), 1.0, decoys))
    m = headline(metrics(preds, group_of, n_boot=200))
    for value, ci in ((m["pearson"], m["pearson_ci95"]), (m["ranking_rho"], m["ranking_ci95"]), (m["dock_excl"], m["dock_excl_ci95"]),
                      (m["dock_incl"], m["dock_incl_ci95"])):
        assert ci[0] <= value <= ci[1]
    assert m["n"] == 60 and m["ranking_groups"] == 12 and m["dock_excl_n"] == 60
    assert 0.5 < m["pearson"] < 0.95


def test_a_fixed_scorer_is_mapped_by_the_line_its_training_folds_fit():
    """pK = 2 x + 1 on the training folds: the test fold's score, pose score and decoys follow the
    same line, so a fixed scorer is calibrated per fold like a fold model (fair pooled R)."""
    rng = np.random.default_rng(0)
    fit = [Prediction(f"t{i}", 2 * x + 1, x, x) for i, x in enumerate(rng.normal(size=30))]
    test = [Prediction("a", 5.0, 0.5, 0.25, [(0.1, 1.0), (-1.0, 4.0)])]
    (mapped,) = linear_fit(fit, test)
    assert mapped.score == pytest.approx(2.0) and mapped.pose_score == pytest.approx(1.5)
    assert [s for s, _ in mapped.decoys] == pytest.approx([1.2, -1.0]) and [r for _, r in mapped.decoys] == [1.0, 4.0]
    assert mapped.pK == 5.0


def test_learned_correction_off_leaves_only_the_fixed_terms():
    from torch_geometric.data import Batch

    from dockscore.graph import PreparedLigand, PreparedProtein, build_complex_graph
    from dockscore.io.ligands import iter_ligands
    from dockscore.io.protein import read_protein

    from .conftest import LIGAND_1S3V, PROTEIN_1S3V

    torch.manual_seed(0)
    model = DockScoreModel(ModelConfig(vina_prior=1.0)).eval()
    protein = PreparedProtein.from_protein(read_protein(PROTEIN_1S3V))
    ligand = PreparedLigand.from_mol(next(iter_ligands(LIGAND_1S3V)).mol)
    batch = Batch.from_data_list([build_complex_graph(protein, ligand, model.config.graph_settings())])
    with torch.no_grad():
        s, v = model.encode_protein(protein.x, protein.pos, protein.bond_index)
        before = model(batch, s, v)
        with learned_correction_off(model):
            off = model(batch, s, v)
        after = model(batch, s, v)
    fixed = [TERM_NAMES.index("hard_clash"), TERM_NAMES.index("vina_prior")]
    assert torch.equal(before["score"], after["score"])
    assert float(off["terms"][:, : len(LEARNED_TERMS)].abs().sum()) == 0.0
    assert torch.allclose(off["score"], off["terms"][:, fixed].sum(-1) + model.offset)
    assert not torch.allclose(off["score"], before["score"])
    # the learned correction enters linearly: weight w gives off + w x (full - off), pose scores alike
    with torch.no_grad():
        model.set_correction_weight(0.4)
        shrunk = model(batch, s, v)
        model.set_correction_weight(1.0)
    for key in ("score", "pose_score"):
        assert torch.allclose(shrunk[key], off[key] + 0.4 * (before[key] - off[key]), atol=1e-5)
    assert model.config.correction_weight == 1.0


def test_the_correction_weight_sweep_blends_linearly_and_chooses_on_other_folds():
    from dockscore.training.cv import blend, correction_weight_sweep

    rng = np.random.default_rng(0)
    group_of, prior, full = {}, {}, {}
    for f in range(3):
        prior[f], full[f] = [], []
        for n in range(30):
            cid = f"c{f}_{n}"
            group_of[cid] = f"g{f}_{n % 6}"
            pk = float(rng.normal(6, 1.5))
            p0 = pk + float(rng.normal(0, 1.0))  # a prior that carries signal
            noise = float(rng.normal(0, 3.0))  # a correction that is mostly noise
            decoys = [(p0 - 1.0, 4.0)]
            prior[f].append(Prediction(cid, pk, p0, p0, decoys))
            full[f].append(Prediction(cid, pk, p0 + noise, p0 + noise, [(p0 - 1.0 + noise / 2, 4.0)]))
    half = blend(prior[0], full[0], 0.5)[0]
    assert half.score == pytest.approx((prior[0][0].score + full[0][0].score) / 2)
    assert half.decoys[0][0] == pytest.approx((prior[0][0].decoys[0][0] + full[0][0].decoys[0][0]) / 2)
    sweep = correction_weight_sweep(prior, full, group_of, n_boot=20)
    r = {w: sweep["pooled"][str(w)]["pearson"] for w in sweep["weights"]}
    assert r[0.0] > r[1.0] and sweep["best_pooled"] < 1.0  # a noisy correction is shrunk
    assert set(sweep["nested_choice"]) == {0, 1, 2} and all(w < 1.0 for w in sweep["nested_choice"].values())


@pytest.mark.skipif(not (DATA / "pdbbind" / "index.csv").exists(), reason="needs ../shared/data/pdbbind")
def test_cv_driver_smoke(tmp_path):
    """What `dockscore train --cv 2 --epochs 1 --limit 20` runs (fewer bootstrap draws: speed)."""
    from dockscore.training.cv import _contacts_key, run_cv
    from dockscore.model import ModelConfig

    out = tmp_path / "cv"
    settings = dict(k=2, epochs=1, limit=20, model_config=ModelConfig(vina_prior=1.0), n_boot=50, log=lambda *a: None,
                    train_overrides={"ema_decay": 0.99, "pose_weight": 1.0, "group_weight": 1.0, "torsion_decoys": True,
                                     "enantiomer_weight": 1.0, "nonbinder_weight": 1.0, "clash_negatives": True}, element_contacts=12.0)
    first = run_cv(DATA, out, folds_to_run=[1], **settings)  # one process's share of the folds
    assert [f["fold"] for f in first["folds"]] == [1] and not (out / "fold0" / "predictions.json").exists()
    trained_once = (out / "fold1" / "dockscore-e3.safetensors").stat().st_mtime
    report = run_cv(DATA, out, **settings)  # the last run: fold 1 is read, fold 0 trained, the table covers both
    assert (out / "fold1" / "dockscore-e3.safetensors").stat().st_mtime == trained_once
    folds = json.loads((out / "folds.json").read_text())
    tested = [i for f in folds["folds"] for i in f]
    split = json.loads((ROOT / "dockscore" / "models" / "split.json").read_text())
    assert len(tested) == len(set(tested)) == report["cv"]["pool"] > 0
    assert not set(tested) & (set(split["test"]) | set(split["fep_targets"]))
    assert [f["fold"] for f in report["folds"]] == [0, 1]
    assert {"dockscore", "dockscore_shipped", "dockscore_fold_prior", "dockscore_cw_nested", "vina_prior", "heavy_atoms", "dockscore_contacts"} <= set(report["pooled"])
    assert "Weight of the learned correction" in (out / "cv.md").read_text()
    assert (out / "fold0" / "dockscore-e3.safetensors").exists() and (out / "cv.md").exists() and (out / "baselines.md").exists()
    assert json.loads((out / "cv.json").read_text())["cv"]["k"] == 2
    negatives = torch.load(out / "enantiomer_negatives.pt", weights_only=True)  # placed once for the pool, never the held-out
    assert set(negatives) == set(tested) and any(v is not None for v in negatives.values())
    # screening and the clash test, per fold and pooled, for the model and its baselines
    assert {"dockscore", "dockscore_shipped", "vina_prior_shipped", "heavy_atoms", "dockscore_contacts"} <= set(report["pooled_screening"])
    assert report["pooled_clash_test"]["dockscore_contacts"]["complexes"] > 0
    for figures in report["pooled_screening"].values():
        assert 0.0 <= figures["roc_auc"] <= 1.0 and figures["n_actives"] == len(tested)
    assert report["pooled_clash_test"]["dockscore_shipped"]["complexes"] > 0
    assert set(report["pooled_screening_placed"]) == set(report["pooled_screening"])  # the active placed as its decoys are
    assert "## Screening" in (out / "cv.md").read_text()
    placed = torch.load(out / "nonbinder_poses.pt", weights_only=True)  # screening decoys: ligands of the same test fold
    fold_of = {i: f for f, ids in enumerate(folds["folds"]) for i in ids}
    pairs = [key.split("|") for key in placed]
    own, others = [(p, j) for p, j in pairs if p == j], [(p, j) for p, j in pairs if p != j]
    assert {p for p, _ in own} == set(tested)  # each test ligand also placed in its own pocket
    assert others and all(p in fold_of and j in fold_of for p, j in others)
    assert all(folds["group_of"][p] != folds["group_of"][j] for p, j in others)  # non-binders: other protein groups only
    # a fold scored under other shipped inference terms (the recipe changed since) is scored again on
    # resume, not mixed with folds scored under the new ones
    from dockscore.training.cv import shipped_terms

    saved = out / "fold1" / "predictions.json"
    stored = json.loads(saved.read_text())
    assert stored["shipped_inference"] == shipped_terms("e3")
    shipped_before = stored["dockscore_shipped"]
    stored.update(shipped_inference={**stored["shipped_inference"], "correction_fade": 0.0}, dockscore_shipped=stored["dockscore"])
    stored["screening"]["dockscore_shipped"] = []
    saved.write_text(json.dumps(stored))
    run_cv(DATA, out, **settings)
    again = json.loads(saved.read_text())
    assert again["shipped_inference"] == shipped_terms("e3") and again["dockscore_shipped"] == shipped_before
    assert again["screening"]["dockscore_shipped"] and _contacts_key(12.0) in again


def test_a_shared_fold_counts_as_done_only_when_complete(tmp_path):
    """With --cv-folds, a process reads another's fold only once it is trained, contact-fitted and
    screened; a file being written or half done is left to the last run."""
    from dockscore.training.cv import _fold_complete

    saved = tmp_path / "predictions.json"
    assert not _fold_complete(saved, 12.0, True)
    saved.write_text('{"dockscore": [')  # being written
    assert not _fold_complete(saved, 12.0, True)
    saved.write_text(json.dumps({"dockscore": []}))
    assert _fold_complete(saved, None, False) and not _fold_complete(saved, 12.0, False) and not _fold_complete(saved, None, True)
    saved.write_text(json.dumps({"dockscore": [], "dockscore_contacts_12": [], "screening": {}, "screening_placed": {}}))
    assert _fold_complete(saved, 12.0, True)
