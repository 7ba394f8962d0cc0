"""Gradient-based pose optimisation under the model: rigid body plus torsions.

Coordinates are a differentiable function of (translation, rotation vector, torsion angles)
applied to the start pose, so bond lengths, bond angles and ring geometry are kept exactly;
only non-ring single bonds between heavy atoms rotate. The objective is the model's score
minus a ligand self-clash restraint (the score has no intramolecular term). The best pose
seen is returned, the start included, so the score never gets worse than the start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from rdkit import Chem

from dockscore.errors import InputError
from dockscore.graph import PreparedLigand
from dockscore.model import prior_hard_wall

ROTATABLE = Chem.MolFromSmarts("[!$([NH])&!$([NH2])&!$(C(F)(F)F)&!D1]-&!@[!D1&!$([NH])&!$([NH2])&!$(C(F)(F)F)]")


@dataclass
class Torsion:
    axis: tuple[int, int]  # bond (b, c); atoms on c's side rotate
    moving: list[int]


@dataclass
class OptimizedPose:
    pos: torch.Tensor  # (n_heavy, 3)
    score: float
    start_score: float
    rmsd_to_start: float
    steps: int


def perturb_pose(ligand: PreparedLigand, generator: torch.Generator, max_angle: float = 1.0, shift: float = 2.0) -> tuple[PreparedLigand, float]:
    """Rigid-body perturbation about the centroid; returns the pose and its RMSD to the input."""
    axis = torch.randn(3, generator=generator)
    axis = axis / axis.norm()
    angle = float(torch.rand(1, generator=generator)) * max_angle
    K = torch.tensor([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    R = torch.eye(3) + math.sin(angle) * K + (1 - math.cos(angle)) * K @ K
    center = ligand.pos.mean(0)
    pos = (ligand.pos - center) @ R.T + center + torch.randn(3, generator=generator) * shift
    rmsd = float(((pos - ligand.pos) ** 2).sum(-1).mean().sqrt())
    return ligand.with_positions(pos), rmsd


def rotatable_torsions(heavy: Chem.Mol) -> list[Torsion]:
    """Torsions about acyclic single bonds; the smaller side of each bond moves."""
    torsions = []
    n = heavy.GetNumAtoms()
    for b, c in heavy.GetSubstructMatches(ROTATABLE):
        bond = heavy.GetBondBetweenAtoms(b, c)
        if bond is None or bond.IsInRing():
            continue
        frag = Chem.FragmentOnBonds(heavy, [bond.GetIdx()], addDummies=False)
        sides = Chem.GetMolFrags(frag, asMols=False)
        side_c = next(s for s in sides if c in s)
        moving = [i for i in side_c if i != c and i < n]
        if len(moving) > n / 2:
            b, c = c, b
            side_b = next(s for s in sides if c in s)
            moving = [i for i in side_b if i != c and i < n]
        if moving:
            torsions.append(Torsion((b, c), moving))
    return torsions


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


def _rotate(points: torch.Tensor, origin: torch.Tensor, axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    k = axis / axis.norm().clamp_min(1e-9)
    v = points - origin
    cos, sin = torch.cos(angle), torch.sin(angle)
    return origin + v * cos + torch.cross(k.expand_as(v), v, dim=-1) * sin + k * (v @ k)[:, None] * (1 - cos)


def _rotation_matrix(w: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula for the rotation vector ``w`` (differentiable)."""
    theta = w.norm().clamp_min(1e-9)
    k = w / theta
    zero = torch.zeros((), dtype=w.dtype)
    K = torch.stack([torch.stack([zero, -k[2], k[1]]), torch.stack([k[2], zero, -k[0]]), torch.stack([-k[1], k[0], zero])])
    return torch.eye(3, dtype=w.dtype) + torch.sin(theta) * K + (1 - torch.cos(theta)) * (K @ K)


def pose_from_parameters(start: torch.Tensor, torsions: list[Torsion], t, w, theta) -> torch.Tensor:
    pos = start
    for k, torsion in enumerate(torsions):
        b, c = torsion.axis
        idx = torch.tensor(torsion.moving)
        moved = _rotate(pos[idx], pos[c], pos[c] - pos[b], theta[k])
        pos = pos.index_copy(0, idx, moved)
    center = start.mean(0)
    return (pos - center) @ _rotation_matrix(w).T + center + t


def self_clash(pos: torch.Tensor, pairs: torch.Tensor, limit: float = 3.0) -> torch.Tensor:
    if pairs.numel() == 0:
        return pos.sum() * 0
    d = (pos[pairs[0]] - pos[pairs[1]]).norm(dim=-1)
    return (torch.relu(limit - d) ** 2).sum()


def optimize_poses(scorer, ligands: list[PreparedLigand], steps: int = 50, lr: float = 0.05, torsions: bool = True,
                   clash_weight: float = 1.0) -> list[OptimizedPose]:
    """Optimise several starts of one molecule (same heavy-atom graph, e.g. both enantiomers) in
    one batch: each start has its own rigid-body and torsion parameters; scores are independent.

    Scores here (objective, start and best) use the prior's hard wall (:func:`prior_hard_wall`):
    a soft core is for scoring given poses, never for moving atoms."""
    with prior_hard_wall(scorer.model):
        return _optimize_poses(scorer, ligands, steps, lr, torsions, clash_weight)


def _optimize_poses(scorer, ligands: list[PreparedLigand], steps: int, lr: float, torsions: bool,
                    clash_weight: float) -> list[OptimizedPose]:
    heavy = ligands[0].heavy
    tors = rotatable_torsions(heavy) if torsions and heavy is not None else []
    pairs = ligands[0].far_pairs
    starts = [lig.pos.detach().double() for lig in ligands]
    params = []
    for _ in ligands:
        t = torch.zeros(3, dtype=torch.float64, requires_grad=True)
        w = torch.full((3,), 1e-4, dtype=torch.float64, requires_grad=True)
        theta = torch.zeros(len(tors), dtype=torch.float64, requires_grad=True)
        params.append((t, w, theta))
    opt = torch.optim.Adam([{"params": [p[0] for p in params], "lr": 2 * lr}, {"params": [x for p in params for x in p[1:]], "lr": lr}])
    start_clash = [float(self_clash(x, pairs)) for x in starts]

    def evaluate(positions: list[torch.Tensor], active: list[int]) -> tuple[list[int], torch.Tensor | None]:
        graphs, kept = [], []
        for k in active:
            try:
                graph = scorer.graph(ligands[k].with_positions(positions[k].detach().float()))
            except InputError:  # this start wandered out of the pocket: freeze it at its best
                continue
            graph.pos = torch.cat([positions[k].float(), graph.pos[positions[k].shape[0]:]])
            graphs.append(graph)
            kept.append(k)
        return kept, (scorer.forward(graphs)["score"] if graphs else None)

    with torch.no_grad():  # a start outside the pocket raises the graph's own InputError
        start_scores = scorer.forward([scorer.graph(lig.with_positions(x.float())) for lig, x in zip(ligands, starts)])["score"].tolist()
    best = [(sc, x.clone()) for sc, x in zip(start_scores, starts)]
    active, done = list(range(len(ligands))), 0
    for step in range(steps):
        positions = [pose_from_parameters(x, tors, *p) for x, p in zip(starts, params)]
        active, scores = evaluate(positions, active)
        if not active:
            break
        clashes = torch.stack([self_clash(positions[k], pairs) for k in active])
        current, current_clash = scores.detach().tolist(), clashes.detach().tolist()
        for n, k in enumerate(active):
            if current[n] > best[k][0] and current_clash[n] <= start_clash[k] + 0.5:
                best[k] = (current[n], positions[k].detach().clone())
        loss = (-scores.double() + clash_weight * clashes).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        done = step + 1
    out = []
    for (score, pos), x, s0 in zip(best, starts, start_scores):
        rmsd = float(((pos - x) ** 2).sum(-1).mean().sqrt())
        out.append(OptimizedPose(pos.float(), score, s0, rmsd, done))
    return out


def optimize_pose(scorer, ligand: PreparedLigand, **kwargs) -> OptimizedPose:
    """Locally optimise one pose under ``scorer``'s model (see module docstring)."""
    return optimize_poses(scorer, [ligand], **kwargs)[0]


def set_heavy_positions(mol: Chem.Mol, heavy_pos: torch.Tensor) -> Chem.Mol:
    """Write optimised heavy-atom coordinates back into a copy of ``mol`` (hydrogens re-placed)."""
    heavy = Chem.RemoveAllHs(mol, sanitize=False)  # the atoms of ligand_heavy_mol, in its order
    conf = heavy.GetConformer()
    for i, p in enumerate(heavy_pos.tolist()):
        conf.SetAtomPosition(i, p)
    had_h = mol.GetNumAtoms() > heavy.GetNumAtoms()
    if had_h:
        heavy.UpdatePropertyCache(strict=False)
        return Chem.AddHs(heavy, addCoords=True)
    return heavy
