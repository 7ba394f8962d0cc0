"""Every docking program's output shape that dockscore reads, written by this file from the bundled
1s3v ligand (public chemistry, no copied files), through `score`, `rank` and `enantiomers`
(issue 27, "also look for"). Vina PDBQT, DiffDock folders and GOLD titles have their own tests in
test_io.py and test_rank.py."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np
import pytest
from rdkit import Chem
from typer.testing import CliRunner

from dockscore import iter_ligands
from dockscore.cli import app

from .conftest import LIGAND_1S3V, PROTEIN_1S3V

runner = CliRunner()


def crystal(hydrogens: bool = False) -> Chem.Mol:
    mol = next(iter_ligands(LIGAND_1S3V)).mol
    return Chem.AddHs(mol, addCoords=True) if hydrogens else Chem.Mol(mol)


def moved(mol: Chem.Mol, dx: float) -> Chem.Mol:
    out = Chem.Mol(mol)
    conf = out.GetConformer()
    for i, p in enumerate(conf.GetPositions()):
        conf.SetAtomPosition(i, (p + np.array([dx, 0.0, 0.0])).tolist())
    return out


def write_sdf(path: Path, poses: list[tuple[str, Chem.Mol, dict[str, str]]], v3000: bool = False) -> Path:
    with Chem.SDWriter(str(path)) as writer:
        writer.SetForceV3000(v3000)
        for title, mol, props in poses:
            mol = Chem.Mol(mol)
            mol.SetProp("_Name", title)
            for key, value in props.items():
                mol.SetProp(key, value)
            writer.write(mol)
    return path


SYBYL = {(6, True): "C.ar", (7, True): "N.ar", (8, False, 2): "O.2", (8, False, 1): "O.3"}


def sybyl_type(atom: Chem.Atom) -> str:
    """Tripos atom type as docking programs write it (enough of the table for this ligand)."""
    symbol = atom.GetSymbol()
    if symbol == "H":
        return "H"
    if atom.GetIsAromatic():
        return f"{symbol}.ar"
    if symbol == "N" and any(n.GetIsAromatic() for n in atom.GetNeighbors()) and atom.GetDegree() + atom.GetTotalNumHs() == 3:
        return "N.pl3"
    hybrid = {Chem.HybridizationType.SP: "1", Chem.HybridizationType.SP2: "2", Chem.HybridizationType.SP3: "3"}
    return f"{symbol}.{hybrid.get(atom.GetHybridization(), '3')}"


def mol2_block(mol: Chem.Mol, title: str) -> str:
    """A Tripos MOL2 record (the shape PLANTS, PDBbind and DUD-E write)."""
    conf = mol.GetConformer()
    atoms = [f"{a.GetIdx() + 1:7d} {a.GetSymbol()}{a.GetIdx() + 1:<6d} {p[0]:10.4f}{p[1]:10.4f}{p[2]:10.4f} {sybyl_type(a):<6} 1  LIG1  0.0000"
             for a, p in zip(mol.GetAtoms(), conf.GetPositions())]
    order = {Chem.BondType.SINGLE: "1", Chem.BondType.DOUBLE: "2", Chem.BondType.TRIPLE: "3", Chem.BondType.AROMATIC: "ar"}
    bonds = [f"{k + 1:6d}{b.GetBeginAtomIdx() + 1:6d}{b.GetEndAtomIdx() + 1:6d} {order[b.GetBondType()]}" for k, b in enumerate(mol.GetBonds())]
    return "\n".join(["@<TRIPOS>MOLECULE", title, f"{mol.GetNumAtoms()} {mol.GetNumBonds()} 1 0 0", "SMALL", "NO_CHARGES", "",
                      "@<TRIPOS>ATOM", *atoms, "@<TRIPOS>BOND", *bonds, ""]) + "\n"


def scored(tmp_path: Path, ligands: Path, *extra: str) -> list[dict]:
    out = tmp_path / f"{ligands.name}.csv"
    result = runner.invoke(app, ["score", str(PROTEIN_1S3V), str(ligands), "-o", str(out), *extra])
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    return list(csv.DictReader(out.open()))


def test_gnina_and_smina_sdf_keep_their_scores_beside_dockscores(tmp_path):
    """gnina writes minimizedAffinity, CNNscore and CNNaffinity on every pose; a user compares them."""
    props = {"minimizedAffinity": "-9.12", "CNNscore": "0.91", "CNNaffinity": "7.44"}
    gnina = write_sdf(tmp_path / "gnina_out.sdf", [("TQD", moved(crystal(), 0.1 * k), props) for k in range(3)])
    out = tmp_path / "gnina_scored.sdf"
    result = runner.invoke(app, ["score", str(PROTEIN_1S3V), str(gnina), "-o", str(out)])
    assert result.exit_code == 0 and "scored 3, failed 0" in result.output, result.output
    for mol in Chem.SDMolSupplier(str(out)):
        assert {k: mol.GetProp(k) for k in props} == props
        assert float(mol.GetProp("dockscore_score")) > 0


def test_glide_sd_export_with_its_receptor_record_first(tmp_path):
    """Glide's pose-viewer export puts the receptor in the first record; its ligands carry
    r_i_docking_score. The receptor is one error row naming the record; every pose is scored."""
    pocket = Chem.MolFromPDBFile(str(PROTEIN_1S3V), removeHs=False, sanitize=False)
    poses = [(f"TQD-{k}", moved(crystal(), 0.1 * k), {"r_i_docking_score": f"-{9 - k}.1", "i_i_glide_lignum": "1"}) for k in range(2)]
    path = tmp_path / "glide_pv.sdf"
    with Chem.SDWriter(str(path)) as writer:
        pocket.SetProp("_Name", "1s3v receptor")
        writer.write(pocket)
        for title, mol, props in poses:
            for key, value in props.items():
                mol.SetProp(key, value)
            mol.SetProp("_Name", title)
            writer.write(mol)
    rows = scored(tmp_path, path)
    assert [r["status"] for r in rows] == ["error", "ok", "ok"]
    assert "not a small molecule" in rows[0]["message"]


def test_plants_mol2_conformations_group_into_one_compound(tmp_path):
    """PLANTS writes every pose as a MOL2 record titled NAME_entry_00001_conf_NN."""
    path = tmp_path / "docked_ligands.mol2"
    path.write_text("".join(mol2_block(moved(crystal(hydrogens=True), 0.1 * k), f"TQD_entry_00001_conf_{k + 1:02d}") for k in range(3)))
    out = tmp_path / "plants.csv"
    result = runner.invoke(app, ["rank", str(PROTEIN_1S3V), str(path), "-o", str(out), "--group-pattern", r"^(.*)_conf_\d+$"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert [(r["compound"], r["n_poses"]) for r in rows] == [("TQD_entry_00001", "3")]


def test_one_pose_scores_the_same_in_every_shape(tmp_path):
    """The crystal pose as SDF V2000, V3000, .sdf.gz, Uni-Dock SDF, MOL2 with and without
    hydrogens: one score."""
    sdf = write_sdf(tmp_path / "v2000.sdf", [("TQD", crystal(), {})])
    v3000 = write_sdf(tmp_path / "v3000.sdf", [("TQD", crystal(), {})], v3000=True)
    assert "V3000" in v3000.read_text()
    gz = tmp_path / "poses.sdf.gz"
    gz.write_bytes(gzip.compress(sdf.read_bytes()))
    unidock = write_sdf(tmp_path / "unidock_out.sdf", [("TQD", crystal(hydrogens=True), {"Uni-Dock RESULT": "ENERGY=  -9.412  LOWER_BOUND=  0.000  UPPER_BOUND=  0.000"})])
    with_h = tmp_path / "with_h.mol2"
    with_h.write_text(mol2_block(crystal(hydrogens=True), "TQD"))
    without_h = tmp_path / "without_h.mol2"
    without_h.write_text(mol2_block(crystal(), "TQD"))
    scores = {}
    for path in (sdf, v3000, gz, unidock, with_h, without_h):
        rows = scored(tmp_path, path)
        assert [r["status"] for r in rows] == ["ok"], (path.name, rows)
        scores[path.name] = float(rows[0]["score"])
    assert max(scores.values()) - min(scores.values()) < 1e-3, scores


@pytest.mark.parametrize("shape", ["v3000.sdf", "ligand.mol2"])
def test_enantiomers_reads_the_other_shapes(tmp_path, shape):
    path = tmp_path / shape
    if shape.endswith(".mol2"):
        path.write_text(mol2_block(crystal(hydrogens=True), "TQD"))
    else:
        write_sdf(path, [("TQD", crystal(), {})], v3000=True)
    out = tmp_path / "enantiomers.csv"
    result = runner.invoke(app, ["enantiomers", str(PROTEIN_1S3V), str(path), "-o", str(out)])
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 1 and rows[0]["kind"] == "chiral" and rows[0]["input_cip"] == "1:S;5:R" and not rows[0]["message"], rows
