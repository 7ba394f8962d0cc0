"""The element-contact affinity term: off means off, it sums per atom, it is E(3)-invariant and
smooth, it leaves the pose score alone, survives a checkpoint, and its fit finds a planted signal."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from dockscore.training.contacts import choose_penalty, contact_features, fit_element_contacts, ridge
from dockscore.graph import PreparedLigand, PreparedProtein, build_complex_graph, element_environment
from dockscore.io.ligands import iter_ligands
from dockscore.io.protein import read_protein
from dockscore.model import TERM_NAMES, DockScoreEnsemble, DockScoreModel, ModelConfig

from .conftest import LIGAND_1S3V, PROTEIN_1S3V

CUTOFF = 12.0


@pytest.fixture(scope="module")
def complex_1s3v():
    protein = PreparedProtein.from_protein(read_protein(PROTEIN_1S3V))
    ligand = PreparedLigand.from_mol(next(iter_ligands(LIGAND_1S3V)).mol)
    return protein, ligand


def _model(seed: int = 0, weight: torch.Tensor | None = None, symmetry: str = "e3") -> DockScoreModel:
    torch.manual_seed(seed)
    model = DockScoreModel(ModelConfig(symmetry=symmetry, vina_prior=1.0, pose_prior_weight=2.0)).eval()
    if weight is not None:
        model.set_element_contacts(CUTOFF, weight)
    return model


def _planted(seed: int = 1) -> torch.Tensor:
    return torch.randn(10, 4, generator=torch.Generator().manual_seed(seed)) * 0.01


def _run(model, protein, ligand, pos=None, ligand_pos=None):
    p = protein if pos is None else PreparedProtein(protein.protein, protein.x, pos, protein.radius, protein.bond_index)
    lig = ligand if ligand_pos is None else ligand.with_positions(ligand_pos)
    batch = Batch.from_data_list([build_complex_graph(p, lig, model.config.graph_settings())])
    with torch.no_grad():
        s, v = model.encode_protein(p.x, p.pos, p.bond_index)
        return model(batch, s, v)


def test_zero_weights_change_nothing_and_the_pose_score_never_sees_the_term(complex_1s3v):
    protein, ligand = complex_1s3v
    plain = _run(_model(), protein, ligand)
    zero = _run(_model(weight=torch.zeros(10, 4)), protein, ligand)
    planted = _run(_model(weight=_planted()), protein, ligand)
    column = TERM_NAMES.index("element_contacts")
    assert float(plain["terms"][0, column]) == 0.0 and float(zero["terms"][0, column]) == 0.0
    for key in ("score", "pose_score", "atom_contrib"):
        assert torch.allclose(plain[key], zero[key], atol=1e-6)
    term = float(planted["terms"][0, column])
    assert abs(term) > 1e-3
    assert float(planted["score"] - plain["score"]) == pytest.approx(term, abs=1e-5)
    assert torch.allclose(planted["pose_score"], plain["pose_score"], atol=1e-5)


def test_atom_contributions_and_terms_still_sum_to_the_score_and_the_cached_path_agrees(complex_1s3v):
    from dockscore.scoring import Scorer

    protein, ligand = complex_1s3v
    model = _model(weight=_planted())
    out = _run(model, protein, ligand)
    assert float(out["atom_contrib"].sum() + model.offset) == pytest.approx(float(out["score"]), abs=1e-4)
    assert float(out["terms"].sum() + model.offset) == pytest.approx(float(out["score"]), abs=1e-4)
    scorer = Scorer(PROTEIN_1S3V, model=model)
    cached = scorer.forward([scorer.graph(ligand)])
    for key in ("score", "pose_score"):
        assert torch.allclose(cached[key], out[key], atol=1e-4)


@pytest.mark.parametrize("symmetry", ["e3", "se3"])
def test_the_term_is_invariant_to_rotation_translation_and_reflection(complex_1s3v, symmetry):
    protein, ligand = complex_1s3v
    model = _model(weight=_planted(), symmetry=symmetry)
    column = TERM_NAMES.index("element_contacts")
    base = float(_run(model, protein, ligand)["terms"][0, column])
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(3)))
    for transform in (q * torch.sign(torch.det(q)), -q * torch.sign(torch.det(q))):  # a rotation, then a reflection
        shift = torch.tensor([4.0, -7.0, 1.5])
        moved = _run(model, protein, ligand, protein.pos @ transform.T + shift, ligand.pos @ transform.T + shift)
        assert float(moved["terms"][0, column]) == pytest.approx(base, rel=1e-4, abs=1e-5)


def test_counts_are_smooth_at_the_cutoff_and_count_elements():
    ligand_pos = torch.zeros((1, 3))
    protein_x = torch.zeros((2, 64))
    from dockscore.features import OFF_ELEM

    protein_x[0, OFF_ELEM + 0] = 1.0  # carbon
    protein_x[1, OFF_ELEM + 2] = 1.0  # oxygen
    for d, expected in ((0.0, 1.0), (CUTOFF / 2, 0.5), (CUTOFF - 1e-3, 0.0), (CUTOFF + 1.0, 0.0)):
        env = element_environment(ligand_pos, torch.tensor([[d, 1.0]]), protein_x, CUTOFF)
        assert float(env[0, 0]) == pytest.approx(expected, abs=1e-6)
        assert float(env[0, 2]) == pytest.approx(0.5 * (math.cos(math.pi / CUTOFF) + 1.0), abs=1e-6)
        assert float(env[0, 1]) == 0.0 and float(env[0, 3]) == 0.0


def test_the_weights_survive_a_checkpoint_and_an_ensemble_carries_the_term_once(tmp_path, complex_1s3v):
    from dockscore.checkpoint import load_model, save_model

    protein, ligand = complex_1s3v
    model = _model(weight=_planted())
    save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.config.element_contact_cutoff == CUTOFF
    assert torch.allclose(_run(loaded, protein, ligand)["score"], _run(model, protein, ligand)["score"], atol=1e-5)
    members = [_model(seed=k) for k in (0, 1)]
    plain = _run(DockScoreEnsemble(members), protein, ligand)
    ensemble = DockScoreEnsemble(members)
    ensemble.set_element_contacts(CUTOFF, _planted())
    with_term = _run(ensemble, protein, ligand)
    column = TERM_NAMES.index("element_contacts")
    alone = float(_run(_model(weight=_planted()), protein, ligand)["terms"][0, column])
    assert float(with_term["score"] - plain["score"]) == pytest.approx(alone, abs=1e-5)


def test_ridge_returns_raw_unit_weights_and_ignores_constant_columns():
    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(5.0, 2.0, (400, 3)), np.full(400, 7.0)]
    w_true = np.array([0.3, -0.2, 0.0, 0.0])
    y = X @ w_true + 1.5 + rng.normal(0, 0.01, 400)
    w, b = ridge(X, y, penalty=1e-6)
    assert w == pytest.approx(w_true, abs=1e-3) and b == pytest.approx(1.5, abs=0.02)
    assert w[3] == 0.0
    shrunk, _ = ridge(X, y, penalty=1e6)
    assert np.abs(shrunk).sum() < 0.01 * np.abs(w).sum()


def test_the_penalty_is_chosen_on_grouped_inner_folds():
    rng = np.random.default_rng(1)
    groups = [f"g{k % 40}" for k in range(400)]
    X = rng.normal(0, 1, (400, 6))
    base = rng.normal(6, 1, 400)
    signal = base + X @ np.array([0.8, -0.5, 0.3, 0, 0, 0])
    penalty, scores, alone = choose_penalty(X, base, signal + rng.normal(0, 0.1, 400), groups)
    assert penalty <= 300 and scores[f"{penalty:g}"] > alone + 0.2
    noise_penalty, _, _ = choose_penalty(X, base, base + rng.normal(0, 1, 400), groups)
    assert noise_penalty >= 1000  # no signal: the strongest shrinkage wins or nearly


def test_fit_finds_a_planted_contact_signal(complex_1s3v):
    """Poses of one ligand jittered in the 1s3v pocket, pK = the model's score + a planted term:
    the fitted term recovers most of it, and the pose score is untouched."""
    from dockscore.training.data import Complex

    protein, ligand = complex_1s3v
    gen = torch.Generator().manual_seed(0)
    model = _model()
    planted = _model(weight=_planted(7) * 5)
    complexes = []
    for k in range(48):
        pose = ligand.with_positions(ligand.pos + torch.randn(3, generator=gen) * 1.5)
        truth = float(_run(planted, protein, pose)["score"])
        complexes.append(Complex(f"c{k}", f"g{k % 12}", truth, protein, pose))
    before = [float(_run(model, protein, c.ligand)["pose_score"]) for c in complexes]
    fit = fit_element_contacts(model, complexes, [c.uniprot for c in complexes], CUTOFF, log=lambda *a: None)
    after = np.array([float(_run(model, protein, c.ligand)["score"]) for c in complexes])
    truth = np.array([c.pK for c in complexes])
    assert np.corrcoef(after, truth)[0, 1] > 0.9
    assert fit.n == 48 and len(fit.weight) == 10
    pose_after = [float(_run(model, protein, c.ligand)["pose_score"]) for c in complexes]
    shift = np.array(pose_after) - np.array(before)  # the fitted intercept only: pose order within a ligand is kept
    assert np.ptp(shift) < 1e-4
    assert contact_features(model, complexes[:2]).shape == (2, 40)
