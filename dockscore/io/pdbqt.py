"""PDBQT poses (AutoDock Vina, QuickVina, Uni-Dock outputs): each MODEL is a pose.

PDBQT keeps coordinates and AutoDock atom types, not bond orders or charges. Meeko, the Vina
project's own preparation library, writes the ligand's SMILES and the map from its atoms to the
PDBQT atoms as remarks (``REMARK SMILES``, ``REMARK SMILES IDX``); Vina copies them into every
output pose. With them the chemistry is exact. Without them (a file prepared by another tool)
the user names the chemistry with a template (a SMILES or an SDF of the ligand) and RDKit
assigns its bond orders to the connectivity of the pose.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rdkit import Chem
from rdkit.Chem import AllChem, rdDetermineBonds

from dockscore.errors import InputError

NO_CHEMISTRY = ("PDBQT pose without bond orders (no Meeko 'REMARK SMILES' lines): pass --template with the ligand's SMILES "
                "or an SDF of it, or prepare the ligand with Meeko")
# AutoDock atom types that are not their element's symbol
AD_ELEMENTS = {"A": "C", "NA": "N", "NS": "N", "OA": "O", "OS": "O", "SA": "S", "HD": "H", "HS": "H", "G0": "C", "G1": "C",
               "G2": "C", "G3": "C", "CG0": "C", "CG1": "C", "CG2": "C", "CG3": "C", "W": "O"}


def pdbqt_atoms(text: str) -> tuple[list[int], list[str], np.ndarray]:
    """(serial numbers, elements, (n, 3) coordinates) of the heavy atoms of one PDBQT pose."""
    serials, elements, coords = [], [], []
    for line in text.splitlines():
        if not line.startswith(("ATOM", "HETATM")):
            continue
        ad_type = line[77:79].strip() if len(line) > 77 else line.split()[-1]
        element = AD_ELEMENTS.get(ad_type, AD_ELEMENTS.get(ad_type.upper(), ad_type[:1].upper() + ad_type[1:].lower()))
        if element == "H":
            continue
        serials.append(int(line[6:11]))
        elements.append(element)
        coords.append((float(line[30:38]), float(line[38:46]), float(line[46:54])))
    return serials, elements, np.asarray(coords, dtype=float).reshape(-1, 3)


def meeko_smiles(text: str) -> tuple[str | None, dict[int, int]]:
    """Meeko's SMILES and its map {SMILES atom index: PDBQT serial} (both 1-based in the file)."""
    smiles, mapping = None, {}
    for line in text.splitlines():
        if line.startswith("REMARK SMILES IDX"):
            numbers = [int(x) for x in line.split()[3:]]
            mapping.update(zip(numbers[0::2], numbers[1::2]))
        elif line.startswith("REMARK SMILES"):
            smiles = line.split(None, 2)[2].strip() if len(line.split(None, 2)) > 2 else None
    return smiles, mapping


def pose_name(text: str, source: str) -> str:
    """Meeko's ``REMARK Name = X`` when present, else the file's name without extensions (so the
    poses of one output file are one compound by title)."""
    for line in text.splitlines():
        if line.startswith("REMARK") and "Name =" in line:
            return line.split("Name =", 1)[1].strip()
    name = Path(source).name
    for suffix in (".gz", ".pdbqt"):
        name = name.removesuffix(suffix)
    return name


def vina_result(text: str) -> str | None:
    """The pose's Vina score (kcal/mol) from ``REMARK VINA RESULT``, as written."""
    for line in text.splitlines():
        if line.startswith("REMARK VINA RESULT:"):
            parts = line.split(":", 1)[1].split()
            return parts[0] if parts else None
    return None


def mol_from_pdbqt(text: str, template: Chem.Mol | None = None) -> tuple[Chem.Mol | None, str | None]:
    """(heavy-atom molecule with the pose's coordinates, None) or (None, one-line reason)."""
    serials, elements, coords = pdbqt_atoms(text)
    if not serials:
        return None, "PDBQT pose has no atoms"
    smiles, mapping = meeko_smiles(text)
    if smiles:
        mol = Chem.MolFromSmiles(smiles)
        if mol is None:
            return None, f"cannot parse the pose's REMARK SMILES {smiles!r}"
        where = {serial: k for k, serial in enumerate(serials)}
        if mol.GetNumAtoms() != len(serials) or any(mapping.get(a.GetIdx() + 1) not in where for a in mol.GetAtoms()):
            return None, f"the pose's REMARK SMILES IDX does not map its {mol.GetNumAtoms()} atoms onto the {len(serials)} heavy atoms"
        conf = Chem.Conformer(mol.GetNumAtoms())
        for atom in mol.GetAtoms():
            conf.SetAtomPosition(atom.GetIdx(), coords[where[mapping[atom.GetIdx() + 1]]].tolist())
        mol.AddConformer(conf, assignId=True)
        Chem.AssignStereochemistryFrom3D(mol)
        return mol, None
    if template is None:
        return None, NO_CHEMISTRY
    pose = Chem.RWMol()
    for element in elements:
        pose.AddAtom(Chem.Atom(element))
    conf = Chem.Conformer(len(elements))
    for k, xyz in enumerate(coords):
        conf.SetAtomPosition(k, xyz.tolist())
    pose.AddConformer(conf, assignId=True)
    try:
        rdDetermineBonds.DetermineConnectivity(pose)
        mol = AllChem.AssignBondOrdersFromTemplate(Chem.RemoveHs(template), pose.GetMol())
    except Exception as exc:  # RDKit says "No matching found" and the like
        return None, f"the pose does not match the --template ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
    for atom in mol.GetAtoms():  # hydrogens are implicit, as in the template's heavy-atom graph
        atom.SetNoImplicit(False)
        atom.SetNumRadicalElectrons(0)
    try:
        Chem.SanitizeMol(mol)
    except Exception as exc:
        return None, f"the pose with the --template's bond orders is not a valid molecule ({exc})"
    Chem.AssignStereochemistryFrom3D(mol)
    return mol, None


def read_template(spec: str) -> Chem.Mol:
    """A ``--template``: an SDF/MOL file (its first record) or a SMILES. :class:`InputError` if neither."""
    path = Path(spec)
    if path.is_file():
        mol = next(iter(Chem.SDMolSupplier(str(path))), None)
        if mol is None:
            raise InputError(f"--template {spec}: no readable molecule in the file")
        return mol
    mol = Chem.MolFromSmiles(spec)
    if mol is None:
        raise InputError(f"--template {spec!r}: neither a file nor a SMILES")
    return mol
