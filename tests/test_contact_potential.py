"""bench/contact_potential.py (an experiment, not shipped): atom typing, contact counting and the
listwise fit whose figures the dockscore-e3 card reports."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import AllChem

from dockscore.graph import PreparedLigand

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from contact_potential import (CONTACT_TYPES, KNOTS, MAX_DISTANCE, N_CONTACT_TYPES, N_KNOTS, contact_counts,  # noqa: E402
                               contact_types, fit_contact_table, knot_weights)

N_FEATURES = N_CONTACT_TYPES * N_CONTACT_TYPES * N_KNOTS


def prepared(smiles: str) -> PreparedLigand:
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.EmbedMolecule(mol, randomSeed=1)
    return PreparedLigand.from_mol(mol)


def typed(smiles: str) -> list[str]:
    lig = prepared(smiles)
    return [CONTACT_TYPES[t] for t in contact_types(lig.x, lig.xs).tolist()]


def test_contact_types_follow_xscore_chemistry():
    # ethanol: CH3 (no N/O neighbour) is hydrophobic, CH2-O is polar, the hydroxyl donates and accepts
    assert typed("CCO") == ["C_hydrophobic", "C_polar", "NO_donor_acceptor"]
    assert typed("CC(=O)C")[2] == "NO_acceptor"
    assert typed("CCl")[1] == "halogen"
    assert typed("CS")[1] == "S_P_other"


def test_knot_weights_interpolate_inside_the_window_only():
    d = torch.tensor([1.5, 2.5, 3.1, 7.9, MAX_DISTANCE + 0.1])
    k, lo, hi = knot_weights(d)
    assert (lo + hi).tolist() == pytest.approx([0.0, 1.0, 1.0, 1.0, 0.0])
    inside = (lo + hi) > 0  # the interpolated position reproduces the distance
    assert (lo * KNOTS[k - 1] + hi * KNOTS[k])[inside].tolist() == pytest.approx(d[inside].tolist())


@pytest.mark.parametrize("seed", range(3))
def test_counts_equal_a_pairwise_sum_and_ignore_rotation_reflection_and_order(seed):
    """counts @ table is the sum over pairs of the interpolated table value: check it against a
    brute-force loop, and that rigid motions (proper or not) and atom order change nothing."""
    rng = np.random.default_rng(seed)
    lig_pos = torch.tensor(rng.normal(size=(7, 3)) * 2, dtype=torch.float32)
    prot_pos = torch.tensor(rng.normal(size=(30, 3)) * 5, dtype=torch.float32)
    lt = torch.tensor(rng.integers(0, N_CONTACT_TYPES, 7))
    pt = torch.tensor(rng.integers(0, N_CONTACT_TYPES, 30))
    table = torch.tensor(rng.normal(size=(N_CONTACT_TYPES, N_CONTACT_TYPES, N_KNOTS)), dtype=torch.float32)
    energy = float(contact_counts(lt, pt, lig_pos, prot_pos) @ table.flatten())
    brute = 0.0
    for i in range(7):
        for j in range(30):
            d = float((lig_pos[i] - prot_pos[j]).norm())
            if MAX_DISTANCE > d >= 2.0:
                brute += float(np.interp(d, KNOTS.numpy(), table[lt[i], pt[j]].numpy()))
    assert energy == pytest.approx(brute, abs=1e-3)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))  # orthogonal, either handedness
    R, t = torch.tensor(q, dtype=torch.float32), torch.tensor(rng.uniform(-20, 20, 3), dtype=torch.float32)
    perm_l, perm_p = torch.tensor(rng.permutation(7)), torch.tensor(rng.permutation(30))
    moved = contact_counts(lt[perm_l], pt[perm_p], lig_pos[perm_l] @ R.T + t, prot_pos[perm_p] @ R.T + t)
    assert float(moved @ table.flatten()) == pytest.approx(energy, abs=1e-3)


def synthetic_lists(n_complexes: int, seed: int):
    """Near-native poses carry more of one contact feature; the base score is noise."""
    gen = torch.Generator().manual_seed(seed)
    lists = []
    for _ in range(n_complexes):
        rmsd = torch.cat([torch.tensor([0.8]), torch.rand(7, generator=gen) * 6 + 2.5])
        counts = torch.zeros(8, N_FEATURES)
        counts[:, 20:40] = torch.rand(8, 20, generator=gen) * 3  # contacts are sparse: most type pairs never meet
        counts[:, 5] = 1.0 + (rmsd < 2).float() + torch.rand(8, generator=gen) * 0.5
        lists.append((counts, torch.randn(8, generator=gen) * 0.3, rmsd))
    return lists


def top1(lists, table) -> float:
    return float(np.mean([bool(r[(b + c @ table.flatten()).argmax()] < 2) for c, b, r in lists]))


def test_listwise_fit_learns_a_transferable_contact_preference():
    table = fit_contact_table(synthetic_lists(60, seed=0), l2=0.1)
    held_out = synthetic_lists(40, seed=1)
    assert top1(held_out, torch.zeros_like(table)) < 0.5  # the base alone is near chance (1 in 8)
    assert top1(held_out, table) > 0.9
    assert torch.equal(table, fit_contact_table(synthetic_lists(60, seed=0), l2=0.1))  # deterministic


def test_fit_refuses_lists_without_both_kinds_of_pose():
    counts = torch.rand(3, N_FEATURES)
    with pytest.raises(ValueError):
        fit_contact_table([(counts, torch.zeros(3), torch.tensor([3.0, 4.0, 5.0]))], l2=1.0)
