"""Torsional decoys for training: conformers of the crystal ligand with rotors turned, as negatives.

Unlike the pose optimiser's rotors (:func:`dockscore.optimize.rotatable_torsions`), these come from
the graph's bonds and include amide and CF3 rotors: a decoy may be strained."""

from __future__ import annotations

import math

import torch

from dockscore.graph import PreparedLigand
from dockscore.optimize import Torsion, pose_from_parameters


def torsions_from_bonds(n_atoms: int, bond_index: torch.Tensor, bond_attr: torch.Tensor) -> list[Torsion]:
    """Rotatable torsions from the heavy-atom bond graph alone: acyclic single bonds between
    atoms that both have other neighbours; the smaller side moves.

    Needs no RDKit molecule, so training can turn torsions of ligands read from the tensor cache.
    Unlike ``rotatable_torsions`` it does not skip amide or CF3 rotors: a decoy generator may
    turn them, the optimiser keeps the stricter SMARTS."""
    adjacency: list[set[int]] = [set() for _ in range(n_atoms)]
    single: set[tuple[int, int]] = set()
    for (a, b), order in zip(bond_index.T.tolist(), bond_attr.argmax(-1).tolist()):
        adjacency[a].add(b)
        if order == 0:  # BOND_TYPES[0] is SINGLE
            single.add((min(a, b), max(a, b)))
    torsions = []
    for b, c in sorted(single):
        if len(adjacency[b]) < 2 or len(adjacency[c]) < 2:
            continue
        seen, stack = {c}, [c]  # atoms reachable from c without crossing the bond (b, c)
        while stack:
            u = stack.pop()
            for nb in adjacency[u]:
                if (u, nb) != (c, b) and nb not in seen:
                    seen.add(nb)
                    stack.append(nb)
        if b in seen:  # the bond is in a ring
            continue
        if len(seen) - 1 > n_atoms / 2:
            b, c, seen = c, b, set(range(n_atoms)) - seen
        torsions.append(Torsion((b, c), sorted(seen - {c})))
    return torsions


def perturb_torsions(ligand: PreparedLigand, generator: torch.Generator, torsions: list[Torsion],
                     min_far_distance: float = 2.6, tries: int = 5) -> tuple[PreparedLigand, float] | None:
    """A flexible decoy: every rotatable torsion turned by a random angle, then a small rigid move.

    Bond lengths, angles and rings are kept exactly. Conformers whose atoms more than three
    bonds apart come closer than ``min_far_distance`` are rejected (the score has no
    intramolecular term, so a self-clashing decoy would teach nothing about the pocket).
    Returns (pose, RMSD to the input) or None when no clash-free conformer was found."""
    if not torsions:
        return None
    i, j = ligand.far_pairs
    for _ in range(tries):
        theta = (torch.rand(len(torsions), generator=generator, dtype=torch.float64) * 2 - 1) * math.pi
        pos = pose_from_parameters(ligand.pos.double(), torsions, torch.zeros(3, dtype=torch.float64),
                                   torch.randn(3, generator=generator, dtype=torch.float64) * 0.15, theta).float()
        pos = pos + torch.randn(3, generator=generator) * 0.5
        if not bool(((pos[i] - pos[j]).norm(dim=-1) < min_far_distance).any()):
            return ligand.with_positions(pos), float(((pos - ligand.pos) ** 2).sum(-1).mean().sqrt())
    return None
