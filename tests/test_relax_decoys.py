"""bench/relax_decoys.py (the relaxed-decoy experiment): symmetry-corrected RMSD labels, relaxation that lowers the prior's
energy, intact covalent geometry and determinism."""

from __future__ import annotations

import sys

import pytest
import torch

from dockscore.graph import PreparedLigand, PreparedProtein
from dockscore.io.ligands import iter_ligands
from dockscore.io.protein import read_protein
from dockscore.optimize import torsions_from_bonds

from .conftest import LIGAND_1S3V, PROTEIN_1S3V, ROOT

sys.path.insert(0, str(ROOT / "bench"))
from relax_decoys import DecoySettings, _batched_pose, automorphisms, prior_energy, relaxed_decoys, symmetric_rmsd  # noqa: E402


@pytest.fixture(scope="module")
def complex_1s3v():
    protein = PreparedProtein.from_protein(read_protein(PROTEIN_1S3V))
    ligand = PreparedLigand.from_mol(next(iter_ligands(LIGAND_1S3V)).mol)
    return protein, ligand


def test_symmetric_rmsd_is_zero_for_every_automorphism_and_plain_rmsd_otherwise(complex_1s3v):
    _, ligand = complex_1s3v
    perms = automorphisms(ligand)
    assert perms.shape[0] > 1  # the ligand has symmetric groups (e.g. amino nitrogens of a ring)
    assert (perms.sort(1).values == torch.arange(ligand.pos.shape[0])).all()  # each row is a permutation
    relabelled = ligand.pos[perms]  # the same pose with symmetric atoms swapped
    assert symmetric_rmsd(relabelled, ligand.pos, perms).max() < 1e-5
    shifted = (ligand.pos + torch.tensor([1.0, 0.0, 0.0]))[None]
    assert abs(float(symmetric_rmsd(shifted, ligand.pos, perms)) - 1.0) < 1e-4  # a pure shift: no swap helps


def test_relaxation_keeps_covalent_geometry_lowers_the_prior_energy_and_is_deterministic(complex_1s3v):
    protein, ligand = complex_1s3v
    settings = DecoySettings(near=3, far=3, steps=25)
    out = relaxed_decoys(protein, ligand, torch.Generator().manual_seed(1), settings)
    again = relaxed_decoys(protein, ligand, torch.Generator().manual_seed(1), settings)
    assert out and len(out) == len(again)
    assert all(torch.equal(a[0], b[0]) and a[1] == b[1] for a, b in zip(out, again))
    adjacency = torch.zeros((ligand.pos.shape[0],) * 2, dtype=torch.bool)
    adjacency[ligand.bond_index[0], ligand.bond_index[1]] = True
    within_two = adjacency | ((adjacency.float() @ adjacency.float()) > 0)
    dist = lambda x: (x[:, None] - x[None]).norm(dim=-1)  # noqa: E731  (exact; cdist's matmul form is not)
    d0 = dist(ligand.pos)
    perms = automorphisms(ligand)
    for pos, rmsd in out:
        assert (dist(pos) - d0)[within_two].abs().max() < 1e-3  # bonds and angles kept
        assert abs(rmsd - float(symmetric_rmsd(pos[None], ligand.pos, perms))) < 1e-4
    assert min(r for _, r in out) < 2.0 < max(r for _, r in out)  # near- and far-from-native minima both
    for pos, _ in out:  # every kept pose has a pocket graph
        assert float(torch.cdist(pos, protein.pos).min()) < 7.0


def test_relaxation_descends_the_prior(complex_1s3v):
    """The same random starts, relaxed for 0 and for 30 steps: the prior (pK, + favourable) rises."""
    protein, ligand = complex_1s3v
    pocket = torch.arange(protein.pos.shape[0])
    energies = []
    for steps in (0, 30):
        out = relaxed_decoys(protein, ligand, torch.Generator().manual_seed(3), DecoySettings(near=2, far=2, steps=steps))
        energies.append(prior_energy(protein, ligand, torch.stack([p for p, _ in out]), pocket).mean())
    assert energies[1] > energies[0]


def test_batched_pose_with_zero_parameters_is_the_start(complex_1s3v):
    _, ligand = complex_1s3v
    torsions = torsions_from_bonds(ligand.pos.shape[0], ligand.bond_index, ligand.bond_attr)
    zero = torch.zeros(2, 3)
    pos = _batched_pose(ligand.pos, torsions, zero, zero + 1e-9, torch.zeros(2, len(torsions)))
    assert (pos - ligand.pos).abs().max() < 1e-5
