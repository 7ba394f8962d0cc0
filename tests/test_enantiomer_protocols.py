"""The fast comparison (coarse prior steps, then model steps), the symmetric start protocol and
the batch mode that runs a library through rank's workers and store."""

from __future__ import annotations

import csv
import math
import sqlite3

import numpy as np
import pytest
import torch
from rdkit import Chem
from typer.testing import CliRunner

from dockscore.cli import app
from dockscore.enantiomers import _symmetric_starts, compare_stereoisomers
from dockscore.io.ligands import records_from_mols
from dockscore.model import CLASH_ONSET
from dockscore.optimize import PocketPrior, optimize_poses, pose_from_parameters, poses_from_parameters, rotatable_torsions
from dockscore.stereo import mirror_mol, perceive, principal_planes
from dockscore.optimize import perturb_pose

from .conftest import LIGAND_1S3V, PROTEIN_1S3V, jittered

runner = CliRunner()


def _bond_lengths(pos: torch.Tensor, heavy: Chem.Mol) -> np.ndarray:
    return np.array([float((pos[b.GetBeginAtomIdx()] - pos[b.GetEndAtomIdx()]).norm()) for b in heavy.GetBonds()])


def test_batched_kinematics_equal_one_start_at_a_time(scorers, crystal_1s3v):
    ligand = scorers["e3"].prepare(crystal_1s3v)
    torsions = rotatable_torsions(ligand.heavy)
    assert torsions
    gen = torch.Generator().manual_seed(3)
    starts = torch.stack([ligand.pos.double(), ligand.pos.double() + 1.0])
    t, w = torch.randn(2, 3, generator=gen, dtype=torch.float64), torch.randn(2, 3, generator=gen, dtype=torch.float64)
    theta = torch.randn(2, len(torsions), generator=gen, dtype=torch.float64)
    batched = poses_from_parameters(starts, torsions, t, w, theta)
    for k in range(2):
        torch.testing.assert_close(batched[k], pose_from_parameters(starts[k], torsions, t[k], w[k], theta[k]))
        np.testing.assert_allclose(_bond_lengths(batched[k], ligand.heavy), _bond_lengths(starts[k], ligand.heavy), atol=1e-9)


def test_the_coarse_objective_is_the_models_prior_on_a_prior_model(scorers, crystal_1s3v):
    """PocketPrior (dense pairs, no graph) = the shipped E(3) model's prior + hard clash columns, before calibration."""
    scorer = scorers["e3"]
    ligand = scorer.prepare(crystal_1s3v)
    poses = [ligand, perturb_pose(ligand, torch.Generator().manual_seed(0), 0.3, 0.7)[0]]
    objective = PocketPrior(scorer, ligand, torch.stack([p.pos for p in poses]))
    model = scorer.model.members[0] if hasattr(scorer.model, "members") else scorer.model
    assert model.config.vina_prior == 1.0
    from dockscore.model import prior_hard_wall

    with torch.no_grad(), prior_hard_wall(scorer.model):
        for pose in poses:
            graph = scorer.graph(pose)
            _, clash, prior = model.head.pair_terms(graph.pos, graph.radius, graph.pair_index, graph.xs)
            expected = float(clash.sum() + prior.sum())
            assert float(objective(pose.pos[None].double())[0]) == pytest.approx(expected, abs=2e-3)


def test_the_coarse_objectives_written_out_gradient_is_autograds(scorers, crystal_1s3v):
    """PocketPrior's gradient comes from its own derivative in d, not from autograd: it must equal
    autograd through the same energy, on poses that reach every branch (overlap, clash, h-bond,
    hydrophobic ramps, the cutoff)."""
    scorer = scorers["e3"]
    ligand = scorer.prepare(crystal_1s3v)
    gen = torch.Generator().manual_seed(3)
    poses = torch.stack([ligand.pos] + [perturb_pose(ligand, gen, 1.0, 2.5)[0].pos for _ in range(5)]).double()
    objective = PocketPrior(scorer, ligand, poses)
    x = poses.clone().requires_grad_(True)
    objective(x).sum().backward()
    reference = x.detach().float().clone().requires_grad_(True)
    d = (reference[:, :, None] - objective.pos[None, None]).norm(dim=-1)
    energy, _ = objective.energy_terms(d, with_slope=False)
    energy.sum().backward()
    surface = d.detach() - objective.radius_sum
    assert bool((surface < -CLASH_ONSET).any()) and bool(((surface > -0.7) & (surface < 0)).any())  # clash and h-bond branches seen
    torch.testing.assert_close(x.grad.float(), reference.grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(objective(poses), energy.detach().sum((1, 2)).double())


@pytest.mark.parametrize("symmetry", ["e3", "se3"])
def test_coarse_to_fine_is_never_worse_than_the_start_and_keeps_chemistry(scorers, crystal_1s3v, symmetry):
    scorer = scorers[symmetry]
    ligand = scorer.prepare(crystal_1s3v)
    gen = torch.Generator().manual_seed(1)
    starts = [perturb_pose(ligand, gen, 0.5, 1.5)[0] for _ in range(3)]
    results = optimize_poses(scorer, starts, steps=4, coarse_steps=20, patience=2)
    for start, result in zip(starts, results):
        assert result.score >= result.start_score
        np.testing.assert_allclose(_bond_lengths(result.pos, ligand.heavy), _bond_lengths(start.pos, ligand.heavy), atol=2e-3)
    assert any(r.score > r.start_score + 0.05 for r in results)  # the search moved somewhere better
    assert all(p.requires_grad for p in scorer.model.parameters())  # the optimiser's freeze is undone


def _start_sets(scorer, mol):
    base = scorer.prepare(mol)
    forms = _symmetric_starts(scorer, mol, base, 6, torch.Generator().manual_seed(0))
    return {name: torch.stack([s.pos for s in ss]) for name, _, ss in forms}


def test_symmetric_starts_are_inversion_images_and_do_not_depend_on_the_hand_given(scorers, crystal_1s3v):
    scorer = scorers["e3"]
    center, axes = principal_planes(crystal_1s3v.GetConformer().GetPositions())
    given = _start_sets(scorer, crystal_1s3v)
    c = torch.tensor(center, dtype=torch.float32)
    torch.testing.assert_close(given["enantiomer"], 2 * c - given["input"])
    # hand the enantiomer in instead: each molecule's first four starts (the unperturbed ones) are the same placements
    other = _start_sets(scorer, mirror_mol(crystal_1s3v, axes[2], center))
    for mine, theirs in (("input", "enantiomer"), ("enantiomer", "input")):
        a, b = given[mine][:4], other[theirs][:4]
        distance = torch.cdist(a.flatten(1), b.flatten(1)) / math.sqrt(a.shape[1])  # per-start RMSD
        assert float(distance.min(dim=1).values.max()) < 1e-3


def test_both_protocols_compare_the_same_two_forms(scorers, crystal_1s3v):
    record = next(records_from_mols([crystal_1s3v]))
    anchored = compare_stereoisomers(scorers["e3"], record, starts=2, steps=3, coarse_steps=10)
    symmetric = compare_stereoisomers(scorers["e3"], record, starts=2, steps=3, coarse_steps=10, protocol="symmetric")
    for c in (anchored, symmetric):
        assert [f.form for f in c.forms] == ["input", "enantiomer"]
        assert (c.input.cip, c.enantiomer.cip) == ("1:S;5:R", "1:R;5:S")  # the optimised poses keep their hands
        assert perceive(c.enantiomer.mol).cip() == "1:R;5:S"
    with pytest.raises(ValueError, match="protocol"):
        compare_stereoisomers(scorers["e3"], record, protocol="lucky")


@pytest.fixture(scope="module")
def library(tmp_path_factory, crystal_1s3v):
    """Five jittered copies of the chiral 1s3v ligand and one record far from the pocket."""
    path = tmp_path_factory.mktemp("enantiomer_library") / "series.sdf"
    writer = Chem.SDWriter(str(path))
    for k, mol in enumerate(jittered(crystal_1s3v, 5, 0.3, seed=2)):
        mol.SetProp("_Name", f"copy{k}")
        writer.write(mol)
    far = Chem.Mol(crystal_1s3v)
    conf = far.GetConformer()
    for i, p in enumerate(conf.GetPositions() + 40.0):
        conf.SetAtomPosition(i, p.tolist())
    far.SetProp("_Name", "far")
    writer.write(far)
    writer.close()
    return path


FAST = ["--starts", "2", "--steps", "2", "--coarse-steps", "5"]


def _rows(path):
    return list(csv.DictReader(path.open()))


def test_a_library_runs_through_workers_and_a_store_and_resumes(library, tmp_path):
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    store = tmp_path / "run.sqlite"
    result = runner.invoke(app, ["enantiomers", str(PROTEIN_1S3V), str(library), "-o", str(one), *FAST])
    assert result.exit_code == 0, result.output
    assert "record 5 (far)" in result.output and "Traceback" not in result.output  # one line, and the batch went on
    result = runner.invoke(app, ["enantiomers", str(PROTEIN_1S3V), str(library), "-o", str(two), "--poses", str(tmp_path / "forms.sdf"),
                                 "--jobs", "2", "--store", str(store), *FAST])
    assert result.exit_code == 0, result.output
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(_rows(one)) == strip(_rows(two))  # workers change nothing
    assert [r["name"] for r in _rows(one)] == [f"copy{k}" for k in range(5)] + ["far"]
    assert [r["kind"] for r in _rows(one)][-1] == "error"
    forms = [m.GetProp("dockscore_form") for m in Chem.SDMolSupplier(str(tmp_path / "forms.sdf"))]
    assert forms == ["input", "enantiomer"] * 5

    # as if killed after three records: --resume compares only the rest
    with sqlite3.connect(store) as db:
        db.execute("DELETE FROM comparisons WHERE record_index >= 3")
        db.execute("UPDATE files SET done = 0")
    again = runner.invoke(app, ["enantiomers", str(PROTEIN_1S3V), str(library), "-o", str(tmp_path / "three.csv"),
                                "--store", str(store), "--resume", *FAST])
    assert again.exit_code == 0, again.output
    assert "3 already in the store" in again.output
    assert strip(_rows(tmp_path / "three.csv")) == strip(_rows(one))


def test_a_store_refuses_other_settings_and_an_existing_store_needs_resume(library, tmp_path):
    store = tmp_path / "run.sqlite"
    args = ["enantiomers", str(PROTEIN_1S3V), str(library), "-o", str(tmp_path / "a.csv"), "--store", str(store), *FAST]
    assert runner.invoke(app, args).exit_code == 0
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "--resume" in again.output
    other = runner.invoke(app, [*args, "--resume", "--protocol", "symmetric"])
    assert other.exit_code == 1 and "other settings" in other.output and "protocol" in other.output
    ranked = runner.invoke(app, ["rank", str(PROTEIN_1S3V), str(library), "-o", str(tmp_path / "r.csv"), "--store", str(store), "--resume"])
    assert ranked.exit_code == 1 and "other settings" in ranked.output and "Traceback" not in ranked.output


def test_o_takes_the_summary_csv_or_the_poses_sdf(library, tmp_path):
    sdf = tmp_path / "forms.sdf"
    result = runner.invoke(app, ["enantiomers", str(PROTEIN_1S3V), str(LIGAND_1S3V), "-o", str(sdf), *FAST])
    assert result.exit_code == 0 and len(list(Chem.SDMolSupplier(str(sdf)))) == 2
    bad = runner.invoke(app, ["enantiomers", str(PROTEIN_1S3V), str(LIGAND_1S3V), "-o", str(tmp_path / "x.txt")])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
