"""bench/screening.py's clash-pose builder: every kept pose really meets the clash criterion."""

from __future__ import annotations


import numpy as np
from rdkit import Chem

from .conftest import LIGAND_1S3V, PROTEIN_1S3V, bench_script



def test_clashing_poses_meet_the_criterion_on_1s3v():
    screening = bench_script("screening")
    clashing_poses, grid_directions = screening.clashing_poses, screening.grid_directions

    crystal = Chem.MolFromMolFile(str(LIGAND_1S3V), removeHs=False)
    kept = clashing_poses(PROTEIN_1S3V, crystal)
    assert 0 < len(kept) <= 26 * 3
    dirs = grid_directions()
    assert dirs.shape == (26, 3) and np.allclose(np.linalg.norm(dirs, axis=1), 1.0)
    # protein heavy atoms read independently of the function under test (RDKit, waters dropped)
    protein = Chem.MolFromPDBFile(str(PROTEIN_1S3V), removeHs=False, sanitize=False)
    keep = [a.GetIdx() for a in protein.GetAtoms() if a.GetAtomicNum() > 1
            and a.GetPDBResidueInfo().GetResidueName().strip() not in ("HOH", "WAT")]
    p_xyz = protein.GetConformer().GetPositions()[keep]
    heavy = [a.GetIdx() for a in crystal.GetAtoms() if a.GetAtomicNum() > 1]
    start = crystal.GetConformer().GetPositions()
    for mol, info in kept:
        xyz = mol.GetConformer().GetPositions()
        shift = xyz - start  # a rigid translation of the whole ligand by the stated distance
        assert np.allclose(shift, shift[0]) and np.isclose(np.linalg.norm(shift[0]), info["shift"])
        assert np.allclose(shift[0] / info["shift"], dirs[info["direction"]])
        d = np.linalg.norm(xyz[heavy][:, None, :] - p_xyz[None, :, :], axis=2).min(axis=1)
        assert d.min() < 1.5 and (d < 2.2).sum() >= 3
    # and the poses left out do not meet it
    kept_keys = {(i["direction"], i["shift"]) for _, i in kept}
    for k, direction in enumerate(dirs):
        for s in (1.0, 1.5, 2.0):
            if (k, s) not in kept_keys:
                d = np.linalg.norm((start[heavy] + s * direction)[:, None, :] - p_xyz[None, :, :], axis=2).min(axis=1)
                assert not (d.min() < 1.5 and (d < 2.2).sum() >= 3)
