"""Negatives for training, placed by the prior-only search: non-binders (below) and enantiomers. Enantiomers: each chiral crystal ligand's mirror image, placed in its own
(L-protein) pocket by the prior-only search of ``dockscore enantiomers``.

Why not the mirror image of the whole complex: that holds a D-protein, which no real complex has,
so a hinge on it can be met from the protein's hand alone (docs/history.md, "What the mirror
hinge teaches"). With the protein kept as it is, the only thing that tells the two poses apart is
the ligand's hand in the pocket: the question ``dockscore enantiomers`` asks of a trained model.
The placement uses the fixed Vina-typed prior only, so it does not depend on the model being
trained and is computed once per complex.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem

from dockscore.enantiomers import compare_stereoisomers
from dockscore.errors import InputError
from dockscore.io.ligands import iter_ligands
from dockscore.io.protein import read_protein
from dockscore.model import DockScoreModel, ModelConfig, learned_correction_off
from dockscore.optimize import optimize_poses
from dockscore.scoring import Scorer


def prior_model() -> DockScoreModel:
    """The placement objective: hard clash + Vina-typed prior, no learned part (untrained and
    switched off, so its random weights never enter)."""
    torch.manual_seed(0)
    return DockScoreModel(ModelConfig(symmetry="e3", vina_prior=1.0)).eval()


def enantiomer_pose(protein_path: Path, ligand_path: Path, model: DockScoreModel, starts: int = 4, coarse_steps: int = 30,
                    seed: int = 0) -> torch.Tensor | None:
    """Heavy-atom positions (RDKit heavy-atom order of the ligand file's first record) of the
    ligand's enantiomer at its best prior placement in the pocket; None if the ligand is not
    chiral or cannot be placed."""
    record = next(iter_ligands(ligand_path))
    with learned_correction_off(model):
        scorer = Scorer(read_protein(protein_path), model=model)
        comparison = compare_stereoisomers(scorer, record, starts=starts, steps=1, coarse_steps=coarse_steps, seed=seed,
                                           patience=None, protocol="anchored")
    if comparison.kind != "chiral" or comparison.enantiomer is None:
        return None
    heavy = Chem.RemoveAllHs(comparison.enantiomer.mol)
    return torch.tensor(heavy.GetConformer().GetPositions(), dtype=torch.float32)


def enantiomer_negatives(pdbbind_root: str | Path, ids: list[str], cache: Path | None = None, log=print) -> dict[str, torch.Tensor]:
    """:func:`enantiomer_pose` of every complex in ``ids`` that has one (read from / added to
    ``cache``, a torch file keyed by complex id, so folds and reruns share the work)."""
    root = Path(pdbbind_root)
    stored: dict[str, torch.Tensor | None] = torch.load(cache, weights_only=True) if cache is not None and Path(cache).exists() else {}
    todo = [i for i in ids if i not in stored]
    if todo:
        model = prior_model()
        for n, i in enumerate(todo):
            try:
                stored[i] = enantiomer_pose(root / i / "protein.pdb", root / i / "ligand.sdf", model)
            except Exception as exc:  # one complex that cannot be placed costs its negative only
                log(f"{i}: no enantiomer negative ({exc})")
                stored[i] = None
            if (n + 1) % 100 == 0:
                log(f"enantiomer negatives: {n + 1}/{len(todo)}")
        if cache is not None:
            Path(cache).parent.mkdir(parents=True, exist_ok=True)
            torch.save(stored, cache)
    return {i: stored[i] for i in ids if stored.get(i) is not None}


# -- non-binders: ligands of other proteins, placed in the pocket by the same prior-only search ----
# A model trained on crystal poses of binders only never learns what a ligand that does not bind a
# pocket looks like there; docking and screening show it nothing else (issue 26). A cross-docked
# ligand of another protein group, of about the same size (so ligand size is no shortcut, as in
# DUD-E's property-matched decoys), placed by the prior alone (so the placement does not depend on
# the model being trained) is such a pose. PIGNet (Moon et al. 2022) trained on cross-docked
# non-binders the same way; it pushed them below a fixed affinity, we also rank them below the
# pocket's own ligand.
SIZE_TOLERANCE = 0.15  # heavy atoms: a partner within 15 % (at least 2 atoms) of the pocket ligand's


def size_matched_partners(heavy_atoms: dict[str, int], group_of: dict[str, str], pockets: list[str], pool: list[str], k: int,
                          seed: int = 0) -> dict[str, list[str]]:
    """For each pocket (complex id), ``k`` ligands from ``pool`` of other protein groups with a
    heavy-atom count within :data:`SIZE_TOLERANCE` (the nearest sizes when fewer qualify)."""
    rng = np.random.default_rng(seed)
    out = {}
    for pocket in pockets:
        n = heavy_atoms[pocket]
        others = [j for j in pool if group_of[j] != group_of[pocket]]
        near = [j for j in others if abs(heavy_atoms[j] - n) <= max(2, SIZE_TOLERANCE * n)]
        if len(near) < k:
            near = sorted(others, key=lambda j: (abs(heavy_atoms[j] - n), j))[:k]
        out[pocket] = sorted(rng.choice(sorted(near), size=min(k, len(near)), replace=False).tolist())
    return out


def random_rotation(gen: torch.Generator) -> torch.Tensor:
    """A uniformly random 3 x 3 rotation (QR of a Gaussian matrix, signs fixed to det +1)."""
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=gen, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))
    return q if torch.det(q) > 0 else -q


def place_in_pocket(scorer: Scorer, mol: Chem.Mol, center: torch.Tensor, starts: int = 4, coarse_steps: int = 30,
                    seed: int = 0) -> torch.Tensor | None:
    """Heavy-atom positions of ``mol`` (its own conformer) at its best placement under the prior
    in ``scorer``'s pocket: ``starts`` random orientations centred on ``center``, each moved by
    ``coarse_steps`` prior-only steps with torsions. None if no start could be scored."""
    gen = torch.Generator().manual_seed(seed)
    base = scorer.prepare(mol)
    centred = base.pos.double() - base.pos.double().mean(0)
    placed = [base.with_positions((centred @ random_rotation(gen).T + center.double()).float()) for _ in range(starts)]
    with learned_correction_off(scorer.model):
        try:
            results = optimize_poses(scorer, placed, steps=1, coarse_steps=coarse_steps)
        except InputError:
            return None
    best = max(results, key=lambda r: r.score)
    return best.pos.float()


def nonbinder_store(cache: Path | None, out_dir: Path) -> Path:
    """Where placed non-binders are kept: beside the tensor cache (shared by runs), else in the run."""
    return Path(cache).with_suffix(".nonbinders.pt") if cache is not None else Path(out_dir) / "nonbinder_poses.pt"


def nonbinder_poses(pdbbind_root: str | Path, partners: dict[str, list[str]], cache: Path | None = None,
                    log=print) -> dict[tuple[str, str], torch.Tensor]:
    """(pocket id, ligand id) -> heavy-atom positions of that ligand placed in that pocket by
    :func:`place_in_pocket` (read from / added to ``cache``, keyed ``"pocket|ligand"``, so folds,
    recipes and reruns share the work). Pairs that could not be placed are left out."""
    root = Path(pdbbind_root)
    stored: dict[str, torch.Tensor | None] = torch.load(cache, weights_only=True) if cache is not None and Path(cache).exists() else {}
    todo = [(p, j) for p, ligands in partners.items() for j in ligands if f"{p}|{j}" not in stored]
    if todo:
        model = prior_model()
        mols: dict[str, Chem.Mol] = {}
        t0 = time.time()
        for n, (pocket, ligand) in enumerate(todo):
            try:
                if ligand not in mols:
                    mols[ligand] = next(iter_ligands(root / ligand / "ligand.sdf")).mol
                scorer = Scorer(read_protein(root / pocket / "protein.pdb"), model=model, stereo=False)
                own = next(iter_ligands(root / pocket / "ligand.sdf")).mol
                center = torch.tensor(Chem.RemoveAllHs(own).GetConformer().GetPositions().mean(0))
                stored[f"{pocket}|{ligand}"] = place_in_pocket(scorer, mols[ligand], center, seed=_pair_seed(pocket, ligand))
            except Exception as exc:  # one pair that cannot be placed costs that pair only
                log(f"{ligand} in {pocket}: not placed ({exc})")
                stored[f"{pocket}|{ligand}"] = None
            if (n + 1) % 100 == 0:
                log(f"non-binder placements: {n + 1}/{len(todo)} ({time.time() - t0:.0f} s)")
                if cache is not None:
                    _save(stored, Path(cache))
        if cache is not None:
            _save(stored, Path(cache))
    return {(p, j): stored[f"{p}|{j}"] for p, ligands in partners.items() for j in ligands if stored.get(f"{p}|{j}") is not None}


def _pair_seed(pocket: str, ligand: str) -> int:
    """A placement's seed from the pair alone, so a pose does not depend on what a store held before."""
    return int.from_bytes(hashlib.blake2b(f"{pocket}|{ligand}".encode(), digest_size=4).digest(), "little")


def _save(stored: dict, path: Path) -> None:
    """Add ``stored`` to the store at ``path``. Runs share one store (CV folds on two cores), so
    the write holds a lock and merges with what another run wrote since this one read it, rather
    than replacing it (which lost the other run's placements)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():  # what another run placed since this one read the store
            for key, pose in torch.load(path, weights_only=True).items():
                stored.setdefault(key, pose)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        torch.save(stored, partial)
        partial.replace(path)
