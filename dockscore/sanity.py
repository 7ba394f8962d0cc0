"""One geometry-and-chemistry gate for every pose, so garbage is reported, never scored.

The model scores whatever coordinates it gets: a pose flattened to z = 0, a molecule written over
itself or a 99999.9999 placeholder would come back with a plausible-looking pK. :func:`pose_problem`
returns a one-line reason for such a pose (or None); ``Scorer._graph_or_error`` asks it before a
graph is built, so every record scored through a :class:`~dockscore.scoring.Scorer` is gated. Each check is one small function; thresholds are module constants chosen so that
every real record in the shared data passes: of 11,726 (PDBbind crystal ligands and decoys, the FEP
set, DEKOIS, DUD-E) the one rejected is a DEKOIS decoy drawn with a 4-coordinate N+ in a flat ring.
Atom numbers in messages are 1-based, as in the file's atom block.
"""

from __future__ import annotations

import numpy as np
from rdkit import Chem
from scipy.spatial import cKDTree

# Real frames sit within a few hundred A of the origin (PDBbind maximum 465 A); beyond 1e4 A a
# coordinate is a placeholder (99999.9999, 1e30), not a position.
MAX_ABS_COORDINATE = 1.0e4
# Closest non-bonded heavy atoms in real poses are >= 1.27 A apart (1.81 A in PDBbind crystals); under
# 0.5 A two atoms are one atom written twice (a duplicated record, a molecule superimposed on itself).
MIN_NONBONDED_DISTANCE = 0.5
# Real heavy-atom bonds span 0.97 A (1a4q's C=O) to 2.50 A (6un1's opened beta-lactam C-N); the
# shortest chemical one (N#N, C#O) is ~1.1 A, the longest (I-I) ~2.7 A. Outside: flattened or exploded.
MIN_BOND_LENGTH = 0.8
MAX_BOND_LENGTH = 2.8
# Out-of-plane (or off-line) spread, the smallest singular value of the centred heavy-atom
# coordinates. A flattened pose has ~0 A; real poses with a tetrahedral branch point have >= 0.59 A.
MIN_THICKNESS = 0.05

TETRAHEDRAL = {Chem.HybridizationType.SP3, Chem.HybridizationType.SP3D, Chem.HybridizationType.SP3D2}


def pose_problem(mol: Chem.Mol) -> str | None:
    """One-line reason why this pose cannot be scored, or None when it is usable."""
    if mol.GetNumConformers() == 0:
        return "record has no 3D coordinates"
    for check in (dummy_atom, radicals, absurd_coordinate, degenerate_geometry, overlapping_atoms, absurd_bond_length):
        problem = check(mol)
        if problem:
            return problem
    return None


def _label(atom: Chem.Atom) -> str:
    return f"{atom.GetIdx() + 1} ({atom.GetSymbol()})"


def _heavy_indices(mol: Chem.Mol) -> list[int]:
    """Atoms that become graph nodes: not H, not dummies (those are refused first)."""
    return [a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() > 1]


def _positions(mol: Chem.Mol) -> np.ndarray:
    return np.asarray(mol.GetConformer().GetPositions(), dtype=float)


def dummy_atom(mol: Chem.Mol) -> str | None:
    """Atomic number 0 (`*`, `Q`, `R`, `A`, `L`, `LP`): no element, so no features and no chemistry to score."""
    for atom in mol.GetAtoms():
        if atom.GetAtomicNum() == 0:
            label = atom.GetProp("dummyLabel") if atom.HasProp("dummyLabel") else atom.GetSymbol()
            return f"dummy atom '{label}' at atom {atom.GetIdx() + 1}"
    return None


def radicals(mol: Chem.Mol) -> str | None:
    """Unpaired electrons: what RDKit makes of a MOL2 (or no-implicit-H SDF) written without hydrogens."""
    n = sum(atom.GetNumRadicalElectrons() > 0 for atom in mol.GetAtoms())
    if n == 0:
        return None
    return f"{n} atom{'s' if n > 1 else ''} with unpaired electrons (radicals): hydrogens missing?"


def absurd_coordinate(mol: Chem.Mol, max_abs: float = MAX_ABS_COORDINATE) -> str | None:
    """Non-finite or placeholder coordinates, on any atom: the writer never set a position."""
    pos = _positions(mol)
    bad = ~(np.abs(pos) <= max_abs).all(axis=1)  # NaN compares False, so it counts as bad
    if not bad.any():
        return None
    i = int(np.flatnonzero(bad)[0])
    worst = next(v for v in pos[i] if not np.isfinite(v) or abs(v) > max_abs)
    if not np.isfinite(worst):
        return f"non-finite coordinate ({worst}) at atom {_label(mol.GetAtomWithIdx(i))}"
    return f"absurd coordinate {worst:.10g} A at atom {_label(mol.GetAtomWithIdx(i))} (|x| > {max_abs:g} A: a placeholder?)"


def _tetrahedral_branch_point(mol: Chem.Mol) -> Chem.Atom | None:
    """An sp3 heavy atom with >= 3 heavy neighbours: it cannot lie in the plane of its neighbours."""
    for atom in mol.GetAtoms():
        heavy_neighbours = sum(n.GetAtomicNum() > 1 for n in atom.GetNeighbors())
        if atom.GetAtomicNum() > 1 and atom.GetHybridization() in TETRAHEDRAL and heavy_neighbours >= 3:
            return atom
    return None


def _is_linear_chemistry(mol: Chem.Mol) -> bool:
    """True when every heavy atom that joins two others is sp (CO2, HC#C-C#N): a line is its real shape."""
    for atom in mol.GetAtoms():
        heavy_neighbours = sum(n.GetAtomicNum() > 1 for n in atom.GetNeighbors())
        if atom.GetAtomicNum() > 1 and heavy_neighbours >= 2 and atom.GetHybridization() != Chem.HybridizationType.SP:
            return False
    return True


def degenerate_geometry(mol: Chem.Mol, min_thickness: float = MIN_THICKNESS) -> str | None:
    """Heavy atoms on one point, one line, or one plane where the chemistry says they cannot be.

    A genuinely flat ligand (benzene, naphthalene, most kinase hinge binders) passes the plane test:
    it is only failed when some atom is a tetrahedral branch point."""
    heavy = _heavy_indices(mol)
    if len(heavy) < 3:
        return None
    pos = _positions(mol)[heavy]
    spread = np.linalg.svd(pos - pos.mean(axis=0), compute_uv=False)
    if spread[0] < min_thickness:
        return f"all {len(heavy)} heavy atoms at one point (degenerate coordinates)"
    if spread[1] < min_thickness and not _is_linear_chemistry(mol):
        return f"all {len(heavy)} heavy atoms on one line (off-line spread {spread[1]:.3f} A): degenerate coordinates"
    branch = _tetrahedral_branch_point(mol) if len(heavy) >= 4 else None
    if spread[2] < min_thickness and branch is not None:
        return (f"all {len(heavy)} heavy atoms in one plane (out-of-plane spread {spread[2]:.3f} A) although atom "
                f"{_label(branch)} is tetrahedral: flattened or 2D coordinates?")
    return None


def overlapping_atoms(mol: Chem.Mol, min_distance: float = MIN_NONBONDED_DISTANCE) -> str | None:
    """Two non-bonded heavy atoms on top of each other: duplicate atoms, or a molecule written over itself."""
    heavy = _heavy_indices(mol)
    pos = _positions(mol)
    bonded = {frozenset((b.GetBeginAtomIdx(), b.GetEndAtomIdx())) for b in mol.GetBonds()}
    pairs = [(heavy[i], heavy[j]) for i, j in sorted(cKDTree(pos[heavy]).query_pairs(min_distance))
             if frozenset((heavy[i], heavy[j])) not in bonded]
    if not pairs:
        return None
    i, j = pairs[0]
    gap = float(np.linalg.norm(pos[i] - pos[j]))
    more = f" and {len(pairs) - 1} more pair{'s' if len(pairs) > 2 else ''}" if len(pairs) > 1 else ""
    return (f"overlapping atoms {_label(mol.GetAtomWithIdx(i))} and {_label(mol.GetAtomWithIdx(j))}, {gap:.2f} A apart"
            f"{more}: duplicate atoms or a molecule written over itself?")


def absurd_bond_length(mol: Chem.Mol, shortest: float = MIN_BOND_LENGTH, longest: float = MAX_BOND_LENGTH) -> str | None:
    """A heavy-heavy bond no molecule has: the geometry was flattened, scaled or exploded."""
    pos = _positions(mol)
    bad = []
    for bond in mol.GetBonds():
        a, b = bond.GetBeginAtom(), bond.GetEndAtom()
        if a.GetAtomicNum() > 1 and b.GetAtomicNum() > 1:
            length = float(np.linalg.norm(pos[a.GetIdx()] - pos[b.GetIdx()]))
            if not shortest <= length <= longest:
                bad.append((a, b, length))
    if not bad:
        return None
    a, b, length = bad[0]
    more = f" ({len(bad)} such bonds)" if len(bad) > 1 else ""
    return (f"bond {a.GetIdx() + 1}-{b.GetIdx() + 1} ({a.GetSymbol()}-{b.GetSymbol()}) is {length:.2f} A, outside "
            f"{shortest}-{longest} A{more}: flattened or exploded geometry")
