"""The training losses, one function each, all in pK units (see dockscore.training.loop for why
each is there). ``scores``: the batch's scores; index lists point into it."""

from __future__ import annotations

import torch


def affinity_loss(scores: torch.Tensor, natives: torch.Tensor, targets: torch.Tensor, delta: float) -> torch.Tensor:
    """Huber loss between each crystal pose's score and its measured pK."""
    return torch.nn.functional.huber_loss(scores[natives], targets, delta=delta)


def ranking_hinge(scores: torch.Tensor, pairs: list[tuple[int, int, float]]) -> torch.Tensor:
    """Mean hinge over (positive, negative, margin): the positive must outscore the negative by the
    margin (decoys by an RMSD-grown margin; mirror images, pushed poses and enantiomers by theirs)."""
    dev = scores.device
    a = torch.tensor([p[0] for p in pairs], device=dev)
    b = torch.tensor([p[1] for p in pairs], device=dev)
    margin = torch.tensor([p[2] for p in pairs], device=dev)
    return torch.relu(scores[b] - scores[a] + margin).mean()


def listwise_pose_loss(scores: torch.Tensor, lists: list[tuple[int, list[bool]]]) -> torch.Tensor:
    """Over each complex's docked decoys (first index, near-native flags), minus the log of the softmax
    mass on the poses within 2 A: docking power with the native pose excluded, trained directly."""
    terms = []
    for first, near in lists:
        logits = scores[first : first + len(near)]
        mask = torch.tensor(near, device=scores.device)
        terms.append(torch.logsumexp(logits, 0) - torch.logsumexp(logits[mask], 0))
    return torch.stack(terms).mean()


def within_protein_loss(scores: torch.Tensor, natives: torch.Tensor, targets: torch.Tensor, same: list[tuple[int, int]],
                        delta: float) -> torch.Tensor:
    """Huber loss between the score differences and the pK differences of two complexes of one protein
    (``same``: pairs of positions in ``natives``)."""
    dev = scores.device
    i = natives[torch.tensor([p[0] for p in same], device=dev)]
    j = natives[torch.tensor([p[1] for p in same], device=dev)]
    target_diff = targets[[p[0] for p in same]] - targets[[p[1] for p in same]]
    return torch.nn.functional.huber_loss(scores[i] - scores[j], target_diff, delta=delta)


def nonbinder_loss(scores: torch.Tensor, unbound: list[tuple[int, int]], margin: float, ceiling: float) -> torch.Tensor:
    """Mean over (pocket's own ligand, non-binder) index pairs of two hinges (pK): the non-binder
    ``margin`` below the own ligand, and no higher than ``ceiling``."""
    own = scores[torch.tensor([a for a, _ in unbound], device=scores.device)]
    other = scores[torch.tensor([b for _, b in unbound], device=scores.device)]
    return (torch.relu(other - own + margin) + torch.relu(other - ceiling)).mean()
