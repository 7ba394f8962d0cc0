"""Physical validity is part of the score's contract (dockscore.overlap): a ligand moved into its
protein never scores better for it, every pose reports its closest contact and clashing pairs,
and a compound whose every pose overlaps the protein cannot top a ranked list."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from rdkit import Chem
from typer.testing import CliRunner

from dockscore import Scorer, iter_ligands
from dockscore.cli import app
from dockscore.definitions import OVERLAP_ALLOWANCE, OVERLAP_ONSET
from dockscore.overlap import PUSH_DIRECTIONS, correction_share, overlap_wall, pair_overlap, pose_contacts, pushed_into_protein
from dockscore.store import PoseRow, ResultStore

from .conftest import LIGAND_1S3V, LIGANDS_1IA1, PROTEIN_1IA1, PROTEIN_1S3V

runner = CliRunner()
COMPLEXES = {"1s3v": (PROTEIN_1S3V, LIGAND_1S3V), "1ia1": (PROTEIN_1IA1, LIGANDS_1IA1)}
STEP = 0.1  # A per rigid move
TOLERANCE = 1e-4  # pK: float rounding of the batched model


def moved(mol: Chem.Mol, shift: np.ndarray) -> Chem.Mol:
    copy = Chem.Mol(mol)
    conf = copy.GetConformer()
    for i, p in enumerate(conf.GetPositions() + shift):
        conf.SetAtomPosition(i, p.tolist())
    return copy


@pytest.fixture(scope="module")
def complexes():
    """Per complex: its crystal ligand and a scorer per symmetry mode (the shipped models)."""
    return {name: (next(iter_ligands(ligand)).mol, {sym: Scorer(protein, symmetry=sym) for sym in ("e3", "se3")})
            for name, (protein, ligand) in COMPLEXES.items()}


# Both shipped models: dockscore-se3 by its overlap wall, dockscore-e3 by its learned correction
# fading to nothing over 1 A of summed overlap (it failed these tests before the fade; issue 26).
SYMMETRIES = ["e3", "se3"]


@pytest.mark.parametrize("symmetry", SYMMETRIES)
@pytest.mark.parametrize("name", sorted(COMPLEXES))
def test_pushing_a_ligand_into_its_protein_never_raises_its_score(complexes, name, symmetry):
    """Along each of the 26 grid directions, rigid steps of 0.1 A up to 2 A: once a pose is not
    physically valid (its heavy-atom pairs overlap the protein by more than OVERLAP_ALLOWANCE in
    all, counting each pair's depth past OVERLAP_ONSET inside van der Waals contact: C-C under
    2.6 A), each further step lowers its score or leaves it."""
    mol, scorers = complexes[name]
    scorer = scorers[symmetry]
    series_checked = 0
    for direction in PUSH_DIRECTIONS:
        poses = [moved(mol, t * np.asarray(direction)) for t in np.arange(0.0, 2.0 + 1e-9, STEP)]
        results = scorer.score_mols(poses)
        assert all(r.status == "ok" for r in results), [r.message for r in results if r.status != "ok"]
        scores, overlap = [r.score for r in results], [r.overlap for r in results]
        first = next((k for k, o in enumerate(overlap) if o > OVERLAP_ALLOWANCE), None)
        if first is None:
            continue
        series_checked += 1
        rises = [(k, scores[k], scores[k + 1]) for k in range(first, len(scores) - 1) if scores[k + 1] > scores[k] + TOLERANCE]
        assert not rises, f"{name} {symmetry}, direction {direction}: score rose past the first invalid pose {rises}"
    assert series_checked >= 10  # the property was exercised, not skipped: most directions run into the protein


@pytest.mark.parametrize("symmetry", ["e3", "se3"])
@pytest.mark.parametrize("name", sorted(COMPLEXES))
def test_poses_pushed_into_the_protein_score_below_the_crystal_pose(complexes, name, symmetry):
    """The clash test of bench/screening.py on the bundled complexes: every move of 1-2 A that puts
    an atom within 1.5 A of the protein and 3 within 2.2 A scores below the crystal pose."""
    mol, scorers = complexes[name]
    scorer = scorers[symmetry]
    heavy = [a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() > 1]
    start = mol.GetConformer().GetPositions()
    moves = pushed_into_protein(start[heavy], scorer.prepared.pos.numpy())
    assert len(moves) >= 5
    results = scorer.score_mols([mol] + [moved(mol, pos[0] - start[heavy][0]) for _, _, pos in moves])
    crystal, pushed = results[0], results[1:]
    assert crystal.overlap <= OVERLAP_ALLOWANCE
    assert all(r.clashes >= 1 for r in pushed)
    assert max(r.score for r in pushed) < crystal.score
    assert max(r.pose_score for r in pushed) < crystal.pose_score


def test_pushed_poses_meet_the_stated_criterion():
    ligand = np.array([[0.0, 0.0, 0.0], [1.5, 0.0, 0.0], [3.0, 0.0, 0.0], [4.5, 0.0, 0.0]])
    protein = np.array([[x, 0.0, 3.0] for x in (0.0, 1.5, 3.0, 4.5)])  # a wall 3 A above the ligand
    moves = pushed_into_protein(ligand, protein)
    assert moves and all(shift >= 1.0 for _, shift, _ in moves)
    for _, _, pos in moves:
        nearest = np.linalg.norm(pos[:, None] - protein[None], axis=-1).min(1)
        assert nearest.min() < 1.5 and (nearest < 2.2).sum() >= 3
    assert {PUSH_DIRECTIONS[k][2] > 0 for k, _, _ in moves} == {True}  # only moves towards the wall


def test_contacts_and_wall_on_a_hand_made_geometry():
    # one ligand atom (C, R 1.9) against protein C at 2.4 A (overlap 1.4: a clash), O at 3.0 A
    # (R 1.7, overlap 0.6) and C at 5 A; a second pose with nothing closer than 4 A
    pos = torch.tensor([[0.0, 0, 0], [2.4, 0, 0], [0, 3.0, 0], [0, 0, 5.0], [10.0, 0, 0], [14.0, 0, 0]])
    radius = torch.tensor([1.9, 1.9, 1.7, 1.9, 1.9, 1.9])
    pairs = torch.tensor([[0, 0, 0, 4], [1, 2, 3, 5]])
    d, overlap = pair_overlap(pos, radius, pairs)
    assert torch.allclose(overlap, torch.tensor([1.4, 0.6, -1.2, -0.2]), atol=1e-6)
    graph = torch.tensor([0, 0, 0, 1])
    contacts = pose_contacts(d, overlap, graph, 2)
    assert contacts["closest_contact"].tolist() == pytest.approx([2.4, 4.0])
    assert contacts["clashes"].tolist() == [1.0, 0.0]
    assert contacts["overlap"].tolist() == pytest.approx([1.4 - OVERLAP_ONSET, 0.0], abs=1e-6)
    assert overlap_wall(overlap, 2.0, graph, 2).tolist() == [0.0] * 4  # within the allowance: free
    deep = overlap + torch.tensor([2.0, 1.0, 0.0, 0.0])  # past the onset: 2.2 and 0.4 A, 2.6 A in all
    wall = overlap_wall(deep, 2.0, graph, 2)
    assert float(wall.sum()) == pytest.approx(-2.0 * (2.6 - OVERLAP_ALLOWANCE), abs=1e-5)
    assert float(wall[0] / wall[1]) == pytest.approx(2.2 / 0.4, rel=1e-4)  # shared in proportion to each pair's excess
    assert wall[2:].tolist() == [0.0, 0.0]


def test_the_wall_moves_only_poses_that_clash(scorers, crystal_1s3v):
    """The crystal pose has no clashing pair: switching the wall off leaves its score; a pose
    pushed in loses exactly the wall's pK (slope x overlap past the onset, summed over pairs)."""
    scorer = scorers["se3"]
    assert scorer.model.config.overlap_wall > 0  # the shipped se3 model carries it
    pushed = moved(crystal_1s3v, np.array([0.0, -2.5, 0.0]))  # 5.0 A of summed overlap
    on = scorer.score_mols([crystal_1s3v, pushed])
    weight = scorer.model.config.overlap_wall
    try:
        scorer.model.set_overlap_wall(0.0)
        off = scorer.score_mols([crystal_1s3v, pushed])
    finally:
        scorer.model.set_overlap_wall(weight)
    assert on[0].clashes == 0 and on[0].score == pytest.approx(off[0].score, abs=1e-6)
    assert on[1].overlap > OVERLAP_ALLOWANCE
    graph = scorer.graph(scorer.prepare(pushed))
    _, overlap = pair_overlap(graph.pos, graph.radius, graph.pair_index)
    expected = float(overlap_wall(overlap, weight, torch.zeros(overlap.shape[0], dtype=torch.long), 1).sum())
    assert on[1].score - off[1].score == pytest.approx(expected, abs=1e-3)
    assert on[1].terms["hard_clash"] - off[1].terms["hard_clash"] == pytest.approx(expected, abs=1e-3)


def test_the_correction_fades_linearly_with_overlap_to_its_floor():
    overlap = torch.tensor([0.0, 0.25, 0.5, 1.0, 3.0])
    assert correction_share(overlap, 1.0, 0.0).tolist() == pytest.approx([1.0, 0.75, 0.5, 0.0, 0.0])
    assert correction_share(overlap, 0.5, 0.25).tolist() == pytest.approx([1.0, 0.625, 0.25, 0.25, 0.25])


@pytest.mark.parametrize("symmetry", ["e3", "se3"])
@pytest.mark.parametrize("fade, floor", [(1.0, 0.0), (0.5, 0.25)])
def test_the_faded_correction_leaves_poses_without_overlap_and_scales_the_rest(scorers, crystal_1s3v, fade, floor, symmetry):
    """Per pose the score is linear in the learned correction's share (prior + share x correction),
    so the fade equals the weight blend at that pose's share; a pose with no pair past the onset
    keeps all of it, in its score, pose score, terms and per-atom contributions alike (se3: with
    its element-contact term and overlap wall)."""
    model = scorers[symmetry].model
    config = model.config
    poses = [crystal_1s3v, moved(crystal_1s3v, np.array([0.0, -1.45, 0.0])), moved(crystal_1s3v, np.array([0.0, -2.5, 0.0]))]
    try:
        model.set_correction_fade(0.0, 1.0)  # the blend's two ends: no fade
        by_weight = {}
        for weight in (0.0, 1.0):
            model.set_correction_weight(weight)
            by_weight[weight] = scorers[symmetry].score_mols(poses)
        model.set_correction_weight(config.correction_weight)
        model.set_correction_fade(fade, floor)
        faded = scorers[symmetry].score_mols(poses)
    finally:
        model.set_correction_weight(config.correction_weight)
        model.set_correction_fade(config.correction_fade, config.correction_floor)
    assert faded[0].overlap == 0 and 0 < faded[1].overlap < fade < faded[2].overlap  # none, part and all of the fade
    for k, pose in enumerate(faded):
        share = 1.0 - (1.0 - floor) * min(pose.overlap / fade, 1.0)
        off, on = by_weight[0.0][k], by_weight[1.0][k]
        assert pose.score == pytest.approx(off.score + share * (on.score - off.score), abs=1e-4)
        assert pose.pose_score == pytest.approx(off.pose_score + share * (on.pose_score - off.pose_score), abs=1e-4)
        assert sum(pose.atom_contrib) == pytest.approx(off.score - model.offset + share * (on.score - off.score), abs=1e-3)
    assert faded[0].score == pytest.approx(by_weight[1.0][0].score, abs=1e-5)
    assert abs(faded[1].score - by_weight[1.0][1].score) > 1e-3  # the partly faded pose moved


def _row(index: int, compound: str, score: float, overlap: float) -> PoseRow:
    return PoseRow(index, f"{compound}-{index}", compound, "ok", score, score, closest_contact=3.0 - overlap / 4, clashes=int(overlap * 2),
                   overlap=overlap)


def test_a_compound_whose_every_pose_overlaps_ranks_last(tmp_path):
    with ResultStore(tmp_path / "s.sqlite", settings={"model": "m"}) as store:
        file_id = store.file_id(str(tmp_path / "a.sdf"), "fp")
        store.add_poses(file_id, [_row(0, "inside", 12.0, 9.0), _row(1, "inside", 11.0, 4.0),  # every pose overlaps
                                  _row(2, "mixed", 10.0, 7.0), _row(3, "mixed", 6.0, 0.5),  # its valid pose is chosen
                                  _row(4, "clean", 7.0, 0.0)])
        ranked = list(store.ranked(OVERLAP_ALLOWANCE))
        assert [c.compound for c in ranked] == ["clean", "mixed", "inside"]
        assert [c.overlapping for c in ranked] == [False, False, True]
        assert ranked[1].name == "mixed-3" and ranked[1].score == 6.0
        assert ranked[2].name == "inside-0"
        assert [c.compound for c in store.ranked(None)] == ["inside", "mixed", "clean"]  # no rule: by score alone


def test_rank_and_score_report_contacts(tmp_path):
    """CSV columns and SD properties; a compound docked inside the protein is flagged and last."""
    mol = next(iter_ligands(LIGAND_1S3V)).mol
    library = tmp_path / "lib.sdf"
    with Chem.SDWriter(str(library)) as writer:
        for name, shift in (("crystal", 0.0), ("inside", -1.8), ("inside", -2.0)):
            pose = moved(mol, np.array([0.0, shift, 0.0]))
            pose.SetProp("_Name", name)
            writer.write(pose)
    out = tmp_path / "ranked.csv"
    result = runner.invoke(app, ["rank", str(PROTEIN_1S3V), str(library), "-o", str(out), "--top-sdf", str(tmp_path / "top.sdf")])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert [r["compound"] for r in rows] == ["crystal", "inside"]
    assert rows[0]["clash_flag"] == "" and int(rows[0]["clashes"]) == 0 and float(rows[0]["closest_contact_A"]) > 2.5
    assert rows[1]["clash_flag"] == "overlaps protein" and float(rows[1]["overlap_A"]) > OVERLAP_ALLOWANCE
    assert "ranked last" in result.output
    top = [m for m in Chem.SDMolSupplier(str(tmp_path / "top.sdf"))]
    assert top[1].GetProp("dockscore_clash_flag") == "overlaps protein"
    scored = tmp_path / "scored.csv"
    result = runner.invoke(app, ["score", str(PROTEIN_1S3V), str(library), "-o", str(scored)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(scored.open()))
    assert [float(r["overlap_A"]) > OVERLAP_ALLOWANCE for r in rows] == [False, True, True]
    assert all(float(r["closest_contact_A"]) > 0 for r in rows)
