"""bench/pose_finetune.py (an experiment): the loss it fine-tunes with, the complexes it trains on,
and the starting point it turns a shipped member into."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from pose_finetune import hinge_top1_loss, pose_member, with_both_kinds  # noqa: E402


def test_hinge_is_zero_once_the_best_near_native_pose_leads_by_the_margin_and_grows_with_the_best_far_pose():
    near = torch.tensor([True, False, False])
    assert float(hinge_top1_loss(torch.tensor([5.0, 4.0, 3.0]), near, 0.5)) == 0.0
    assert float(hinge_top1_loss(torch.tensor([5.0, 4.8, 3.0]), near, 0.5)) == pytest.approx(0.3)
    # only the best far pose counts: lowering the others changes nothing, raising it costs
    assert float(hinge_top1_loss(torch.tensor([5.0, 6.0, -9.0]), near, 0.5)) == pytest.approx(1.5)
    assert float(hinge_top1_loss(torch.tensor([5.0, 7.0, -9.0]), near, 0.5)) == pytest.approx(2.5)
    scores = torch.tensor([5.0, 6.0, 1.0], requires_grad=True)
    hinge_top1_loss(scores, near, 0.5).backward()
    assert scores.grad.tolist() == [-1.0, 1.0, 0.0]


def test_only_complexes_with_near_and_far_decoys_are_kept():
    cx = lambda *rmsd: SimpleNamespace(decoys=[(None, r) for r in rmsd])  # noqa: E731
    both, near_only, far_only, none = cx(0.5, 4.0), cx(0.5, 1.9), cx(2.0, 6.0), cx()
    assert with_both_kinds([both, near_only, far_only, none]) == [both]


def test_the_starting_point_doubles_the_prior_and_drops_the_soft_core():
    from dockscore.checkpoint import load_model

    shipped = load_model(symmetry="e3")
    prior, cap = shipped.members[0].config.vina_prior, shipped.members[0].head.prior_overlap_cap
    assert cap is not None
    member = pose_member(shipped.members[0])
    assert member.config.vina_prior == member.head.vina_prior == pytest.approx(2 * prior)
    assert member.config.prior_overlap_cap is None and member.head.prior_overlap_cap is None
