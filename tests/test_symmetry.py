"""Symmetry properties of both modes, tested as properties over seeded random draws on a real complex."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from rdkit import Chem

from dockscore import Scorer, read_protein
from dockscore.definitions import OVERLAP_ALLOWANCE
from dockscore.optimize import perturb_pose

from .conftest import PROTEIN_1S3V

TOL = 2e-3  # pK; float32 arithmetic over a few thousand pair terms


def rotation_from_quaternion(q: np.ndarray) -> np.ndarray:
    a, b, c, d = q / np.linalg.norm(q)
    return np.array([
        [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
        [2 * (b * c + a * d), a * a - b * b + c * c - d * d, 2 * (c * d - a * b)],
        [2 * (b * d - a * c), 2 * (c * d + a * b), a * a - b * b - c * c + d * d],
    ])


def transformed_scorer(scorer: Scorer, matrix: np.ndarray, shift: np.ndarray) -> Scorer:
    protein = read_protein(PROTEIN_1S3V)
    protein.coords = (protein.coords.astype(np.float64) @ matrix.T + shift).astype(np.float32)
    return Scorer(protein, model=scorer.model)


def score_poses(scorer: Scorer, ligands, matrix=np.eye(3), shift=np.zeros(3)) -> np.ndarray:
    """(n poses, 2): the score and the pose score of each pose, so every property holds for both outputs."""
    m = torch.tensor(matrix, dtype=torch.float64)
    t = torch.tensor(shift, dtype=torch.float64)
    graphs = [scorer.graph(lig.with_positions((lig.pos.double() @ m.T + t).float())) for lig in ligands]
    with torch.no_grad():
        out = scorer.forward(graphs)
    return torch.stack([out["score"], out["pose_score"]], dim=-1).numpy()


def poses(scorer: Scorer, mol, n: int = 6, seed: int = 0):
    ligand = scorer.prepare(mol)
    gen = torch.Generator().manual_seed(seed)
    return [ligand] + [perturb_pose(ligand, gen, max_angle=0.4, shift=0.8)[0] for _ in range(n - 1)]


quaternions = st.lists(st.floats(-1, 1, allow_nan=False), min_size=4, max_size=4).filter(lambda q: np.linalg.norm(q) > 0.1)
shifts = st.lists(st.floats(-50, 50, allow_nan=False), min_size=3, max_size=3)


@pytest.mark.parametrize("symmetry", ["e3", "se3"])
@settings(max_examples=10, deadline=None)
@given(q=quaternions, t=shifts)
def test_rotation_translation_invariance(scorers, crystal_1s3v, symmetry, q, t):
    scorer = scorers[symmetry]
    ligands = poses(scorer, crystal_1s3v)
    R, shift = rotation_from_quaternion(np.asarray(q)), np.asarray(t)
    moved = transformed_scorer(scorer, R, shift)
    np.testing.assert_allclose(score_poses(moved, ligands, R, shift), score_poses(scorer, ligands), atol=TOL)


@pytest.mark.parametrize("symmetry", ["e3", "se3"])
@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_ligand_atom_order_does_not_matter(scorers, crystal_1s3v, symmetry, seed):
    scorer = scorers[symmetry]
    order = np.random.default_rng(seed).permutation(crystal_1s3v.GetNumAtoms()).tolist()
    shuffled = Chem.RenumberAtoms(crystal_1s3v, order)
    a, b = scorer.score_mols([crystal_1s3v, shuffled])
    assert a.score == pytest.approx(b.score, abs=TOL) and a.pose_score == pytest.approx(b.pose_score, abs=TOL)


@pytest.mark.parametrize("symmetry", ["e3", "se3"])
def test_protein_atom_order_does_not_matter(scorers, crystal_1s3v, symmetry):
    scorer = scorers[symmetry]
    protein = read_protein(PROTEIN_1S3V)
    perm = np.random.default_rng(7).permutation(len(protein))
    protein.coords = protein.coords[perm]
    for key in ("elements", "atom_names", "residue_names", "residue_ids"):
        setattr(protein, key, [getattr(protein, key)[i] for i in perm])
    protein.is_hetero = protein.is_hetero[perm]
    shuffled = Scorer(protein, model=scorer.model)
    a, b = shuffled.score_mols([crystal_1s3v])[0], scorer.score_mols([crystal_1s3v])[0]
    assert a.score == pytest.approx(b.score, abs=TOL) and a.pose_score == pytest.approx(b.pose_score, abs=TOL)


@pytest.mark.parametrize("symmetry", ["e3", "se3"])
def test_pose_alone_equals_pose_in_batch(scorers, crystal_1s3v, symmetry):
    scorer = scorers[symmetry]
    ligands = poses(scorer, crystal_1s3v, n=8, seed=3)
    batched = score_poses(scorer, ligands)
    alone = np.array([score_poses(scorer, [lig])[0] for lig in ligands])
    np.testing.assert_allclose(alone, batched, atol=TOL)


MIRROR = np.diag([-1.0, 1.0, 1.0])


@settings(max_examples=3, deadline=None)
@given(q=quaternions)
def test_e3_mirror_image_scores_the_same(scorers, crystal_1s3v, q):
    scorer = scorers["e3"]
    ligands = poses(scorer, crystal_1s3v)
    reflection = rotation_from_quaternion(np.asarray(q)) @ MIRROR  # any improper rotation
    mirrored = transformed_scorer(scorer, reflection, np.zeros(3))
    np.testing.assert_allclose(score_poses(mirrored, ligands, reflection), score_poses(scorer, ligands), atol=TOL)


def test_se3_mirror_image_scores_differently(scorers, crystal_1s3v):
    """A trained SE(3) model whose parity-odd channels collapsed would be E(3) in disguise.

    The mirror-image shift must be a meaningful fraction (>= 10 %) of the spread of scores
    across poses of the same ligand in the same pocket."""
    scorer = scorers["se3"]
    ligands = poses(scorer, crystal_1s3v, n=12, seed=1)  # near-native poses (<= 0.4 rad, 0.8 A)
    with torch.no_grad():  # ... that are physically valid: a move through the protein is scored by the overlap wall
        overlap = scorer.forward([scorer.graph(lig) for lig in ligands])["overlap"]
    ligands = [lig for lig, o in zip(ligands, overlap.tolist()) if o <= OVERLAP_ALLOWANCE]
    assert len(ligands) >= 6
    scores = score_poses(scorer, ligands)[:, 0]
    mirrored = transformed_scorer(scorer, MIRROR, np.zeros(3))
    mirror_scores = score_poses(mirrored, ligands, MIRROR)[:, 0]
    shift = np.abs(mirror_scores - scores).mean()
    assert shift >= 0.1 * scores.std(), (shift, scores.std())
    assert shift > 0.05  # pK units: not float noise


# Issue 27, item 10: a file written at PDB precision (3 decimals) after a rigid motion differs from
# the original by up to 0.5 mA per coordinate. 0.5 % of a congeneric series' score spread is the
# allowed shift; the JACS series spread 0.2-1.3 pK over ten ligands, so 0.002 pK is 0.5 % of 0.4.
PRECISION_SHIFT = 0.002  # pK


@pytest.mark.parametrize("symmetry", ["e3", "se3"])
def test_rigid_copies_written_at_file_precision_score_the_same(scorers, crystal_1s3v, symmetry, tmp_path):
    scorer = scorers[symmetry]
    base = scorer.score_mols([crystal_1s3v])[0].score
    rng = np.random.default_rng(11)
    for k in range(3):
        R, shift = rotation_from_quaternion(rng.normal(size=4)), rng.uniform(-40, 40, 3)
        lines = []
        for line in PROTEIN_1S3V.read_text().splitlines(keepends=True):
            if line.startswith(("ATOM", "HETATM")):
                xyz = np.array([float(line[30:38]), float(line[38:46]), float(line[46:54])]) @ R.T + shift
                line = line[:30] + "".join(f"{c:8.3f}" for c in xyz) + line[54:]
            lines.append(line)
        protein = tmp_path / f"moved{k}.pdb"
        protein.write_text("".join(lines))
        mol = Chem.Mol(crystal_1s3v)
        conf = mol.GetConformer()
        for i, p in enumerate(conf.GetPositions() @ R.T + shift):
            conf.SetAtomPosition(i, p.tolist())
        moved = Chem.MolFromMolBlock(Chem.MolToMolBlock(mol), removeHs=False)  # 4 decimals, as an SD file
        score = Scorer(protein, model=scorer.model).score_mols([moved])[0].score
        assert score == pytest.approx(base, abs=PRECISION_SHIFT)
