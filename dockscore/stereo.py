"""Stereochemistry: perceive tetrahedral centres, compare declared stereo with 3D geometry, mirror.

*Declared* stereo is what the file says: SDF atom parity flags when present (RDKit's
``molParity``), otherwise the molecule's chiral tags. *Geometric* stereo is read from the
3D coordinates (signed volumes, RDKit's ``AssignStereochemistryFrom3D``). CIP labels come
from RDKit's new CIP labeller. A molecule is *chiral* when its mirror image is a different
molecule; *meso* when it has stereocentres but is not chiral.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdCIPLabeler

TETRAHEDRAL = (Chem.ChiralType.CHI_TETRAHEDRAL_CW, Chem.ChiralType.CHI_TETRAHEDRAL_CCW)


@dataclass
class StereoReport:
    centres: list[int] = field(default_factory=list)  # atom indices (0-based) of tetrahedral stereocentres
    geometry: dict[int, str] = field(default_factory=dict)  # CIP label read from 3D
    declared: dict[int, str] = field(default_factory=dict)  # CIP label the file declares ('' = unassigned)
    chiral: bool = False
    meso: bool = False

    @property
    def mismatches(self) -> list[int]:
        return [i for i in self.centres if self.declared.get(i) and self.geometry.get(i) and self.declared[i] != self.geometry[i]]

    @property
    def unassigned(self) -> list[int]:
        return [i for i in self.centres if not self.declared.get(i)]

    def cip(self) -> str:
        """``'1:S;5:R'`` with 1-based atom numbers (SDF numbering), from the geometry."""
        return ";".join(f"{i + 1}:{self.geometry.get(i) or '?'}" for i in self.centres)

    def flag(self) -> str:
        """``ok``, or what is wrong, in words a chemist reads: 'mismatch at atom 1: declared R, geometry is S'."""
        problems = [f"mismatch at atom {i + 1}: declared {self.declared[i]}, geometry is {self.geometry[i]}" for i in self.mismatches]
        if self.unassigned:
            problems.append("unassigned centre(s) at atom " + ",".join(str(i + 1) for i in self.unassigned) + " (stereo from geometry only)")
        return "; ".join(problems) or "ok"

    def kind(self) -> str:
        if not self.centres:
            return "achiral"
        return "meso" if self.meso else ("chiral" if self.chiral else "achiral")


def _cip_labels(mol: Chem.Mol) -> dict[int, str]:
    try:
        rdCIPLabeler.AssignCIPLabels(mol)
    except Exception:  # the labeller gives up on some large systems: fall back to legacy ranks
        Chem.AssignStereochemistry(mol, cleanIt=True, force=True)
    return {a.GetIdx(): a.GetProp("_CIPCode") for a in mol.GetAtoms() if a.HasProp("_CIPCode")}


def geometry_stereo(mol: Chem.Mol) -> Chem.Mol:
    """Copy of ``mol`` whose chiral tags are read from its 3D conformer."""
    copy = Chem.Mol(mol)
    for atom in copy.GetAtoms():
        atom.SetChiralTag(Chem.ChiralType.CHI_UNSPECIFIED)
    Chem.AssignStereochemistryFrom3D(copy, replaceExistingTags=True)
    return copy


def declared_stereo(mol: Chem.Mol) -> Chem.Mol:
    """Copy of ``mol`` whose chiral tags are those the file declares (parity flags if any)."""
    copy = Chem.Mol(mol)
    if any(a.HasProp("molParity") and a.GetIntProp("molParity") in (1, 2) for a in copy.GetAtoms()):
        for atom in copy.GetAtoms():
            atom.SetChiralTag(Chem.ChiralType.CHI_UNSPECIFIED)
        Chem.AssignAtomChiralTagsFromMolParity(copy, replaceExistingTags=True)
    elif any(a.HasProp("molParity") for a in copy.GetAtoms()):  # a file with parity columns, all zero
        for atom in copy.GetAtoms():
            atom.SetChiralTag(Chem.ChiralType.CHI_UNSPECIFIED)
    Chem.AssignStereochemistry(copy, cleanIt=True, force=True)
    return copy


def invert_tetrahedral(mol: Chem.Mol) -> Chem.Mol:
    """Same graph, every tetrahedral tag inverted (the enantiomer's tags; double bonds unchanged)."""
    copy = Chem.Mol(mol)
    for atom in copy.GetAtoms():
        tag = atom.GetChiralTag()
        if tag in TETRAHEDRAL:
            atom.SetChiralTag(TETRAHEDRAL[1 - TETRAHEDRAL.index(tag)])
    return copy


def perceive(mol: Chem.Mol) -> StereoReport:
    """Stereocentres, CIP labels (geometry and declared), chirality and meso-ness of a 3D ligand."""
    geo = geometry_stereo(mol)
    centres = [i for i, _ in Chem.FindMolChiralCenters(geo, includeUnassigned=True, useLegacyImplementation=False)]
    report = StereoReport(centres=sorted(centres))
    if not centres:
        return report
    report.geometry = {i: lab for i, lab in _cip_labels(Chem.Mol(geo)).items() if i in centres}
    decl = declared_stereo(mol)
    report.declared = {i: lab for i, lab in _cip_labels(decl).items() if i in centres and decl.GetAtomWithIdx(i).GetChiralTag() in TETRAHEDRAL}
    heavy = Chem.RemoveHs(geo)
    report.chiral = Chem.MolToSmiles(heavy) != Chem.MolToSmiles(invert_tetrahedral(heavy))
    report.meso = not report.chiral
    return report


def mirror_mol(mol: Chem.Mol, normal: np.ndarray, center: np.ndarray) -> Chem.Mol:
    """The enantiomer, built by reflecting the 3D pose through the plane (center, normal).

    A reflection keeps every bond length, angle and ring geometry and inverts every
    tetrahedral centre at once; tags and parity flags are re-read from the new geometry."""
    copy = Chem.Mol(mol)
    normal = np.asarray(normal, float) / np.linalg.norm(normal)
    conf = copy.GetConformer()
    pos = conf.GetPositions()
    reflected = pos - 2.0 * np.outer((pos - center) @ normal, normal)
    for i, p in enumerate(reflected):
        conf.SetAtomPosition(i, p.tolist())
    for atom in copy.GetAtoms():
        if atom.HasProp("molParity"):
            atom.ClearProp("molParity")
    return geometry_stereo(copy)


def principal_planes(positions: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Centroid and the three principal axes (normals of the principal planes) of a point set."""
    center = positions.mean(0)
    _, _, vt = np.linalg.svd(positions - center)
    return center, [vt[k] for k in range(3)]


def chemistry_key(mol: Chem.Mol) -> bytes:
    """What poses of one compound share: RDKit's pickle of the atoms (elements, charges, isotopes,
    hydrogens, stereo tags, parity flags) and bonds (types, stereo), without the conformer. Two
    records with one key differ in coordinates only."""
    return Chem.Mol(mol, True).ToBinary(Chem.PropertyPickleOptions.AtomProps)


# Below these, a signed volume (A^3) or a dihedral cosine is too near zero for its sign to be read
# the same way RDKit reads it: such a pose is perceived afresh.
_MIN_VOLUME, _MIN_COSINE = 0.05, 0.05


class PerceptionCache:
    """:func:`perceive` once per compound: poses of one chemistry whose tetrahedral arrangements
    (signed volumes at every sp3 atom with three or more neighbours) and double-bond geometries
    (cis/trans across each double bond) all agree have the same geometric stereo, so the same
    report. A pose that inverts any of them, or is too flat to tell, is perceived afresh."""

    def __init__(self) -> None:
        self.key: bytes | None = None
        self.centres = self.double = None
        self.signature: tuple | None = None
        self.report: StereoReport | None = None

    def _topology(self, mol: Chem.Mol) -> None:
        tetrahedral = (Chem.HybridizationType.SP3, Chem.HybridizationType.SP3D, Chem.HybridizationType.SP3D2)
        self.centres = np.array([[a.GetIdx()] + [n.GetIdx() for n in a.GetNeighbors()][:3] for a in mol.GetAtoms()
                                 if a.GetDegree() >= 3 and a.GetHybridization() in tetrahedral], dtype=int).reshape(-1, 4)
        double = []
        for b in mol.GetBonds():
            if b.GetBondType() != Chem.BondType.DOUBLE:
                continue
            i, j = b.GetBeginAtom(), b.GetEndAtom()
            ni = [n.GetIdx() for n in i.GetNeighbors() if n.GetIdx() != j.GetIdx()]
            nj = [n.GetIdx() for n in j.GetNeighbors() if n.GetIdx() != i.GetIdx()]
            if ni and nj:
                double.append((ni[0], i.GetIdx(), j.GetIdx(), nj[0]))
        self.double = np.array(double, dtype=int).reshape(-1, 4)

    def _signature(self, mol: Chem.Mol) -> tuple | None:
        pos = mol.GetConformer().GetPositions()
        c = self.centres
        a, b, d = pos[c[:, 1]] - pos[c[:, 0]], pos[c[:, 2]] - pos[c[:, 0]], pos[c[:, 3]] - pos[c[:, 0]]
        volume = np.einsum("ij,ij->i", a, np.cross(b, d))
        q = self.double
        u, w = pos[q[:, 0]] - pos[q[:, 1]], pos[q[:, 3]] - pos[q[:, 2]]
        axis = pos[q[:, 2]] - pos[q[:, 1]]
        axis = axis / np.maximum(np.linalg.norm(axis, axis=1, keepdims=True), 1e-9)
        u = u - np.einsum("ij,ij->i", u, axis)[:, None] * axis
        w = w - np.einsum("ij,ij->i", w, axis)[:, None] * axis
        cosine = np.einsum("ij,ij->i", u, w) / np.maximum(np.linalg.norm(u, axis=1) * np.linalg.norm(w, axis=1), 1e-9)
        if (np.abs(volume) < _MIN_VOLUME).any() or (np.abs(cosine) < _MIN_COSINE).any():
            return None
        return tuple(np.sign(volume).astype(int)) + tuple(np.sign(cosine).astype(int))

    def perceive(self, mol: Chem.Mol, key: bytes | None = None) -> StereoReport:
        key = chemistry_key(mol) if key is None else key
        if key != self.key:
            self.key, self.signature, self.report = key, None, None
            self._topology(mol)
        signature = self._signature(mol)
        if signature is None or signature != self.signature or self.report is None:
            self.report, self.signature = perceive(mol), signature
        return self.report
