"""Chemically meaningful atom features shared by ligand and protein atoms.

One vector layout for both sides, so that a ligand N and a protein N start from the same
chemistry. Heavy atoms only. Ligand charges are normalised (RDKit's uncharger) before
perceiving donors/acceptors, because training files mix neutral and charged forms of the
same acid or amine (see the data README); protein features come from residue/atom-name tables.
"""

from __future__ import annotations

import numpy as np
from rdkit import Chem
from rdkit.Chem.MolStandardize import rdMolStandardize

from dockscore.io.protein import METALS, Protein

ELEMENTS = ["C", "N", "O", "S", "P", "F", "CL", "BR", "I"]
RESIDUES = ["ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE",
            "LEU", "LYS", "MET", "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL"]
HYBRIDISATIONS = [Chem.HybridizationType.SP, Chem.HybridizationType.SP2, Chem.HybridizationType.SP3]

# layout: [is_ligand | element(9)+other | metal | aromatic | sp,sp2,sp3,other | donor | acceptor |
#          charge | in_ring | degree 1..4 | nH 0..3 | residue(20)+other | backbone]
N_ELEM = len(ELEMENTS) + 1
OFF_ELEM = 1
OFF_METAL = OFF_ELEM + N_ELEM
OFF_AROM = OFF_METAL + 1
OFF_HYB = OFF_AROM + 1
OFF_DON = OFF_HYB + 4
OFF_ACC = OFF_DON + 1
OFF_CHG = OFF_ACC + 1
OFF_RING = OFF_CHG + 1
OFF_DEG = OFF_RING + 1
OFF_NH = OFF_DEG + 4
OFF_RES = OFF_NH + 4
OFF_BB = OFF_RES + len(RESIDUES) + 1
NUM_ATOM_FEATURES = OFF_BB + 1

# Approximate van der Waals radii (AutoDock Vina's X-Score radii), Angstrom: the interaction
# terms act on the surface distance d - R_i - R_j, as in Vina.
VDW_RADIUS = {"C": 1.9, "N": 1.8, "O": 1.7, "S": 2.0, "P": 2.1, "F": 1.5, "CL": 1.8, "BR": 2.0, "I": 2.2}
METAL_RADIUS = 1.2
DEFAULT_RADIUS = 1.9

BOND_TYPES = [Chem.BondType.SINGLE, Chem.BondType.DOUBLE, Chem.BondType.TRIPLE, Chem.BondType.AROMATIC]


def element_radius(element: str) -> float:
    element = element.upper()
    if element in METALS:
        return METAL_RADIUS
    return VDW_RADIUS.get(element, DEFAULT_RADIUS)


def _element_slot(element: str) -> int:
    element = element.upper()
    return ELEMENTS.index(element) if element in ELEMENTS else len(ELEMENTS)


_uncharger = rdMolStandardize.Uncharger()


def ligand_heavy_mol(mol: Chem.Mol) -> Chem.Mol:
    """Heavy-atom, charge-normalised copy of a sanitised ligand (the graph's chemistry).

    Every hydrogen goes, including those ``RemoveHs`` keeps because they define a double bond's
    stereo (amidine and imine N-H, 37 of the 751 PDBbind ligands): otherwise the same molecule
    scores differently with and without explicit H in its file."""
    heavy = Chem.RemoveAllHs(mol, sanitize=True)
    try:
        neutral = _uncharger.uncharge(heavy)
        Chem.SanitizeMol(neutral)
    except Exception:
        return heavy
    try:
        return canonical_resonance_form(neutral)
    except Exception:
        return neutral


def resonance_partners(heavy: Chem.Mol) -> list[tuple[int, list[int]]]:
    """(centre, partners) of each group of terminal heteroatoms of one element on one centre with
    a double bond among them: the oxygens of a carboxylic acid, nitro, sulfonate or phosphate
    group, the NH / NH2 ends of an amidine or guanidine. Which partner a file draws with the
    double bond, the charge or the hydrogen is a drawing choice, not chemistry."""
    groups = []
    for centre in heavy.GetAtoms():
        ends: dict[str, list[int]] = {}
        for nb in centre.GetNeighbors():
            if nb.GetDegree() == 1 and nb.GetSymbol() in ("O", "N", "S"):
                ends.setdefault(nb.GetSymbol(), []).append(nb.GetIdx())
        for atoms in ends.values():
            if len(atoms) >= 2 and any(heavy.GetBondBetweenAtoms(centre.GetIdx(), a).GetBondType() == Chem.BondType.DOUBLE
                                       for a in atoms):
                groups.append((centre.GetIdx(), sorted(atoms)))
    return groups


def canonical_resonance_form(heavy: Chem.Mol) -> Chem.Mol:
    """One drawing for every resonance form: within each group of :func:`resonance_partners`,
    the partners' (bond order, charge, hydrogen count) states are dealt out in a fixed order to
    the partners in atom order, so the double bond always sits on the same partner.

    A drawing, not an average: the features stay those of a drawing the models were trained on
    (averaging them made features no checkpoint had seen and cost held-out docking; see
    docs/history.md, "Resonance forms"). Stereo marks on the moved bonds are cleared (a terminal
    =NH's E/Z is not stereo once hydrogens are gone)."""
    groups = resonance_partners(heavy)
    if not groups:
        return heavy
    rw = Chem.RWMol(heavy)
    for centre, partners in groups:
        bonds = [rw.GetBondBetweenAtoms(centre, a) for a in partners]
        states = sorted(((b.GetBondTypeAsDouble(), b.GetBondType(), rw.GetAtomWithIdx(a).GetFormalCharge(),
                          rw.GetAtomWithIdx(a).GetTotalNumHs()) for a, b in zip(partners, bonds)),
                        key=lambda st: (-st[0], st[2], st[3]))
        for a, bond, (_, bond_type, charge, n_h) in zip(partners, bonds, states):
            bond.SetBondType(bond_type)
            bond.SetStereo(Chem.BondStereo.STEREONONE)
            atom = rw.GetAtomWithIdx(a)
            atom.SetFormalCharge(charge)
            atom.SetNumExplicitHs(n_h)
            atom.SetNoImplicit(True)
    out = rw.GetMol()
    Chem.SanitizeMol(out)
    return out


def ligand_features(heavy: Chem.Mol) -> tuple[np.ndarray, np.ndarray]:
    """Per-atom features and vdW radii of a heavy-atom ligand (see :func:`ligand_heavy_mol`)."""
    n = heavy.GetNumAtoms()
    x = np.zeros((n, NUM_ATOM_FEATURES), dtype=np.float32)
    radius = np.zeros(n, dtype=np.float32)
    x[:, 0] = 1.0
    for atom in heavy.GetAtoms():
        i = atom.GetIdx()
        symbol = atom.GetSymbol().upper()
        radius[i] = element_radius(symbol)
        x[i, OFF_ELEM + _element_slot(symbol)] = 1.0
        x[i, OFF_METAL] = float(symbol in METALS)
        x[i, OFF_AROM] = float(atom.GetIsAromatic())
        hyb = atom.GetHybridization()
        x[i, OFF_HYB + (HYBRIDISATIONS.index(hyb) if hyb in HYBRIDISATIONS else 3)] = 1.0
        n_h = atom.GetTotalNumHs()
        charge = atom.GetFormalCharge()
        if symbol in ("N", "O") and n_h > 0:
            x[i, OFF_DON] = 1.0
        if symbol == "O" or (symbol == "N" and n_h == 0 and charge <= 0 and atom.GetDegree() < 3) or (
            symbol == "S" and atom.GetDegree() == 1
        ):
            x[i, OFF_ACC] = 1.0
        x[i, OFF_CHG] = float(np.clip(charge, -1, 1))
        x[i, OFF_RING] = float(atom.IsInRing())
        x[i, OFF_DEG + min(max(atom.GetDegree(), 1), 4) - 1] = 1.0
        x[i, OFF_NH + min(n_h, 3)] = 1.0
    return x, radius


def ligand_bonds(heavy: Chem.Mol) -> tuple[np.ndarray, np.ndarray]:
    """Bond list (2, 2B, both directions) and one-hot bond orders (2B, 4)."""
    src, dst, order = [], [], []
    for bond in heavy.GetBonds():
        a, b = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        bt = bond.GetBondType()
        k = BOND_TYPES.index(bt) if bt in BOND_TYPES else 0
        src += [a, b]
        dst += [b, a]
        order += [k, k]
    onehot = np.zeros((len(order), len(BOND_TYPES)), dtype=np.float32)
    if order:
        onehot[np.arange(len(order)), order] = 1.0
    return np.asarray([src, dst], dtype=np.int64).reshape(2, -1), onehot


_BACKBONE = {"N", "CA", "C", "O", "OXT"}
_DONORS = {
    ("ARG", "NE"), ("ARG", "NH1"), ("ARG", "NH2"), ("ASN", "ND2"), ("GLN", "NE2"), ("HIS", "ND1"),
    ("HIS", "NE2"), ("LYS", "NZ"), ("SER", "OG"), ("THR", "OG1"), ("TYR", "OH"), ("TRP", "NE1"), ("CYS", "SG"),
}
_ACCEPTORS = {
    ("ASN", "OD1"), ("ASP", "OD1"), ("ASP", "OD2"), ("GLN", "OE1"), ("GLU", "OE1"), ("GLU", "OE2"),
    ("HIS", "ND1"), ("HIS", "NE2"), ("SER", "OG"), ("THR", "OG1"), ("TYR", "OH"), ("MET", "SD"),
}
_CHARGE = {("ASP", "OD1"): -0.5, ("ASP", "OD2"): -0.5, ("GLU", "OE1"): -0.5, ("GLU", "OE2"): -0.5,
           ("LYS", "NZ"): 1.0, ("ARG", "NH1"): 0.5, ("ARG", "NH2"): 0.5}
_AROMATIC_RES = {"PHE": {"CG", "CD1", "CD2", "CE1", "CE2", "CZ"}, "TYR": {"CG", "CD1", "CD2", "CE1", "CE2", "CZ"},
                 "TRP": {"CD1", "CD2", "NE1", "CE2", "CE3", "CZ2", "CZ3", "CH2", "CG"},
                 "HIS": {"CG", "ND1", "CD2", "CE1", "NE2"}}
_SP2_SIDECHAIN = {("ASP", "CG"), ("ASP", "OD1"), ("ASP", "OD2"), ("GLU", "CD"), ("GLU", "OE1"), ("GLU", "OE2"),
                  ("ASN", "CG"), ("ASN", "OD1"), ("ASN", "ND2"), ("GLN", "CD"), ("GLN", "OE1"), ("GLN", "NE2"),
                  ("ARG", "NE"), ("ARG", "CZ"), ("ARG", "NH1"), ("ARG", "NH2")}


def protein_features(protein: Protein) -> tuple[np.ndarray, np.ndarray]:
    """Per-atom features and vdW radii of a protein, from element, residue and atom-name tables."""
    n = len(protein)
    x = np.zeros((n, NUM_ATOM_FEATURES), dtype=np.float32)
    radius = np.zeros(n, dtype=np.float32)
    for i, (element, name, res) in enumerate(zip(protein.elements, protein.atom_names, protein.residue_names)):
        radius[i] = element_radius(element)
        x[i, OFF_ELEM + _element_slot(element)] = 1.0
        is_metal = element in METALS
        x[i, OFF_METAL] = float(is_metal)
        standard = res in RESIDUES
        x[i, OFF_RES + (RESIDUES.index(res) if standard else len(RESIDUES))] = 1.0
        backbone = standard and name in _BACKBONE
        x[i, OFF_BB] = float(backbone)
        aromatic = name in _AROMATIC_RES.get(res, ())
        x[i, OFF_AROM] = float(aromatic)
        sp2 = aromatic or (standard and name in ("C", "O", "N", "OXT")) or (res, name) in _SP2_SIDECHAIN
        x[i, OFF_HYB + (1 if sp2 else (2 if element == "C" or standard else 3))] = 1.0
        if standard:
            x[i, OFF_DON] = float((backbone and name == "N" and res != "PRO") or (res, name) in _DONORS)
            x[i, OFF_ACC] = float((backbone and name in ("O", "OXT")) or (res, name) in _ACCEPTORS)
            x[i, OFF_CHG] = _CHARGE.get((res, name), 0.0)
        elif is_metal:
            x[i, OFF_CHG] = 1.0
        else:  # cofactor or unknown hetero group: element-level guess
            x[i, OFF_DON] = float(element in ("N", "O"))
            x[i, OFF_ACC] = float(element in ("N", "O"))
    return x, radius


# X-Score atom typing as AutoDock Vina uses it, simplified to the features above: a carbon
# with no N/O neighbour and the halogens are hydrophobic (Vina's C_H, F/Cl/Br/I_H; a carbon
# next to S or P stays hydrophobic here); N/O donors and metals donate H-bonds (Vina's
# Met_D); acceptors as perceived for the features. Columns of :func:`xs_types`.
XS_HYDROPHOBIC, XS_DONOR, XS_ACCEPTOR = range(3)
_HALOGEN_SLOTS = [OFF_ELEM + ELEMENTS.index(e) for e in ("F", "CL", "BR", "I")]


def xs_types(x, bond_index):
    """(n, 3) float tensor: hydrophobic, donor, acceptor flags of heavy atoms with features ``x``
    and covalent bonds ``bond_index`` (both directions)."""
    import torch

    carbon = x[:, OFF_ELEM + ELEMENTS.index("C")] > 0
    hetero = (x[:, OFF_ELEM + ELEMENTS.index("N")] > 0) | (x[:, OFF_ELEM + ELEMENTS.index("O")] > 0)
    hetero_bonded = torch.zeros(x.shape[0], dtype=torch.bool)
    if bond_index.numel():
        hetero_bonded.index_fill_(0, bond_index[1][hetero[bond_index[0]]], True)
    halogen = (x[:, _HALOGEN_SLOTS] > 0).any(-1)
    hydrophobic = (carbon & ~hetero_bonded) | halogen
    donor = (x[:, OFF_DON] > 0) | (x[:, OFF_METAL] > 0)
    acceptor = x[:, OFF_ACC] > 0
    return torch.stack([hydrophobic, donor, acceptor], dim=-1).float()
