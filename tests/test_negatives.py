"""Enantiomer negatives: the ligand's other hand, placed in the same (L-protein) pocket."""

from __future__ import annotations

import torch
from rdkit import Chem
from rdkit.Geometry import Point3D

from dockscore.io.ligands import iter_ligands
from dockscore.io.protein import read_protein
from dockscore.negatives import enantiomer_negatives, enantiomer_pose, prior_model
from dockscore.stereo import geometry_stereo, perceive

from .conftest import LIGANDS_1IA1, LIGAND_1S3V, PROTEIN_1IA1, PROTEIN_1S3V


def _with_heavy_positions(mol: Chem.Mol, pos: torch.Tensor) -> Chem.Mol:
    heavy = Chem.RemoveAllHs(mol)
    conf = heavy.GetConformer()
    for k, (x, y, z) in enumerate(pos.tolist()):
        conf.SetAtomPosition(k, Point3D(x, y, z))
    return heavy


def test_the_negative_is_the_other_hand_in_the_pocket_in_the_files_atom_order():
    crystal = next(iter_ligands(LIGAND_1S3V)).mol
    pos = enantiomer_pose(PROTEIN_1S3V, LIGAND_1S3V, prior_model())
    assert pos is not None and pos.shape == (crystal.GetNumHeavyAtoms(), 3)
    before = perceive(geometry_stereo(Chem.RemoveAllHs(crystal))).cip()
    after = perceive(geometry_stereo(_with_heavy_positions(crystal, pos))).cip()
    assert before == "1:S;5:R" and after == "1:R;5:S"  # every centre inverted, same atom order
    protein = torch.from_numpy(read_protein(PROTEIN_1S3V).coords.astype("float32"))
    assert float(torch.cdist(pos, protein).min()) > 2.0  # placed in the pocket, not through the protein
    assert float(torch.cdist(pos, protein).min(dim=1).values.max()) < 8.0  # every atom still in the pocket


def test_an_achiral_ligand_has_no_negative_and_the_store_is_reused(tmp_path):
    root = tmp_path / "pdbbind"
    for name, protein, ligand in (("chiral", PROTEIN_1S3V, LIGAND_1S3V), ("achiral", PROTEIN_1IA1, LIGANDS_1IA1)):
        (root / name).mkdir(parents=True)
        (root / name / "protein.pdb").write_bytes(protein.read_bytes())
        (root / name / "ligand.sdf").write_bytes(ligand.read_bytes())
    store = tmp_path / "negatives.pt"
    first = enantiomer_negatives(root, ["chiral", "achiral"], store, log=lambda *a: None)
    assert set(first) == {"chiral"} and store.exists()
    again = enantiomer_negatives(root, ["chiral", "achiral"], store, log=lambda *a: print("recomputed", *a))
    assert torch.equal(again["chiral"], first["chiral"])


def test_without_the_mirror_hinge_the_mirror_gap_earns_no_selection_credit():
    """A D-protein gap is not a reason to pick an epoch when the recipe never asked for one."""
    from dockscore.train import TrainConfig, _mirror_credit

    assert _mirror_credit({"mirror_mean_gap": 5.0}, TrainConfig(symmetry="se3", mirror_weight=0.0, enantiomer_weight=1.0)) == 0.0
    assert _mirror_credit({"mirror_mean_gap": 0.5}, TrainConfig(symmetry="se3", mirror_weight=1.0)) == 0.5
