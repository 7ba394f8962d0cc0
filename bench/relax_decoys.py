"""Experiment: add docking-like decoys to the *training* complexes of a tensor cache.

    python bench/relax_decoys.py .cache/pdbbind.pt .cache/pdbbind_relaxed.pt [--jobs 2]
    CACHE=.cache/pdbbind_relaxed.pt bench/train_sweep_gpu.sh OUTDIR BUDGET "name seed pose_weight max_decoys" ...

Why: the held-out docking test asks the score to pick a near-native pose among poses a docking
program left in minima of a Vina-like function. The rigid and torsional perturbations the
training hinge uses are mostly clashing, easy negatives, and only ~180 training complexes carry
docked decoys. Perturbed crystal poses relaxed (rigid body + torsions, Adam) in the Vina-typed
prior the model corrects give every training complex plausible near- and far-from-native minima
to rank, from the tensor cache alone (no docking program, no RDKit).

Labels are symmetry-corrected heavy-atom RMSDs (minimum over the element-labelled ligand graph's
automorphisms), as docking benchmarks compute them. Relaxed poses that clash with themselves or
drift out of the pocket are dropped. Only models/split.json's train complexes get new decoys:
validation, test and the FEP targets keep exactly their smina decoys. Deterministic: each
complex's generator is seeded from its PDB id.

Not the shipped recipe: validation docking did not move (see the dockscore-e3 model card,
"Docking power: what was tried").
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import torch
from networkx.algorithms.isomorphism import GraphMatcher

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dockscore.features import N_ELEM, OFF_ELEM  # noqa: E402
from dockscore.graph import GraphSettings, PreparedLigand, PreparedProtein  # noqa: E402
from dockscore.model import ModelConfig, interaction_terms, vina_prior_energy  # noqa: E402
from dockscore.optimize import Torsion, pose_from_parameters, self_clash, torsions_from_bonds  # noqa: E402
from dockscore.train import load_complexes, save_complexes  # noqa: E402

PRIOR_CUTOFF = ModelConfig().pocket_cutoff  # A: the prior's pair cutoff in the model (Vina's 8 A)


@dataclass
class DecoySettings:
    near: int = 6  # starts a small move away from the crystal pose (relax back near it, mostly)
    far: int = 8  # starts anywhere around the pocket centre with random torsions
    steps: int = 40  # Adam steps of rigid-body + torsion relaxation in the prior
    lr: float = 0.05
    pocket_radius: float = 4.0  # far starts: centroid shift up to this, A
    max_automorphisms: int = 2000


def automorphisms(ligand: PreparedLigand, limit: int = 2000) -> torch.Tensor:
    """(A, n) atom permutations that map the element-labelled bond graph onto itself."""
    n = ligand.pos.shape[0]
    g = nx.Graph()
    element = ligand.x[:, OFF_ELEM : OFF_ELEM + N_ELEM].argmax(1).tolist()
    g.add_nodes_from((i, {"e": element[i]}) for i in range(n))
    g.add_edges_from(zip(ligand.bond_index[0].tolist(), ligand.bond_index[1].tolist()))
    perms = []
    for mapping in GraphMatcher(g, g, node_match=lambda a, b: a["e"] == b["e"]).isomorphisms_iter():
        perms.append([mapping[i] for i in range(n)])
        if len(perms) >= limit:
            break
    return torch.tensor(perms or [list(range(n))])


def symmetric_rmsd(pos: torch.Tensor, reference: torch.Tensor, perms: torch.Tensor) -> torch.Tensor:
    """RMSD of each pose in ``pos`` (B, n, 3) to ``reference`` (n, 3), minimised over ``perms``."""
    permuted = reference[perms]  # (A, n, 3)
    d2 = ((pos[:, None] - permuted[None]) ** 2).sum(-1).mean(-1)  # (B, A)
    return d2.min(1).values.sqrt()


def _batched_pose(start: torch.Tensor, torsions: list[Torsion], t: torch.Tensor, w: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Poses (B, n, 3) from one start and B parameter sets (the pose optimiser's own parametrisation, vectorised)."""
    return torch.vmap(lambda t_, w_, theta_: pose_from_parameters(start, torsions, t_, w_, theta_))(t, w, theta)


def prior_energy(protein: PreparedProtein, ligand: PreparedLigand, pos: torch.Tensor, pocket: torch.Tensor) -> torch.Tensor:
    """The Vina-typed prior (pK units, + favourable, full wall) of poses ``pos`` (B, n, 3) against ``pocket`` atoms."""
    ppos, prad, pxs = protein.pos[pocket].to(pos.dtype), protein.radius[pocket].to(pos.dtype), protein.xs[pocket].to(pos.dtype)
    lxs, lrad = ligand.xs.to(pos.dtype), ligand.radius.to(pos.dtype)
    d = torch.cdist(pos, ppos[None].expand(pos.shape[0], -1, -1))  # (B, n, m)
    d_s = d - lrad[None, :, None] - prad[None, None, :]
    raw = interaction_terms(d_s.reshape(-1)) * (d.reshape(-1) < PRIOR_CUTOFF)[:, None].to(pos.dtype)
    n, m = pos.shape[1], ppos.shape[0]
    xi = lxs[:, None, :].expand(n, m, 3).reshape(-1, 3).repeat(pos.shape[0], 1)
    xj = pxs[None, :, :].expand(n, m, 3).reshape(-1, 3).repeat(pos.shape[0], 1)
    return vina_prior_energy(raw, xi, xj).view(pos.shape[0], -1).sum(-1)


def relaxed_decoys(protein: PreparedProtein, ligand: PreparedLigand, generator: torch.Generator,
                   settings: DecoySettings = DecoySettings()) -> list[tuple[torch.Tensor, float]]:
    """Perturbed copies of the crystal pose relaxed in the prior: [(positions (n, 3), symmetric RMSD)].

    Starts whose relaxed pose clashes with itself (atoms more than three bonds apart closer than
    2.6 A) are dropped; the score has no intramolecular term to tell such poses apart."""
    ref = ligand.pos.float()
    torsions = torsions_from_bonds(ref.shape[0], ligand.bond_index, ligand.bond_attr)
    B = settings.near + settings.far
    is_near = torch.arange(B) < settings.near
    g = lambda *shape: torch.randn(*shape, generator=generator, dtype=torch.float32)  # noqa: E731
    u = lambda *shape: torch.rand(*shape, generator=generator, dtype=torch.float32)  # noqa: E731
    # near: ~0.7 A shift, ~15 degree turn, torsions +-30 degrees; far: up to pocket_radius shift, any turn, any torsions
    direction = g(B, 3)
    direction = direction / direction.norm(dim=-1, keepdim=True)
    t0 = torch.where(is_near[:, None], g(B, 3) * 0.4, direction * u(B, 1) * settings.pocket_radius)
    axis = g(B, 3)
    axis = axis / axis.norm(dim=-1, keepdim=True)
    w0 = axis * torch.where(is_near, u(B) * 0.26, u(B) * math.pi)[:, None]
    theta0 = torch.where(is_near[:, None], (u(B, len(torsions)) * 2 - 1) * 0.52, (u(B, len(torsions)) * 2 - 1) * math.pi)
    t, w, theta = (p.clone().requires_grad_(True) for p in (t0, w0, theta0))
    pocket = torch.nonzero(torch.cdist(protein.pos.float(), ref).min(1).values < PRIOR_CUTOFF + settings.pocket_radius).flatten()
    i, j = ligand.far_pairs
    opt = torch.optim.Adam([{"params": [t], "lr": 2 * settings.lr}, {"params": [w, theta], "lr": settings.lr}])
    for _ in range(settings.steps):
        pos = _batched_pose(ref, torsions, t, w, theta)
        clash = torch.vmap(lambda x: self_clash(x, ligand.far_pairs))(pos)  # the pose optimiser's own penalty
        loss = (-prior_energy(protein, ligand, pos, pocket) + clash).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        pos = _batched_pose(ref, torsions, t, w, theta)
        ok = ~((pos[:, i] - pos[:, j]).norm(dim=-1) < 2.6).any(-1) if i.numel() else torch.ones(B, dtype=torch.bool)
        # a pose the score cannot build a pocket graph for teaches nothing (and stops an evaluation)
        gap = torch.cdist(pos, protein.pos.float()[None].expand(B, -1, -1)).amin((1, 2))
        ok &= gap < GraphSettings().pocket_cutoff - 1.0
        rmsd = symmetric_rmsd(pos, ref, automorphisms(ligand, settings.max_automorphisms))
    return [(pos[k].float(), float(rmsd[k])) for k in range(B) if bool(ok[k])]


_COMPLEXES: dict = {}


def _init(cache: str) -> None:
    torch.set_num_threads(1)
    _COMPLEXES.update({c.id: c for c in load_complexes(Path(cache))})


def _one(cid: str) -> tuple[str, list]:
    cx = _COMPLEXES[cid]
    gen = torch.Generator().manual_seed(zlib.crc32(cid.encode()))
    return cid, relaxed_decoys(cx.protein, cx.ligand, gen, DecoySettings())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("cache", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--split", type=Path, default=ROOT / "models" / "split.json")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    complexes = load_complexes(args.cache)
    train_ids = set(json.loads(args.split.read_text())["train"])
    todo = [c.id for c in complexes if c.id in train_ids]
    by_id = {c.id: c for c in complexes}
    t0, added = time.time(), 0
    with ProcessPoolExecutor(max_workers=args.jobs, initializer=_init, initargs=(str(args.cache),)) as pool:
        for k, (cid, decoys) in enumerate(pool.map(_one, todo, chunksize=4)):
            cx = by_id[cid]
            cx.decoys = cx.decoys + [(cx.ligand.with_positions(pos), rmsd) for pos, rmsd in decoys]
            added += len(decoys)
            if (k + 1) % 50 == 0:
                print(f"{k + 1}/{len(todo)} complexes, {added} decoys, {time.time() - t0:.0f} s", flush=True)
    save_complexes(complexes, args.out)
    near = sum(r < 2.0 for cid in todo for _, r in by_id[cid].decoys)
    print(f"{len(todo)} training complexes, {added} relaxed decoys added ({near} decoys < 2 A in all), {time.time() - t0:.0f} s -> {args.out}")


if __name__ == "__main__":
    main()
