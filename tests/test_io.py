"""Reading rules: first model, altlocs, insertion codes, waters, metals, hydrogens, formats."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from Bio.PDB import MMCIFIO, PDBParser
from rdkit import Chem

from dockscore import InputError, Scorer, iter_ligands, read_protein
from dockscore.features import OFF_ACC, OFF_DON, ligand_features, ligand_heavy_mol
from dockscore.neighbors import radius_pairs

from .conftest import LIGAND_1S3V, LIGANDS_1IA1, PROTEIN_1S3V

PDB = """\
MODEL        1
ATOM      1  N   ALA A   1       0.000   0.000   0.000  1.00  0.00           N
ATOM      2  CA AALA A   1       1.450   0.000   0.000  0.30  0.00           C
ATOM      3  CA BALA A   1       1.500   0.200   0.000  0.70  0.00           C
ATOM      4  H   ALA A   1      -0.500   0.800   0.000  1.00  0.00           H
ATOM      5  N   GLY A   1A      3.000   1.000   0.000  1.00  0.00           N
HETATM    6 ZN    ZN A 101       5.000   5.000   5.000  1.00  0.00          ZN
HETATM    7  O   HOH A 201       8.000   8.000   8.000  1.00  0.00           O
ENDMDL
MODEL        2
ATOM      1  N   ALA A   1      50.000   0.000   0.000  1.00  0.00           N
ENDMDL
END
"""


def test_protein_reading_rules(tmp_path):
    path = tmp_path / "p.pdb"
    path.write_text(PDB)
    protein = read_protein(path)
    assert protein.elements == ["N", "C", "N", "ZN"]  # H dropped, water dropped, model 2 ignored
    np.testing.assert_allclose(protein.coords[1], [1.5, 0.2, 0.0], atol=1e-3)  # altloc B: higher occupancy
    assert protein.residue_ids[2] == "A:1A"  # insertion code kept
    assert protein.is_hetero.tolist() == [False, False, False, True]
    with_waters = read_protein(path, keep_waters=True)
    assert "O" in with_waters.elements and len(with_waters) == 5


def test_mmcif_and_gzip_give_the_same_atoms(tmp_path):
    structure = PDBParser(QUIET=True).get_structure("x", str(PROTEIN_1S3V))
    cif = tmp_path / "p.cif"
    io = MMCIFIO()
    io.set_structure(structure)
    io.save(str(cif))
    gz = tmp_path / "p.pdb.gz"
    with open(PROTEIN_1S3V, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    reference = read_protein(PROTEIN_1S3V)
    for other in (read_protein(cif), read_protein(gz)):
        assert other.elements == reference.elements
        np.testing.assert_allclose(other.coords, reference.coords, atol=1e-3)


def test_ligand_records_keep_name_index_and_properties(tmp_path):
    records = list(iter_ligands(LIGANDS_1IA1))
    assert [(r.index, r.name, r.ok) for r in records] == [(0, "TQ3", True), (1, "TQ3", True)]
    gz = tmp_path / "l.sdf.gz"
    gz.write_bytes(gzip.compress(LIGANDS_1IA1.read_bytes()))
    assert [r.name for r in iter_ligands(gz)] == ["TQ3", "TQ3"]


MOL2 = """@<TRIPOS>MOLECULE
acetamide
 9 8 0 0 0
SMALL
NO_CHARGES

@<TRIPOS>ATOM
      1 C1         0.0000    0.0000    0.0000 C.3     1  LIG1        0.0000
      2 C2         1.5000    0.0000    0.0000 C.2     1  LIG1        0.0000
      3 O1         2.1000    1.0400    0.0000 O.2     1  LIG1        0.0000
      4 N1         2.1700   -1.1600    0.0000 N.am    1  LIG1        0.0000
      5 H1        -0.3600    1.0200    0.0000 H       1  LIG1        0.0000
      6 H2        -0.3600   -0.5100    0.8800 H       1  LIG1        0.0000
      7 H3        -0.3600   -0.5100   -0.8800 H       1  LIG1        0.0000
      8 H4         3.1700   -1.1600    0.0000 H       1  LIG1        0.0000
      9 H5         1.6700   -2.0300    0.0000 H       1  LIG1        0.0000
@<TRIPOS>BOND
     1     1     2    1
     2     2     3    2
     3     2     4   am
     4     1     5    1
     5     1     6    1
     6     1     7    1
     7     4     8    1
     8     4     9    1
"""


def test_mol2_input(tmp_path):
    path = tmp_path / "l.mol2"
    path.write_text(MOL2 + MOL2.replace("acetamide", "second"))
    records = list(iter_ligands(path))
    assert [(r.index, r.name, r.ok) for r in records] == [(0, "acetamide", True), (1, "second", True)]
    assert Chem.MolToSmiles(Chem.RemoveHs(records[0].mol)) == "CC(N)=O"


def test_hydrogens_do_not_change_the_heavy_atom_features():
    mol = next(iter_ligands(LIGAND_1S3V)).mol
    with_h = Chem.AddHs(mol, addCoords=True)
    a, _ = ligand_features(ligand_heavy_mol(mol))
    b, _ = ligand_features(ligand_heavy_mol(with_h))
    np.testing.assert_array_equal(a, b)


def test_stereo_defining_hydrogens_are_dropped_too():
    """An imine N-H fixes its C=N bond's E/Z, so RemoveHs keeps it (37 of 751 PDBbind ligands:
    amidines, guanidines). The graph must not: the same pose scores the same with or without H."""
    from rdkit.Chem import AllChem

    from dockscore.graph import PreparedLigand

    with_h = Chem.AddHs(Chem.MolFromSmiles("[H]/N=C(\\N)c1ccccc1"))  # benzamidine, E/Z set by the N-H
    AllChem.EmbedMolecule(with_h, randomSeed=0)
    assert any(a.GetAtomicNum() == 1 for a in Chem.RemoveHs(with_h).GetAtoms())  # the case this guards
    heavy_only = Chem.RemoveAllHs(with_h)
    a, b = PreparedLigand.from_mol(with_h), PreparedLigand.from_mol(heavy_only)
    assert a.pos.shape[0] == with_h.GetNumHeavyAtoms() == 9
    torch.testing.assert_close(a.x, b.x)
    torch.testing.assert_close(a.pos, b.pos)


def test_charge_state_does_not_change_donor_acceptor_perception():
    neutral = Chem.MolFromSmiles("CC(=O)O")
    charged = Chem.MolFromSmiles("CC(=O)[O-]")
    a, _ = ligand_features(ligand_heavy_mol(neutral))
    b, _ = ligand_features(ligand_heavy_mol(charged))
    np.testing.assert_array_equal(a, b)
    assert a[:, OFF_ACC].sum() == 2 and a[:, OFF_DON].sum() == 1


@pytest.mark.parametrize("seed", range(5))
def test_radius_pairs_matches_brute_force(seed):
    gen = torch.Generator().manual_seed(seed)
    a, b = torch.rand(50, 3, generator=gen) * 20, torch.rand(70, 3, generator=gen) * 20
    pairs = radius_pairs(a, b, 4.0, block=16)
    brute = {(i, j) for i in range(50) for j in range(70) if float((a[i] - b[j]).norm()) < 4.0}
    assert set(map(tuple, pairs.T.tolist())) == brute


def test_a_mol2_comment_header_is_no_record(tmp_path):
    """PDBbind's MOL2 files open with '### Created by X-TOOL' lines: they became a failed record 0
    and the molecule record 1 (issue 27, item 3). Garbage before the first molecule still fails."""
    header = "###\n### Created by X-TOOL on Thu Aug 28 20:30:15 2014\n###\n\n"
    path = tmp_path / "pdbbind.mol2"
    path.write_text(header + MOL2)
    records = list(iter_ligands(path))
    assert [(r.index, r.ok) for r in records] == [(0, True)]
    garbage = tmp_path / "garbage.mol2"
    garbage.write_text("this is not a comment\n" + MOL2)
    assert [r.ok for r in iter_ligands(garbage)] == [False, True]


# -- PDBQT (issue 27, item 1) ---------------------------------------------------------------------
# tests/data/1s3v_vina_out.pdbqt: 3 poses of the bundled 1s3v ligand docked by AutoDock Vina 1.2.7
# after Meeko 0.8 preparation (bench/vina_peer.py), as written by Vina: MODEL/ENDMDL, REMARK VINA
# RESULT, Meeko's REMARK SMILES and SMILES IDX lines.
VINA_OUT = Path(__file__).parent / "data" / "1s3v_vina_out.pdbqt"


def _without_smiles(tmp_path) -> Path:
    path = tmp_path / "obabel_style_out.pdbqt"
    path.write_text("".join(line for line in VINA_OUT.read_text().splitlines(True) if not line.startswith("REMARK SMILES")))
    return path


def test_vina_pdbqt_poses_read_with_meekos_chemistry():
    records = list(iter_ligands(VINA_OUT))
    assert [(r.index, r.ok) for r in records] == [(0, True), (1, True), (2, True)]
    crystal = next(iter_ligands(LIGAND_1S3V)).mol
    canonical = Chem.MolToSmiles(Chem.RemoveHs(crystal))
    assert all(Chem.MolToSmiles(Chem.RemoveHs(r.mol)) == canonical for r in records)  # bond orders and both stereocentres
    assert records[0].props["vina_result_kcal_per_mol"] == "-9.640" and records[0].name == "1s3v_vina_out"


def test_pdbqt_without_smiles_needs_a_template_and_says_so(tmp_path):
    from dockscore.io.pdbqt import NO_CHEMISTRY, read_template

    path = _without_smiles(tmp_path)
    assert [r.error for r in iter_ligands(path)] == [NO_CHEMISTRY] * 3
    crystal = next(iter_ligands(LIGAND_1S3V)).mol
    for template in (Chem.MolToSmiles(crystal), str(LIGAND_1S3V)):
        records = list(iter_ligands(path, read_template(template)))
        meeko = list(iter_ligands(VINA_OUT))
        assert all(r.ok for r in records)
        for a, b in zip(records, meeko):
            assert Chem.MolToSmiles(Chem.RemoveHs(a.mol)) == Chem.MolToSmiles(Chem.RemoveHs(b.mol))
            assert sorted(map(tuple, a.mol.GetConformer().GetPositions().round(3))) == sorted(map(tuple, b.mol.GetConformer().GetPositions().round(3)))
    with pytest.raises(InputError, match="neither a file nor a SMILES"):
        read_template("not a smiles ((")


# -- resonance forms (issue 27, item 6) -----------------------------------------------------------
# (SMILES, the two partner atoms whose double bond / charge / hydrogen a file may swap)
RESONANCE = {
    "carboxylate": ("CCC(=O)[O-]", (3, 4)),
    "nitro": ("c1ccccc1[N+](=O)[O-]", (7, 8)),
    "amidinium": ("NC(=[NH2+])c1ccccc1", (0, 2)),
    "guanidinium": ("CNC(N)=[NH2+]", (3, 4)),
    "sulfonate": ("CS(=O)(=O)[O-]", (3, 4)),
    "phosphate": ("COP(=O)([O-])[O-]", (3, 4)),
}


def _swapped(mol: Chem.Mol, i: int, j: int) -> Chem.Mol:
    """The same atoms in the same order, with partners i and j trading bond order, charge and H."""
    rw = Chem.RWMol(mol)
    centre = [n.GetIdx() for n in rw.GetAtomWithIdx(i).GetNeighbors()][0]
    bi, bj = rw.GetBondBetweenAtoms(centre, i), rw.GetBondBetweenAtoms(centre, j)
    ti, tj = bi.GetBondType(), bj.GetBondType()
    bi.SetBondType(tj)
    bj.SetBondType(ti)
    ai, aj = rw.GetAtomWithIdx(i), rw.GetAtomWithIdx(j)
    (ci, hi), (cj, hj) = (ai.GetFormalCharge(), ai.GetNumExplicitHs()), (aj.GetFormalCharge(), aj.GetNumExplicitHs())
    ai.SetFormalCharge(cj), ai.SetNumExplicitHs(hj), aj.SetFormalCharge(ci), aj.SetNumExplicitHs(hi)
    for atom in rw.GetAtoms():
        atom.SetNoImplicit(True)
    out = rw.GetMol()
    Chem.SanitizeMol(out)
    return out


@pytest.mark.parametrize("group", sorted(RESONANCE))
def test_resonance_forms_give_the_same_graph_and_score(group, scorers):
    """Moving a carboxylate's charge to its other oxygen changed a score by 0.13 pK (1a30)."""
    from rdkit.Chem import AllChem

    smiles, (i, j) = RESONANCE[group]
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.EmbedMolecule(mol, randomSeed=7)
    one = Chem.RemoveHs(mol)
    for atom in one.GetAtoms():
        atom.SetNumExplicitHs(atom.GetTotalNumHs())
    other = _swapped(one, i, j)
    assert Chem.MolToSmiles(one) == Chem.MolToSmiles(other)
    assert one.GetAtomWithIdx(i).GetFormalCharge() != other.GetAtomWithIdx(i).GetFormalCharge() or \
        one.GetAtomWithIdx(i).GetTotalNumHs() != other.GetAtomWithIdx(i).GetTotalNumHs()
    a, b = ligand_heavy_mol(one), ligand_heavy_mol(other)
    np.testing.assert_array_equal(ligand_features(a)[0], ligand_features(b)[0])
    from dockscore.features import ligand_bonds

    np.testing.assert_array_equal(ligand_bonds(a)[1], ligand_bonds(b)[1])
    site = next(iter_ligands(LIGAND_1S3V)).mol.GetConformer().GetPositions().mean(0)
    conf = one.GetConformer()
    shift = site - conf.GetPositions().mean(0)
    for k in range(one.GetNumAtoms()):
        conf.SetAtomPosition(k, (conf.GetPositions()[k] + shift).tolist())
    other.RemoveAllConformers()
    other.AddConformer(Chem.Conformer(conf), assignId=True)
    for sym in ("e3", "se3"):
        first = scorers[sym].score_mols([one])[0]
        second = Scorer(PROTEIN_1S3V, symmetry=sym).score_mols([other])[0]  # a fresh scorer: no chemistry cache shared
        assert first.status == second.status == "ok"
        assert first.score == pytest.approx(second.score, abs=1e-5)
