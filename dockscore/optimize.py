"""Gradient-based pose optimisation under the model: rigid body plus torsions.

Coordinates are a differentiable function of (translation, rotation vector, torsion angles)
applied to the start pose, so bond lengths, bond angles and ring geometry are kept exactly;
only non-ring single bonds between heavy atoms rotate. The objective is the model's score
minus a ligand self-clash restraint (the score has no intramolecular term). The best pose
seen is returned, the start included, so the score never gets worse than the start.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from rdkit import Chem

from dockscore.errors import InputError
from dockscore.graph import PreparedLigand
from dockscore.model import CLASH_ONSET, KCAL_PER_PK, VINA_WEIGHTS_KCAL, cosine_cutoff, gaussian, prior_hard_wall, xs_pair_masks

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


def _rotation_matrices(w: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula for rotation vectors ``w`` (S, 3) -> (S, 3, 3), differentiable."""
    theta = w.norm(dim=-1).clamp_min(1e-9)
    k = w / theta[:, None]
    zero = torch.zeros_like(theta)
    K = torch.stack([torch.stack([zero, -k[:, 2], k[:, 1]], -1), torch.stack([k[:, 2], zero, -k[:, 0]], -1),
                     torch.stack([-k[:, 1], k[:, 0], zero], -1)], 1)
    eye = torch.eye(3, dtype=w.dtype, device=w.device).expand_as(K)
    return eye + torch.sin(theta)[:, None, None] * K + (1 - torch.cos(theta))[:, None, None] * (K @ K)


def poses_from_parameters(starts: torch.Tensor, torsions: list[Torsion], t: torch.Tensor, w: torch.Tensor,
                          theta: torch.Tensor) -> torch.Tensor:
    """Coordinates (S, n, 3) of S starts of one molecule under their translations ``t`` (S, 3),
    rotation vectors ``w`` (S, 3, about each start's centroid) and torsion angles ``theta`` (S, T).

    Torsions turn the smaller side of each rotatable bond (Rodrigues, batched over starts), so bond
    lengths, angles and rings stay exact."""
    pos = starts
    for k, torsion in enumerate(torsions):
        b, c = torsion.axis
        idx = torch.tensor(torsion.moving, device=pos.device)
        origin = pos[:, c]
        axis = origin - pos[:, b]
        axis = axis / axis.norm(dim=-1, keepdim=True).clamp_min(1e-9)
        v = pos[:, idx] - origin[:, None]
        cos, sin = torch.cos(theta[:, k])[:, None, None], torch.sin(theta[:, k])[:, None, None]
        a = axis[:, None].expand_as(v)
        moved = origin[:, None] + v * cos + torch.cross(a, v, dim=-1) * sin + a * (v * a).sum(-1, keepdim=True) * (1 - cos)
        pos = pos.index_copy(1, idx, moved)
    center = starts.mean(1, keepdim=True)
    return (pos - center) @ _rotation_matrices(w).transpose(1, 2) + center + t[:, None]


def pose_from_parameters(start: torch.Tensor, torsions: list[Torsion], t, w, theta) -> torch.Tensor:
    """:func:`poses_from_parameters` of one start (n, 3)."""
    return poses_from_parameters(start[None], torsions, t[None], w[None], theta[None])[0]


def self_clash(pos: torch.Tensor, pairs: torch.Tensor, limit: float = 3.0) -> torch.Tensor:
    if pairs.numel() == 0:
        return pos.sum() * 0
    d = (pos[pairs[0]] - pos[pairs[1]]).norm(dim=-1)
    return (torch.relu(limit - d) ** 2).sum()


class PocketPrior:
    """The coarse search objective: AutoDock Vina's typed intermolecular terms (pK, + favourable)
    plus the model's hard clash, of poses against the pocket atoms near their starts.

    No network and no graph per step: dense ligand x pocket distances (pairs beyond the model's
    pocket cutoff weigh zero, as in the model's prior), so a step costs a few milliseconds
    where a step of the full model costs tens. Used for every symmetry mode and model, with
    Vina's weights, whether or not the model carries the prior: it only moves starts towards
    the pocket's sterically and chemically plausible region; the model chooses the poses."""

    def __init__(self, scorer, ligand: PreparedLigand, starts: torch.Tensor, margin: float = 4.0, skin: float = 2.0) -> None:
        config = scorer.model.config
        self.cutoff, self.clash_weight, self.skin = float(config.pocket_cutoff), float(config.clash_weight), float(skin)
        protein = scorer.prepared
        nearest = torch.cdist(starts.reshape(-1, 3).float(), protein.pos).min(dim=0).values
        near = torch.nonzero(nearest < self.cutoff + margin).flatten()
        self.pos = protein.pos[near]
        self.radius_sum = ligand.radius[:, None] + protein.radius[near][None, :]  # (n, m)
        hydrophobic, hbond = xs_pair_masks(ligand.xs[:, None], protein.xs[near][None, :])
        w = VINA_WEIGHTS_KCAL  # kcal/mol -> pK, favourable positive
        self.w_hydrophobic = -w["hydrophobic"] / KCAL_PER_PK * hydrophobic
        self.w_hbond = -w["hbond"] / KCAL_PER_PK * hbond
        self._built_at: torch.Tensor | None = None

    def __call__(self, pos: torch.Tensor) -> torch.Tensor:
        """(S,) energies of poses (S, n, 3); higher is better, as for the model's score.

        Vina's formula on a Verlet list: each ligand atom of each pose meets only the pocket atoms
        within cutoff + skin of where it was when the list was built, rebuilt once any atom has
        moved skin / 2 (so no pair within the cutoff is ever missed: pairs beyond it weigh zero).
        That is 3-4x fewer pairs than every pocket atom near the starts. The derivative in d is
        written out beside the energy (:class:`_PocketPriorEnergy`): autograd through the same
        formula spent 60 % of a coarse step in backward. Both are tested against the dense formula
        under autograd (tests/test_enantiomer_protocols.py)."""
        x = pos.detach().float()
        if self._built_at is None or self._built_at.shape != x.shape or float((x - self._built_at).norm(dim=-1).max()) > self.skin / 2:
            self._build(x)
        return _PocketPriorEnergy.apply(pos.float(), self).double()

    def _build(self, x: torch.Tensor) -> None:
        """The Verlet list of poses ``x`` (S, n, 3): per (pose, atom) the K nearest-listed pocket atoms,
        padded; padding sits far beyond the cutoff, where every term and slope is zero."""
        listed = torch.cdist(x, self.pos[None].expand(x.shape[0], -1, -1)) < self.cutoff + self.skin  # (S, n, m)
        k = max(1, int(listed.sum(-1).max()))
        order = torch.argsort((~listed).to(torch.int8), dim=-1, stable=True)[..., :k]  # listed atoms first
        self._built_at, self._valid = x.clone(), listed.gather(-1, order)
        self._neighbour_pos = self.pos[order]  # (S, n, k, 3)
        per_pair = lambda table: table[None].expand(x.shape[0], -1, -1).gather(-1, order)  # noqa: E731
        self._radius_sum, self._w_hydrophobic, self._w_hbond = per_pair(self.radius_sum), per_pair(self.w_hydrophobic), per_pair(self.w_hbond)

    def energy_terms(self, d: torch.Tensor, with_slope: bool, pair_tables: tuple | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Per-pair energy at distances ``d`` and, if asked, its derivative in d. ``pair_tables``:
        (radius sums, hydrophobic and h-bond weights) shaped like ``d``; by default the dense (n, m) ones."""
        radius_sum, w_hydrophobic, w_hbond = pair_tables or (self.radius_sum, self.w_hydrophobic, self.w_hbond)
        w = VINA_WEIGHTS_KCAL
        x = d - radius_sum  # surface distance
        overlap = torch.relu(-x)
        g1 = gaussian(x / 0.5)  # capped: exp's underflow path is 50-100x slower (see gaussian)
        g2 = gaussian((x - 3.0) / 2.0)
        hydrophobic = torch.clamp(1.5 - x, 0.0, 1.0)
        hbond = torch.clamp(-x / 0.7, 0.0, 1.0)
        inside = d < self.cutoff
        kcal = w["gauss1"] * g1 + w["gauss2"] * g2 + w["repulsion"] * overlap ** 2
        vina = (-kcal / KCAL_PER_PK + w_hydrophobic * hydrophobic + w_hbond * hbond) * inside
        excess = torch.relu(overlap - CLASH_ONSET)
        switch = cosine_cutoff(d, self.cutoff)
        energy = vina - self.clash_weight * excess ** 2 * switch
        if not with_slope:
            return energy, None
        dkcal = w["gauss1"] * g1 * (-8.0 * x) + w["gauss2"] * g2 * (-(x - 3.0) / 2.0) - 2.0 * w["repulsion"] * overlap
        dvina = (-dkcal / KCAL_PER_PK - w_hydrophobic * ((x > 0.5) & (x < 1.5)) - w_hbond / 0.7 * ((x > -0.7) & (x < 0.0))) * inside
        dswitch = torch.where(inside, -0.5 * math.pi / self.cutoff * torch.sin(math.pi * d / self.cutoff), torch.zeros_like(d))
        slope = dvina - self.clash_weight * (-2.0 * excess * switch + excess ** 2 * dswitch)
        return energy, slope


class _PocketPriorEnergy(torch.autograd.Function):
    """Sum of :meth:`PocketPrior.energy_terms` per pose over its Verlet list, with the gradient in
    the positions made in the same pass (dE/dpos = sum over listed atoms of dE/dd * unit vector):
    no graph of intermediates."""

    @staticmethod
    def forward(ctx, pos: torch.Tensor, prior: PocketPrior) -> torch.Tensor:
        diff = pos[:, :, None] - prior._neighbour_pos  # (S, n, k, 3)
        d = torch.where(prior._valid, diff.norm(dim=-1), prior.cutoff + prior.skin + 1.0)  # padding: beyond every term
        energy, slope = prior.energy_terms(d, ctx.needs_input_grad[0], (prior._radius_sum, prior._w_hydrophobic, prior._w_hbond))
        if slope is not None:
            ctx.save_for_backward(((slope / d.clamp_min(1e-9))[..., None] * diff).sum(2))
        return energy.sum((1, 2))

    @staticmethod
    def backward(ctx, grad_energy: torch.Tensor):
        (grad_pos,) = ctx.saved_tensors
        return grad_energy[:, None, None] * grad_pos, None


@contextmanager
def _frozen(model: torch.nn.Module) -> Iterator[None]:
    """Parameters out of autograd for the duration: the optimiser differentiates coordinates only
    (backward through the weights is a sixth of a step's time)."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def optimize_poses(scorer, ligands: list[PreparedLigand], steps: int = 50, lr: float = 0.05, torsions: bool = True,
                   clash_weight: float = 1.0, coarse_steps: int = 0, patience: int | None = None) -> list[OptimizedPose]:
    """Optimise several starts of one molecule (same heavy-atom graph, e.g. both enantiomers) in
    one batch: each start has its own rigid-body and torsion parameters; scores are independent.

    Coarse to fine: ``coarse_steps`` Adam steps under :class:`PocketPrior` first (cheap), then
    ``steps`` under the model, from where the coarse phase left each start. A start whose model
    score has not improved for ``patience`` model steps stops (None: never). The best pose under
    the model is kept, the start included, so no start ends worse than it began.

    Scores here (objective, start and best) use the prior's hard wall (:func:`prior_hard_wall`):
    a soft core is for scoring given poses, never for moving atoms."""
    with prior_hard_wall(scorer.model), _frozen(scorer.model):
        return _optimize_poses(scorer, ligands, steps, lr, torsions, clash_weight, coarse_steps, patience)


def _optimize_poses(scorer, ligands: list[PreparedLigand], steps: int, lr: float, torsions: bool,
                    clash_weight: float, coarse_steps: int, patience: int | None) -> list[OptimizedPose]:
    heavy = ligands[0].heavy
    tors = rotatable_torsions(heavy) if torsions and heavy is not None else []
    pairs = ligands[0].far_pairs
    starts = torch.stack([lig.pos.detach().double() for lig in ligands])  # (S, n, 3)
    S = starts.shape[0]
    t = torch.zeros((S, 3), dtype=torch.float64, requires_grad=True)
    w = torch.full((S, 3), 1e-4, dtype=torch.float64, requires_grad=True)
    theta = torch.zeros((S, len(tors)), dtype=torch.float64, requires_grad=True)

    def adam():
        return torch.optim.Adam([{"params": [t], "lr": 2 * lr}, {"params": [w, theta], "lr": lr}])

    def clash_of(pos: torch.Tensor) -> torch.Tensor:
        return torch.stack([self_clash(x, pairs) for x in pos])

    with torch.no_grad():  # a start outside the pocket raises the graph's own InputError
        start_scores = scorer.forward([scorer.graph(lig.with_positions(x.float())) for lig, x in zip(ligands, starts)])["score"].tolist()
        start_clash = clash_of(starts).tolist()
    best = [(sc, x.clone()) for sc, x in zip(start_scores, starts)]

    if coarse_steps:
        objective, opt = PocketPrior(scorer, ligands[0], starts), adam()
        for _ in range(coarse_steps):
            pos = poses_from_parameters(starts, tors, t, w, theta)
            loss = (-objective(pos) + clash_weight * clash_of(pos)).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()

    def evaluate(positions: torch.Tensor, active: list[int]) -> tuple[list[int], torch.Tensor | None]:
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

    opt = adam()
    active, done = list(range(S)), 0
    stale = [0] * S
    for step in range(steps):
        positions = poses_from_parameters(starts, tors, t, w, theta)
        active, scores = evaluate(positions, active)
        if not active:
            break
        clashes = clash_of(positions[active])
        current, current_clash = scores.detach().tolist(), clashes.detach().tolist()
        for n, k in enumerate(active):
            if current[n] > best[k][0] + 1e-3 and current_clash[n] <= start_clash[k] + 0.5:
                best[k], stale[k] = (current[n], positions[k].detach().clone()), 0
            else:
                stale[k] += 1
        done = step + 1
        if patience is not None:
            active = [k for k in active if stale[k] < patience]
        if done == steps or not active:  # no evaluation follows: a last gradient step would be wasted
            break
        loss = (-scores.double() + clash_weight * clashes).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
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
