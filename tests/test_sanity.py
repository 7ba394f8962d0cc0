"""The shared pose gate: one test per kind of garbage, and the real and the genuinely flat pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import AllChem
from rdkit.Geometry import Point3D

from dockscore import Scorer, iter_ligands
from dockscore.sanity import MAX_BOND_LENGTH, MIN_BOND_LENGTH, pose_problem

from .conftest import EXAMPLES, LIGAND_1S3V, PROTEIN_1S3V

# Propan-2-ol as a MOL2 writer without hydrogens leaves it: RDKit reads every carbon as a radical.
MOL2_WITHOUT_H = """@<TRIPOS>MOLECULE
isopropanol_noH
4 3 0 0 0
SMALL
NO_CHARGES

@<TRIPOS>ATOM
1 C1 -1.0868 0.7074 0.2945 C.3 1 LIG 0.0000
2 C2 -0.0838 -0.3009 -0.2240 C.3 1 LIG 0.0000
3 C3 1.3486 0.1309 -0.0132 C.3 1 LIG 0.0000
4 O4 -0.2850 -1.5677 0.2892 O.3 1 LIG 0.0000
@<TRIPOS>BOND
1 1 2 1
2 2 3 1
3 2 4 1
"""


@pytest.fixture(scope="module")
def crystal() -> Chem.Mol:
    return next(iter_ligands(LIGAND_1S3V)).mol


def with_positions(mol: Chem.Mol, pos: np.ndarray) -> Chem.Mol:
    out = Chem.Mol(mol)
    conf = out.GetConformer()
    for i, (x, y, z) in enumerate(pos):
        conf.SetAtomPosition(i, Point3D(float(x), float(y), float(z)))
    return out


def edited_sdf(tmp_path: Path, atom: int, *, element: str | None = None, x: float | None = None) -> Path:
    """The 1s3v crystal SDF with one atom line changed (0-based ``atom``), as a file on disk."""
    lines = LIGAND_1S3V.read_text().split("\n")
    i = 4 + atom
    if x is not None:
        lines[i] = f"{x:10.4f}" + lines[i][10:]
    if element is not None:
        lines[i] = lines[i][:31] + f"{element:<3}" + lines[i][34:]
    path = tmp_path / "edited.sdf"
    path.write_text("\n".join(lines))
    return path


def embedded(smiles: str, seed: int = 42) -> Chem.Mol:
    """A 3D conformer from RDKit's ETKDG, seed fixed."""
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    assert AllChem.EmbedMolecule(mol, params) == 0
    return mol


def test_flattened_pose_is_an_error_through_the_scorer(crystal):
    pos = crystal.GetConformer().GetPositions()
    pos[:, 2] = 0.0  # flattened to z = 0
    result = Scorer(PROTEIN_1S3V).score_mols([with_positions(crystal, pos)])[0]
    assert result.status == "error" and result.score is None
    assert "one plane" in result.message and "tetrahedral" in result.message, result.message


def test_duplicated_atoms_overlap(crystal):
    doubled = Chem.CombineMols(crystal, crystal)  # a molecule written over itself
    problem = pose_problem(doubled)
    assert problem is not None and problem.startswith("overlapping atoms 1 (C) and 28 (C), 0.00 A apart"), problem


def test_placeholder_coordinate(tmp_path):
    record = next(iter_ligands(edited_sdf(tmp_path, 2, x=99999.9999)))
    assert record.ok  # the reader takes it: the gate must not
    assert pose_problem(record.mol).startswith("absurd coordinate 99999.9999 A at atom 3 (C)")


@pytest.mark.parametrize("element, label", [("*", "*"), ("Q", "*"), ("R", "R"), ("A", "*")])
def test_dummy_atom(tmp_path, element, label):
    record = next(iter_ligands(edited_sdf(tmp_path, 0, element=element)))
    assert record.ok
    assert pose_problem(record.mol) == f"dummy atom '{label}' at atom 1"


def test_a_mol2_without_hydrogens_has_implicit_ones(tmp_path):
    """A heavy-atom MOL2 reads as a heavy-atom SD file does (issue 27: PLANTS, PDB exports)."""
    path = tmp_path / "noH.mol2"
    path.write_text(MOL2_WITHOUT_H)
    record = next(iter_ligands(path))
    assert record.ok and Chem.MolToSmiles(record.mol) == "CC(C)O"
    assert pose_problem(record.mol) is None


def test_radicals_from_a_mol2_with_some_hydrogens_missing(tmp_path):
    """Only the hydroxyl H written (a polar-H file): the carbons' missing H are radicals, said so."""
    atoms, bonds = MOL2_WITHOUT_H.split("@<TRIPOS>BOND")
    polar_h = (atoms.replace("4 3 0 0 0", "5 4 0 0 0") + "5 H5 -1.1850 -1.8677 0.2892 H 1 LIG 0.0000\n"
               + "@<TRIPOS>BOND" + bonds + "4 4 5 1\n")
    path = tmp_path / "polarH.mol2"
    path.write_text(polar_h)
    record = next(iter_ligands(path))
    assert record.ok
    assert pose_problem(record.mol) == "3 atoms with unpaired electrons (radicals): hydrogens missing?"


@pytest.mark.parametrize("scale", [0.4, 3.0])  # squashed and exploded
def test_absurd_bond_lengths(crystal, scale):
    pos = crystal.GetConformer().GetPositions()
    problem = pose_problem(with_positions(crystal, pos.mean(axis=0) + scale * (pos - pos.mean(axis=0))))
    assert problem is not None and f"outside {MIN_BOND_LENGTH}-{MAX_BOND_LENGTH} A" in problem, problem


def test_collinear_coordinates_but_a_linear_molecule_passes(crystal):
    pos = crystal.GetConformer().GetPositions()
    pos[:, 1:] = 0.0  # every atom on the x axis
    assert "on one line" in pose_problem(with_positions(crystal, pos))
    assert pose_problem(embedded("C#CC#N")) is None  # propiolonitrile: a line is its real shape


def test_every_example_crystal_ligand_passes():
    records = [r for path in sorted(EXAMPLES.glob("*/*.sdf")) for r in iter_ligands(path)]
    assert len(records) == 3
    assert [pose_problem(r.mol) for r in records] == [None] * 3


@pytest.mark.parametrize("smiles", ["c1ccccc1", "c1ccc2ccccc2c1"])
def test_genuinely_flat_aromatic_passes(smiles):
    mol = embedded(smiles)
    heavy = mol.GetConformer().GetPositions()[[a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() > 1]]
    assert np.linalg.svd(heavy - heavy.mean(axis=0), compute_uv=False)[2] < 0.05  # really flat
    assert pose_problem(mol) is None
