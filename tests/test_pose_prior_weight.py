"""bench/pose_prior_weight.py (an experiment, not shipped): the pose score it reads, and the
checkpoint copy through which bench/compare_vina.py read it on held-out complexes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest
import torch

from dockscore import Scorer

from .conftest import PROTEIN_1S3V

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from pose_prior_weight import PRIOR, checkpoint, docking, pose_score  # noqa: E402


def test_pose_score_adds_the_prior_term_w_minus_one_times():
    terms = torch.tensor([[1.0, -0.5, 0.0, 0.2, 0.1, -0.1, -0.3, 4.0], [2.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0]])
    assert PRIOR == 7
    assert torch.allclose(pose_score(terms, 1.0), terms.sum(-1))
    assert torch.allclose(pose_score(terms, 3.0), terms.sum(-1) + 2 * terms[:, 7])


def test_docking_counts_only_complexes_with_decoys_on_both_sides_and_excludes_the_native():
    def row(rmsd, prior, learned):
        terms = torch.zeros(len(rmsd), 8)
        terms[:, 7], terms[:, 0] = torch.tensor(prior), torch.tensor(learned)
        return {"rmsd": torch.tensor(rmsd), "terms": terms}

    # decoy 1 (0.8 A) wins on the prior, decoy 2 (5 A) on the learned term; the native (row 0) would win on both
    flips = row([0.0, 0.8, 5.0], prior=[9.0, 2.0, 1.0], learned=[9.0, 0.0, 1.5])
    no_near_native = row([0.0, 3.0, 5.0], prior=[1.0, 2.0, 1.0], learned=[0.0, 0.0, 0.0])
    assert docking([flips, no_near_native], 1.0) == (0, 1)
    assert docking([flips, no_near_native], 3.0) == (1, 1)


def test_the_checkpoint_copy_scores_every_pose_with_the_pose_score(tmp_path, crystal_1s3v):
    from dockscore.optimize import perturb_pose

    out = tmp_path / "pose.safetensors"
    checkpoint(argparse.Namespace(out=out, weight=2.0))
    shipped, copy = Scorer(PROTEIN_1S3V, symmetry="e3", stereo=False), Scorer(PROTEIN_1S3V, model=out, stereo=False)
    ligand = shipped.prepare(crystal_1s3v)
    gen = torch.Generator().manual_seed(0)
    poses = [ligand] + [perturb_pose(ligand, gen, max_angle=0.5, shift=1.0)[0] for _ in range(4)]
    with torch.no_grad():
        a = shipped.forward([shipped.graph(p) for p in poses])
        b = copy.forward([copy.graph(p) for p in poses])
    assert torch.allclose(b["score"], pose_score(a["terms"], 2.0) + shipped.model.offset, atol=1e-3)
    assert not torch.allclose(b["score"], a["score"], atol=0.1)  # the prior term is large: the copy is not the shipped score
    assert copy.model.config.vina_prior == pytest.approx(2 * shipped.model.config.vina_prior)
