"""bench/dock_train_decoys.py: docked poses come back from meeko in its own atom order; the
mapping onto the ligand's heavy atoms must be exact, whatever the order, H or charge form."""

from __future__ import annotations


import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import AllChem


from .conftest import bench_script

heavy_atom_order = bench_script("dock_train_decoys").heavy_atom_order


def embedded(smiles: str) -> Chem.Mol:
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.EmbedMolecule(mol, randomSeed=3)
    return mol


@pytest.mark.parametrize("seed", range(3))
def test_shuffled_protonated_copy_maps_back_onto_the_heavy_atoms(seed):
    mol = embedded("OC(=O)c1ccc(cc1)C[C@H](N)C(=O)NC")
    reference = Chem.RemoveHs(mol)
    shuffled = Chem.RenumberAtoms(mol, np.random.default_rng(seed).permutation(mol.GetNumAtoms()).tolist())
    order = heavy_atom_order(reference, shuffled)
    np.testing.assert_allclose(shuffled.GetConformer().GetPositions()[order], reference.GetConformer().GetPositions())


def test_another_charge_form_still_maps():
    reference = Chem.RemoveHs(embedded("CC(=O)O"))
    ionised = Chem.RWMol(reference)
    oxygen = [a.GetIdx() for a in ionised.GetAtoms() if a.GetSymbol() == "O" and a.GetTotalNumHs() == 1][0]
    ionised.GetAtomWithIdx(oxygen).SetFormalCharge(-1)
    ionised.GetAtomWithIdx(oxygen).SetNoImplicit(True)
    assert sorted(heavy_atom_order(reference, ionised.GetMol())) == list(range(4))


def test_a_different_molecule_is_refused():
    with pytest.raises(ValueError):
        heavy_atom_order(Chem.RemoveHs(embedded("CCO")), embedded("CCN"))


def test_protein_round_robin_interleaves_proteins(tmp_path):
    """A docking run stopped early covers many proteins, not one protein's congeneric series."""
    from dock_train_decoys import protein_round_robin

    index = tmp_path / "index.csv"
    index.write_text("id,pK,uniprot\na1,5,P1\na2,5,P1\na3,5,P1\nb1,6,P2\nc1,7,P3\nc2,7,P3\n")
    assert protein_round_robin(["a1", "a2", "a3", "b1", "c1", "c2", "x9"], index) == ["a1", "b1", "c1", "x9", "a2", "c2", "a3"]


def test_todo_list_skips_done_and_shared_decoy_complexes_and_flexible_ligands(tmp_path):
    """What is left to dock: not what has an .sdf or .err already; for Vina redocking not what has
    shared decoys (Vinardo docks those too); ligands above --max-rotatable are skipped with an .err."""
    import argparse
    import json

    from dock_train_decoys import todo_list

    data, out = tmp_path / "pdbbind", tmp_path / "out"
    smiles = {"c1": "CCO", "c2": "CCN", "c3": "CCCl", "c4": "CCCCCCCCCCCC", "c5": "CCOC"}
    for cid, smi in smiles.items():
        (data / cid).mkdir(parents=True)
        Chem.MolToMolFile(Chem.RemoveHs(embedded(smi)), str(data / cid / "ligand.sdf"))
    (data / "c2" / "decoys.sdf").write_text("")
    out.mkdir()
    (out / "c3.sdf").write_text("")
    (out / "c5.err").write_text("error\n")
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": list(smiles)}))

    def args(scoring: str, max_rotatable: int) -> argparse.Namespace:
        return argparse.Namespace(out=out, split=split, part=["train"], scoring=scoring, data=data,
                                  max_rotatable=max_rotatable, limit=0)

    assert todo_list(args("vina", 0)) == ["c1", "c4"]
    assert todo_list(args("vinardo", 0)) == ["c1", "c2", "c4"]
    assert todo_list(args("vinardo", 5)) == ["c1", "c2"]
    assert "rotatable" in (out / "c4.err").read_text()
