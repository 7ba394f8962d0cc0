"""Scores, outputs and the differentiable head."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch
from rdkit import Chem
from torch_geometric.data import Batch
from typer.testing import CliRunner

from dockscore import Scorer, iter_ligands
from dockscore.cli import app
from dockscore.model import TERM_NAMES

from .conftest import LIGAND_1S3V, LIGANDS_1IA1, PROTEIN_1IA1, PROTEIN_1S3V, jittered

runner = CliRunner()


@pytest.mark.parametrize("symmetry", ["e3", "se3"])
def test_score_to_sdf_keeps_records_and_properties(tmp_path, symmetry):
    out = tmp_path / "scored.sdf"
    result = runner.invoke(app, ["score", str(PROTEIN_1IA1), str(LIGANDS_1IA1), "-o", str(out), "--symmetry", symmetry])
    assert result.exit_code == 0, result.output
    mols = list(Chem.SDMolSupplier(str(out)))
    originals = list(Chem.SDMolSupplier(str(LIGANDS_1IA1)))
    assert len(mols) == len(originals) == 2
    for mol, original in zip(mols, originals):
        assert mol.GetProp("dockscore_symmetry") == symmetry
        assert mol.GetProp("dockscore_model") == f"dockscore-{symmetry}"
        assert mol.GetProp("dockscore_score_unit") == "pK"
        assert 0.0 < float(mol.GetProp("dockscore_score")) < 15.0  # a plausible pK
        assert math.isfinite(float(mol.GetProp("dockscore_pose_score")))
        for key in original.GetPropNames():
            assert mol.GetProp(key) == original.GetProp(key)
        assert mol.GetNumAtoms() == original.GetNumAtoms()
    assert "pK" in result.output and "scored 2, failed 0" in result.output


def test_a_ligand_still_in_the_protein_file_is_reported_not_scored(tmp_path):
    """A HETATM copy of the ligand left in the receptor file: the pose overlaps it atom for atom."""
    ligand = Chem.MolFromMolFile(str(LIGANDS_1IA1))
    lines = []
    for k, (atom, (x, y, z)) in enumerate(zip(ligand.GetAtoms(), ligand.GetConformer().GetPositions())):
        element = atom.GetSymbol()
        lines.append(f"HETATM{9000 + k:5d} {element + str(k):<4s} TQ3 A 900    {x:8.3f}{y:8.3f}{z:8.3f}  1.00  0.00          {element:>2s}\n")
    hetatm = "".join(lines)
    protein = tmp_path / "with_ligand.pdb"
    text = PROTEIN_1IA1.read_text()
    at = text.index("CONECT")
    protein.write_text(text[:at] + hetatm + text[at:])
    result = runner.invoke(app, ["score", str(protein), str(LIGANDS_1IA1), "-o", str(tmp_path / "out.csv")])
    assert result.exit_code == 0 and "still in the protein file" in result.output


def test_score_to_csv_has_the_documented_columns(tmp_path):
    out = tmp_path / "scored.csv"
    result = runner.invoke(app, ["score", str(PROTEIN_1S3V), str(LIGAND_1S3V), "-o", str(out), "-s", "se3"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert {"name", "index", "score", "pose_score", "status", "score_unit"} <= set(rows[0])
    assert rows[0]["name"] == "TQD" and rows[0]["status"] == "ok" and rows[0]["score_unit"] == "pK"
    terms = sum(float(rows[0][f"term_{t}"]) for t in TERM_NAMES)
    assert math.isfinite(terms)


def test_cli_and_library_agree_and_are_deterministic(tmp_path, scorers):
    mol = next(iter_ligands(LIGAND_1S3V)).mol
    a = scorers["e3"].score_mols([mol])[0].score
    b = Scorer(PROTEIN_1S3V, symmetry="e3").score_mols([mol])[0].score
    assert a == b
    out = tmp_path / "s.csv"
    runner.invoke(app, ["score", str(PROTEIN_1S3V), str(LIGAND_1S3V), "-o", str(out)])
    assert float(next(csv.DictReader(out.open()))["score"]) == pytest.approx(a, abs=1e-4)


@pytest.mark.parametrize("symmetry", ["e3", "se3"])
def test_atom_contributions_sum_to_the_score(scorers, crystal_1s3v, symmetry):
    scorer = scorers[symmetry]
    result = scorer.score_mols([crystal_1s3v])[0]
    assert len(result.atom_contrib) == crystal_1s3v.GetNumHeavyAtoms()
    offset = scorer.model.offset
    assert sum(result.atom_contrib) + offset == pytest.approx(result.score, abs=1e-3)
    assert sum(result.terms.values()) + offset == pytest.approx(result.score, abs=1e-3)


@pytest.mark.parametrize("symmetry", ["e3", "se3"])
def test_gradient_with_respect_to_ligand_coordinates(scorers, crystal_1s3v, symmetry):
    """Finite, and matching a finite difference: what pose optimisation will need."""
    scorer = scorers[symmetry]
    ligand = scorer.prepare(crystal_1s3v)
    pos = ligand.pos.clone().requires_grad_(True)
    graph = scorer.graph(ligand.with_positions(pos.detach()))
    n = pos.shape[0]
    graph.pos = torch.cat([pos, graph.pos[n:]])
    score = scorer.forward([graph])["score"][0]
    (grad,) = torch.autograd.grad(score, pos)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    step = 1e-2
    moved = ligand.pos.clone()
    moved[0, 0] += step
    with torch.no_grad():
        up = scorer.forward([scorer.graph(ligand.with_positions(moved))])["score"][0]
    assert float(up - score) / step == pytest.approx(float(grad[0, 0]), rel=0.1, abs=0.05)


def test_interpenetrating_pose_scores_worse_than_crystal(scorers, crystal_1s3v):
    for scorer in scorers.values():
        ligand = scorer.prepare(crystal_1s3v)
        protein_center = scorer.prepared.pos[torch.cdist(ligand.pos, scorer.prepared.pos).min(0).values < 4].mean(0)
        shifted = ligand.with_positions(ligand.pos + (protein_center - ligand.pos.mean(0)))
        assert float(torch.cdist(shifted.pos, scorer.prepared.pos).min()) < 1.2  # atoms inside atoms
        with torch.no_grad():
            native, clash = scorer.forward([scorer.graph(ligand), scorer.graph(shifted)])["score"].tolist()
        assert native > clash + 1.0


def test_scoring_streams_records_lazily(scorers, crystal_1s3v):
    """Results for the first batch arrive before later records are even read: memory does not
    grow with the number of poses, and a failure late in a file loses nothing before it."""
    from dockscore.io.ligands import records_from_mols

    scorer = scorers["e3"]
    consumed = []

    def endless():
        for record in records_from_mols([crystal_1s3v] * 10_000):
            consumed.append(record.index)
            yield record

    stream = scorer.score_records(endless())
    first = [next(stream) for _ in range(3)]
    assert all(r.status == "ok" for r in first)
    assert len(consumed) <= scorer.batch_size + 1


def test_vina_typing_of_ligand_atoms():
    """X-Score types as Vina assigns them: C without N/O neighbours and halogens are hydrophobic."""
    from dockscore.features import XS_ACCEPTOR, XS_DONOR, XS_HYDROPHOBIC
    from dockscore.graph import PreparedLigand
    from rdkit.Chem import AllChem

    mol = Chem.AddHs(Chem.MolFromSmiles("Clc1ccc(cc1)C(=O)NCCO"))
    AllChem.EmbedMolecule(mol, randomSeed=0)
    ligand = PreparedLigand.from_mol(mol)
    xs = ligand.xs.bool()
    symbols = [a.GetSymbol() for a in ligand.heavy.GetAtoms()]
    for atom in ligand.heavy.GetAtoms():
        i, neighbours = atom.GetIdx(), {n.GetSymbol() for n in atom.GetNeighbors()}
        if atom.GetSymbol() == "C":
            assert bool(xs[i, XS_HYDROPHOBIC]) == (not neighbours & {"N", "O"}), i
        if atom.GetSymbol() == "Cl":
            assert xs[i, XS_HYDROPHOBIC]
    amide_n = next(a.GetIdx() for a in ligand.heavy.GetAtoms() if a.GetSymbol() == "N")
    hydroxyl = next(a.GetIdx() for a in ligand.heavy.GetAtoms() if a.GetSymbol() == "O" and a.GetTotalNumHs() == 1)
    assert xs[amide_n, XS_DONOR] and xs[hydroxyl, XS_DONOR] and xs[hydroxyl, XS_ACCEPTOR]
    assert symbols.count("O") == int(xs[:, XS_ACCEPTOR].sum())


def test_vina_prior_is_one_term_of_the_score(crystal_1s3v):
    """With the prior on, its column is Vina-shaped (favourable for a crystal pose) and part of the sum; off, it is zero."""
    from dockscore.model import DockScoreModel, ModelConfig

    results = {}
    for weight in (0.0, 1.0):
        torch.manual_seed(0)  # same learned weights; only the prior differs
        model = DockScoreModel(ModelConfig(hidden=16, vectors=4, layers=1, protein_layers=1, vina_prior=weight)).eval()
        results[weight] = Scorer(PROTEIN_1S3V, model=model, stereo=False).score_mols([crystal_1s3v])[0]
    assert results[0.0].terms["vina_prior"] == 0.0
    prior = results[1.0].terms["vina_prior"]
    assert 3.0 < prior < 12.0  # a drug-sized crystal ligand: Vina's intermolecular energy of -4 to -16 kcal/mol
    assert results[1.0].score - results[0.0].score == pytest.approx(prior, abs=1e-3)


@pytest.mark.parametrize("weight", [1.0, 2.0, 3.5])
def test_pose_score_weights_up_the_prior_and_leaves_the_score(crystal_1s3v, weight):
    """pose_score = score + (w - 1) * the prior term for an ensemble; the affinity score does not move with w."""
    from dockscore.model import DockScoreEnsemble, DockScoreModel, ModelConfig

    torch.manual_seed(0)
    config = ModelConfig(hidden=16, vectors=4, layers=1, protein_layers=1, vina_prior=1.0)
    model = DockScoreEnsemble([DockScoreModel(config).eval() for _ in range(2)])
    before = Scorer(PROTEIN_1S3V, model=model, stereo=False).score_mols([crystal_1s3v])[0]
    model.set_pose_prior_weight(weight)
    after = Scorer(PROTEIN_1S3V, model=model, stereo=False).score_mols([crystal_1s3v])[0]
    assert model.config.pose_prior_weight == weight and all(m.config.pose_prior_weight == weight for m in model.members)
    assert after.score == before.score and before.pose_score == pytest.approx(before.score, abs=1e-5)
    assert after.terms["vina_prior"] > 1.0  # a real prior term, so the check below is not 0 == 0
    assert after.pose_score - after.score == pytest.approx((weight - 1.0) * after.terms["vina_prior"], abs=1e-3)


def test_pose_prior_weight_survives_a_checkpoint_and_old_checkpoints_load_unweighted(tmp_path):
    import json

    from safetensors import safe_open

    from dockscore.checkpoint import load_model, save_model
    from dockscore.model import DockScoreModel, ModelConfig

    model = DockScoreModel(ModelConfig(hidden=16, vectors=4, layers=1, protein_layers=1, vina_prior=1.0))
    model.set_pose_prior_weight(2.0)
    save_model(model, tmp_path / "m.safetensors")
    assert load_model(tmp_path / "m.safetensors").config.pose_prior_weight == 2.0
    for name in ("dockscore-e3", "dockscore-se3"):  # checkpoints written before the option: stored config without it
        with safe_open(str(Path(__file__).parent.parent / "dockscore" / "models" / f"{name}.safetensors"), framework="pt") as handle:
            stored = json.loads(handle.metadata()["config"])
        assert load_model(symmetry=name.split("-")[1]).config.pose_prior_weight == stored.get("pose_prior_weight", 1.0)


@pytest.mark.parametrize("cap", [0.5, 0.7, 1.2])
def test_prior_soft_core_caps_only_deep_overlaps(cap):
    """The capped prior equals Vina's wherever the overlap is shallower than the cap, never penalises
    more than Vina, and stops growing beyond the cap (flat, so a modelled clash costs a bounded amount)."""
    from dockscore.model import interaction_terms, vina_prior_energy

    d_s = torch.linspace(-2.5, 4.0, 651)  # surface distance, A (negative = overlap)
    raw = interaction_terms(d_s)
    g = torch.Generator().manual_seed(0)
    xs_i, xs_j = (torch.randint(0, 2, (d_s.numel(), 3), generator=g).float() for _ in range(2))
    vina = vina_prior_energy(raw, xs_i, xs_j)
    soft = vina_prior_energy(raw, xs_i, xs_j, overlap_cap=cap)
    shallow = d_s >= -cap
    assert torch.allclose(soft[shallow], vina[shallow], atol=1e-6)
    assert bool((soft >= vina - 1e-6).all())
    deep = d_s <= -cap - 0.7  # beyond the cap and the H-bond ramp: only the capped repulsion is left changing
    flat = soft[deep] - vina_prior_energy(raw[deep] * torch.tensor([1, 1, 0, 1, 1, 1.0]), xs_i[deep], xs_j[deep])
    assert torch.allclose(flat, flat[0].expand_as(flat), atol=1e-6)
    assert float(flat[0]) == pytest.approx(-0.840245 * cap**2 / 1.364, rel=1e-4)


def test_shipped_default_model_carries_the_prior_soft_core():
    """The cap is part of the checkpoint (config and every member's head), not a scorer-side setting."""
    from dockscore.checkpoint import load_model
    from dockscore.model import PRIOR_OVERLAP_CAP

    model = load_model(symmetry="e3")
    assert model.config.vina_prior > 0 and model.config.prior_overlap_cap == PRIOR_OVERLAP_CAP
    assert all(m.head.prior_overlap_cap == PRIOR_OVERLAP_CAP for m in getattr(model, "members", [model]))


def test_poses_of_one_compound_share_chemistry_without_changing_a_score(tmp_path):
    """The next pose of a compound reuses features and stereo perception: same scores and
    reports as preparing and perceiving every pose from scratch, also when a pose inverts a centre."""
    import numpy as np

    from dockscore import Scorer, iter_ligands
    from dockscore.graph import PreparedLigand
    from dockscore.stereo import mirror_mol, perceive

    crystal = next(iter_ligands(LIGAND_1S3V)).mol
    poses = jittered(crystal, 6, 0.05, seed=0)
    centre = crystal.GetConformer().GetPositions().mean(0)
    poses.insert(3, mirror_mol(crystal, np.array([1.0, 0, 0]), centre))  # the other hand, mid-run
    scorer = Scorer(PROTEIN_1S3V, batch_size=4)
    shared = scorer.score_mols(poses)
    for mol, result in zip(poses, shared):
        fresh = scorer.model(Batch.from_data_list([scorer.graph(PreparedLigand.from_mol(mol))]), scorer.protein_s, scorer.protein_v)
        assert result.score == pytest.approx(float(fresh["score"][0]), abs=1e-5)
        assert result.stereo == perceive(mol)
    assert shared[3].stereo.cip() != shared[0].stereo.cip()


@pytest.mark.parametrize("symmetry", ["e3", "se3"])
def test_cached_forward_matches_plain_forward_and_its_ligand_gradients(scorers, crystal_1s3v, symmetry):
    """The per-protein cache (protein message MLPs and head projections computed once per protein,
    gathered by pocket_atom per pose) gives the plain forward's score, pose score, terms and atom
    contributions, and the same gradients w.r.t. ligand coordinates (what pose optimisation uses)."""
    from dockscore.optimize import perturb_pose

    scorer = scorers[symmetry]
    ligand = scorer.prepare(crystal_1s3v)
    gen = torch.Generator().manual_seed(0)
    poses = [ligand] + [perturb_pose(ligand, gen, max_angle=0.5, shift=1.0)[0] for _ in range(3)]
    positions = [p.pos.clone().requires_grad_(True) for p in poses]
    graphs = []
    for pose, x in zip(poses, positions):
        graph = scorer.graph(pose)
        graph.pos = torch.cat([x, graph.pos[x.shape[0]:]])
        graphs.append(graph)
    cached = scorer.forward(graphs)
    plain = scorer.model(Batch.from_data_list(graphs), scorer.protein_s, scorer.protein_v)
    for key in ("score", "pose_score", "terms", "atom_contrib"):
        torch.testing.assert_close(cached[key], plain[key], atol=1e-5, rtol=0)
    grad_cached = torch.autograd.grad(cached["score"].sum(), positions)
    grad_plain = torch.autograd.grad(plain["score"].sum(), positions)
    for a, b in zip(grad_cached, grad_plain):
        assert a.abs().sum() > 0
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_protein_cache_follows_parameter_changes_and_members_that_differ(crystal_1s3v):
    """A scorer's cache is rebuilt when parameters change in place (a training step, a load), and an
    ensemble whose members no longer share fixed settings still matches the plain forward."""
    from dockscore.model import DockScoreEnsemble, DockScoreModel, ModelConfig

    torch.manual_seed(0)
    config = ModelConfig(symmetry="se3", hidden=16, vectors=4, layers=2, protein_layers=1, vina_prior=1.0)
    model = DockScoreEnsemble([DockScoreModel(config).eval() for _ in range(2)])
    scorer = Scorer(PROTEIN_1S3V, model=model, stereo=False)
    ligand = scorer.prepare(crystal_1s3v)
    moved = ligand.with_positions(ligand.pos + torch.tensor([0.3, -0.2, 0.1]))
    graphs = [scorer.graph(ligand), scorer.graph(moved)]

    def cached_equals_plain() -> torch.Tensor:
        with torch.no_grad():
            cached = scorer.forward(graphs)
            plain = scorer.model(Batch.from_data_list(graphs), scorer.protein_s, scorer.protein_v)
        for key in ("score", "pose_score", "terms", "atom_contrib"):
            torch.testing.assert_close(cached[key], plain[key], atol=1e-5, rtol=0)
        return cached["score"]

    before = cached_equals_plain()
    with torch.no_grad():
        model.members[0].ligand_layers[1].message[2].weight.mul_(1.5)
        model.members[1].head.protein_proj.bias.add_(0.3)
    after = cached_equals_plain()
    assert not torch.allclose(before, after)  # the change reached the cached path
    model.members[1].head.prior_overlap_cap = 0.3  # fixed pair terms now differ between members
    cached_equals_plain()


@pytest.mark.parametrize("symmetry", ["e3", "se3"])
def test_a_pocket_cutoff_keeps_the_models_other_graph_settings(symmetry):
    """`score --symmetry se3 --pocket-cutoff 6` ended in a traceback: the cutoff rebuilt the graph
    settings and dropped the element-contact reach the se3 model needs (issue 27, item 7)."""
    from typer.testing import CliRunner

    from dockscore.cli import app

    result = CliRunner().invoke(app, ["score", str(PROTEIN_1S3V), str(LIGAND_1S3V), "--symmetry", symmetry, "--pocket-cutoff", "6"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "scored 1, failed 0" in result.output
    scorer = Scorer(PROTEIN_1S3V, symmetry=symmetry, pocket_cutoff=6.0)
    assert scorer.settings.pocket_cutoff == 6.0
    assert scorer.settings.element_contact_cutoff == scorer.model.config.element_contact_cutoff


def test_another_ligand_left_in_the_receptor_is_named_not_scored_as_a_cofactor(tmp_path):
    """A receptor still holding another docked ligand near the pose scored without a word
    (issue 27, item 5): here the hetero group sits 0.9 A off the pose, too far to be its copy."""
    ligand = Chem.MolFromMolFile(str(LIGANDS_1IA1))
    lines = []
    for k, (atom, (x, y, z)) in enumerate(zip(ligand.GetAtoms(), ligand.GetConformer().GetPositions() + [0.9, 0.0, 0.0])):
        element = atom.GetSymbol()
        lines.append(f"HETATM{9000 + k:5d} {element + str(k):<4s} LIG A 901    {x:8.3f}{y:8.3f}{z:8.3f}  1.00  0.00          {element:>2s}\n")
    protein = tmp_path / "with_other_ligand.pdb"
    text = PROTEIN_1IA1.read_text()
    at = text.index("CONECT")
    protein.write_text(text[:at] + "".join(lines) + text[at:])
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["score", str(protein), str(LIGANDS_1IA1), "-o", str(out)])
    rows = list(csv.DictReader(out.open()))
    assert rows[0]["status"] == "error" and "hetero group LIG A:901 overlaps this pose" in rows[0]["message"]
    assert rows[1]["status"] == "ok"  # the file's other pose lies elsewhere in the site: judged on its own
    assert "Traceback" not in result.output
    clean = runner.invoke(app, ["score", str(PROTEIN_1IA1), str(LIGANDS_1IA1)])  # its own hetero groups are cofactors: scored
    assert clean.exit_code == 0 and "scored 2, failed 0" in clean.output
