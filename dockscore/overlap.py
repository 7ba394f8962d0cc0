"""How deep a pose's heavy atoms sit inside the protein: the closest contact, the clashing pairs,
and the fixed overlap wall that keeps such poses from scoring well.

The overlap of a ligand–protein heavy-atom pair is ``R_i + R_j - d`` (Vina's X-Score radii,
:data:`dockscore.features.VDW_RADIUS`; positive inside van der Waals contact). Crystal complexes
rarely go past :data:`OVERLAP_ONSET`: over the 636 training + validation crystal poses, 94.2 %
have no pair beyond it and the deepest summed overlap past it is 1.53 A (covalent ligands: a C–S
or B–O bond to the protein, 1.4–1.9 A, is an overlap of about 2 A). A ligand pushed 1–2 A into
its protein has a dozen such pairs and 5 A of summed overlap (medians).

Why a wall: the learned correction rewards contact (its H-bond and hydrophobic shapes saturate
at full reward inside contact, as Vina's do), and the prior's soft core (PRIOR_REPULSION_NOTE in
:mod:`dockscore.model`) stops its repulsion at 0.7 A. Together they let a ligand pushed into its
protein outscore its crystal pose (27 of 40 held-out complexes for the E(3) model before the
wall). The wall grows linearly with each pair's overlap past the onset and is added after the
pK calibration, so its slope is ``ModelConfig.overlap_wall`` pK per A per pair as stated,
whatever the model learned.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from dockscore.definitions import OVERLAP_ALLOWANCE, OVERLAP_ONSET  # noqa: F401  (defined beside the score's units)



def format_length(value: float | None) -> str:
    """A distance or overlap in A as the tables write it: two decimals, empty when there is none."""
    return "" if value is None or not math.isfinite(value) else f"{value:.2f}"


def pair_overlap(pos: torch.Tensor, radius: torch.Tensor, pair_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(distance, overlap) of every (ligand node, protein node) pair, each (P,) in A."""
    i, j = pair_index
    d = (pos.index_select(0, i) - pos.index_select(0, j)).norm(dim=-1)
    return d, radius.index_select(0, i) + radius.index_select(0, j) - d


def overlap_wall(overlap: torch.Tensor, weight: float, pair_graph: torch.Tensor, num_graphs: int) -> torch.Tensor:
    """(P,) wall energy in pK (<= 0): ``-weight`` per A of a pose's summed overlap past the onset
    beyond :data:`OVERLAP_ALLOWANCE`, shared among its pairs in proportion to their excess.

    Linear, not quadratic: once a pose is past the allowance its slope is ``weight`` per pair, so
    a deeper push always costs, and a pose just past it pays little."""
    excess = torch.relu(overlap - OVERLAP_ONSET)
    total = torch.zeros(num_graphs, device=overlap.device, dtype=overlap.dtype).index_add(0, pair_graph, excess)
    share = torch.relu(total - OVERLAP_ALLOWANCE) / total.clamp_min(1e-9)
    return -weight * excess * share.index_select(0, pair_graph)


def correction_share(overlap: torch.Tensor, fade: float, floor: float) -> torch.Tensor:
    """Per pose, the share of the learned correction it keeps: 1 with no pair past the onset,
    falling linearly to ``floor`` at ``fade`` A of summed overlap past it (``overlap``: the
    :func:`pose_contacts` column), ``floor`` beyond.

    The correction was fitted on crystal poses (94 % have no pair past the onset); on a pose
    inside the protein it extrapolates, and it extrapolates upward, since its contact shapes
    saturate at full reward. Fading it there leaves every pose without overlap as it was."""
    return 1.0 - (1.0 - floor) * torch.clamp(overlap / fade, 0.0, 1.0)


def pose_contacts(d: torch.Tensor, overlap: torch.Tensor, pair_graph: torch.Tensor, num_graphs: int) -> dict[str, torch.Tensor]:
    """Per pose: ``closest_contact`` (A, the shortest ligand–protein heavy-atom distance among the
    scored pairs), ``clashes`` (pairs overlapping past :data:`OVERLAP_ONSET`) and ``overlap`` (A,
    their summed overlap past it: a pose is physically valid up to :data:`OVERLAP_ALLOWANCE`)."""
    closest = torch.full((num_graphs,), float("inf"), device=d.device, dtype=d.dtype)
    closest = closest.scatter_reduce(0, pair_graph, d, reduce="amin")
    zeros = torch.zeros(num_graphs, device=d.device, dtype=d.dtype)
    clashes = zeros.index_add(0, pair_graph, (overlap > OVERLAP_ONSET).to(d.dtype))
    excess = zeros.index_add(0, pair_graph, torch.relu(overlap - OVERLAP_ONSET))
    return {"closest_contact": closest, "clashes": clashes, "overlap": excess}


# The clash test of issue 26: a crystal ligand moved rigidly into its protein.
PUSH_SHIFTS = (1.0, 1.5, 2.0)  # A
PUSH_DIRECTIONS = tuple(
    tuple(c / math.sqrt(x * x + y * y + z * z) for c in (x, y, z))
    for x in (-1, 0, 1) for y in (-1, 0, 1) for z in (-1, 0, 1) if (x, y, z) != (0, 0, 0)
)  # the 26 unit vectors of a 3 x 3 x 3 grid


def pushed_into_protein(ligand_pos: np.ndarray, protein_pos: np.ndarray, shifts: tuple[float, ...] = PUSH_SHIFTS,
                        closest: float = 1.5, near: float = 2.2, min_near: int = 3) -> list[tuple[int, float, np.ndarray]]:
    """Rigid moves of a pose that put it inside the protein: (direction index in
    :data:`PUSH_DIRECTIONS`, shift in A, moved positions) of every move along the 26 grid
    directions by each of ``shifts`` after which the closest ligand–protein heavy-atom distance
    is under ``closest`` A with at least ``min_near`` ligand heavy atoms within ``near`` A of the
    protein. ``ligand_pos``: (n, 3) heavy atoms; ``protein_pos``: (m, 3) heavy atoms."""
    moves = []
    for k, direction in enumerate(PUSH_DIRECTIONS):
        for shift in shifts:
            moved = ligand_pos + shift * np.asarray(direction)
            nearest = np.sqrt(((moved[:, None, :] - protein_pos[None, :, :]) ** 2).sum(-1)).min(1)
            if nearest.min() < closest and int((nearest < near).sum()) >= min_near:
                moves.append((k, shift, moved))
    return moves
