"""Enantiomer negatives for training: each chiral crystal ligand's mirror image, placed in its own
(L-protein) pocket by the prior-only search of ``dockscore enantiomers``.

Why not the mirror image of the whole complex: that holds a D-protein, which no real complex has,
so a hinge on it can be met from the protein's hand alone (docs/history.md, "What the mirror
hinge teaches"). With the protein kept as it is, the only thing that tells the two poses apart is
the ligand's hand in the pocket: the question ``dockscore enantiomers`` asks of a trained model.
The placement uses the fixed Vina-typed prior only, so it does not depend on the model being
trained and is computed once per complex.
"""

from __future__ import annotations

from pathlib import Path

import torch
from rdkit import Chem

from dockscore.enantiomers import compare_stereoisomers
from dockscore.io.ligands import iter_ligands
from dockscore.io.protein import read_protein
from dockscore.model import DockScoreModel, ModelConfig, learned_correction_off
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
