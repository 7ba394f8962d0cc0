"""Neighbour lists in plain torch (torch-cluster/pyg-lib are not installable everywhere).

One function, :func:`radius_pairs`, behind which a faster backend can be swapped in.
Blocked over the query set so memory stays bounded for large inputs.
"""

from __future__ import annotations

import torch


def radius_pairs(query: torch.Tensor, points: torch.Tensor, cutoff: float, block: int = 4096) -> torch.Tensor:
    """All (i, j) with ``|query[i] - points[j]| < cutoff``, as a (2, E) long tensor, sorted by i."""
    out = []
    for start in range(0, query.shape[0], block):
        d = torch.cdist(query[start : start + block], points, compute_mode="donot_use_mm_for_euclid_dist")
        i, j = torch.nonzero(d < cutoff, as_tuple=True)
        out.append(torch.stack([i + start, j]))
    if not out:
        return torch.zeros((2, 0), dtype=torch.long, device=query.device)
    return torch.cat(out, dim=1)


def radius_graph(pos: torch.Tensor, cutoff: float) -> torch.Tensor:
    """Directed edges (src, dst) between distinct points closer than ``cutoff``."""
    pairs = radius_pairs(pos, pos, cutoff)
    return pairs[:, pairs[0] != pairs[1]]
