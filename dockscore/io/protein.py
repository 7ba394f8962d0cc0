"""Protein reading with Biopython.

Rules (documented in the README, applied identically at training and scoring time):

* first model only; alternate locations resolved to the highest-occupancy one
  (Biopython's ``DisorderedAtom`` already selects it);
* insertion codes are kept in the residue id;
* waters (HOH, WAT, DOD, ...) dropped unless ``keep_waters``;
* metal ions kept; other hetero groups (cofactors) kept as protein-side atoms;
* hydrogens always dropped: dockscore works on heavy-atom graphs, so files with
  all, polar-only or no hydrogens give the same graph.
"""

from __future__ import annotations

import gzip
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dockscore.errors import InputError

WATER_NAMES = frozenset({"HOH", "WAT", "DOD", "H2O", "TIP", "TIP3", "SOL"})
# Residue names a polymer (ATOM) record may carry: amino acids with the protonation and
# modification names of the common force fields, caps, and nucleotides.
POLYMER_NAMES = frozenset(
    "ALA ARG ASN ASP CYS GLN GLU GLY HIS ILE LEU LYS MET PHE PRO SER THR TRP TYR VAL "
    "HID HIE HIP HSD HSE HSP CYX CYM ASH GLH LYN ARN TYM MSE SEC PYL SEP TPO PTR MLY KCX CSO CME OCS LLP "
    "ACE NME NMA NH2 UNK DA DC DG DT DU A C G U I".split()
)
AMINO_BACKBONE = ("N", "CA", "C")
# Receptor checks: a file whose columns are shifted reads as unknown residue names (AL, YS); a
# CA-only (coarse) model has no side chains for the pocket terms to see.
MAX_UNKNOWN_RESIDUE_SHARE = 0.2
MIN_BACKBONE_SHARE = 0.5
MAX_CA_ONLY_SHARE = 0.5
# Biopython keeps one atom per name in a residue: a file with duplicate atom names (Open Babel
# writes every carbon of a residue as " C  ") silently loses the rest. A receptor that lost more
# than this share of its heavy atoms is refused; a smaller loss is reported (Protein.dropped).
MAX_DROPPED_SHARE = 0.02
METALS = frozenset(
    {"LI", "NA", "K", "MG", "CA", "MN", "FE", "CO", "NI", "CU", "ZN", "CD", "HG", "SR", "BA", "CS", "RB", "AL", "GA", "PT", "AU", "AG", "PB", "YB", "SM", "EU", "GD", "TB"}
)


@dataclass
class Protein:
    """Heavy atoms of a receptor, as flat arrays (one entry per atom)."""

    path: str
    coords: np.ndarray  # (N, 3) float32, Angstrom
    elements: list[str]  # upper-case element symbols
    atom_names: list[str]
    residue_names: list[str]
    residue_ids: list[str]  # "A:123" or "A:123B" (insertion code kept)
    is_hetero: np.ndarray  # (N,) bool: HETATM (cofactor, ion)
    expected: int = 0  # heavy-atom records of the first model (alternate locations counted once; 0: not counted)

    def __len__(self) -> int:
        return len(self.elements)

    @property
    def dropped(self) -> int:
        """Heavy-atom records of the file the reader could not keep (names repeated in a residue)."""
        return max(0, self.expected - len(self))


def _open_text(path: Path) -> io.StringIO:
    try:
        raw = path.read_bytes()
    except OSError as exc:  # a directory, no permission, ...
        raise InputError(f"{path}: cannot read protein file ({exc.strerror or exc})") from None
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:  # EOFError: a truncated .gz
            raise InputError(f"{path}: not a valid gzip file ({exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file (binary content)") from None
    return io.StringIO(text)


def read_protein(path: str | Path, keep_waters: bool = False) -> Protein:
    """Read a PDB or mmCIF file (optionally gzipped) into a :class:`Protein`.

    Raises :class:`InputError` with a one-line message for unreadable or empty files.
    """
    from Bio.PDB import MMCIFParser, PDBParser
    from Bio.PDB.PDBExceptions import PDBConstructionWarning

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: protein file not found")
    name = path.name.lower().removesuffix(".gz")
    handle = _open_text(path)
    if not handle.getvalue().strip():
        raise InputError(f"{path}: protein file is empty")
    parser = MMCIFParser(QUIET=True) if name.endswith((".cif", ".mmcif")) else PDBParser(QUIET=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PDBConstructionWarning)
            structure = parser.get_structure("protein", handle)
    except Exception as exc:  # Biopython raises a zoo of types for malformed files
        raise InputError(f"{path}: cannot parse protein ({type(exc).__name__}: {exc})".splitlines()[0]) from None

    models = list(structure)
    if not models:
        raise InputError(f"{path}: no atoms found in protein file")
    coords, elements, atom_names, res_names, res_ids, hetero = [], [], [], [], [], []
    for chain in models[0]:
        for residue in chain:
            hetflag, resseq, icode = residue.get_id()
            resname = residue.get_resname().strip().upper()
            if resname in WATER_NAMES and not keep_waters:
                continue
            rid = f"{chain.id}:{resseq}{icode.strip()}"
            for atom in residue:  # DisorderedAtom iterates as its selected (highest occupancy) altloc
                element = (atom.element or "").strip().upper()
                if not element or element == "X":
                    element = "".join(c for c in atom.get_name() if c.isalpha())[:1].upper() or "X"
                if element in ("H", "D"):
                    continue
                xyz = atom.get_coord()
                coords.append(xyz)
                elements.append(element)
                atom_names.append(atom.get_name().strip().upper())
                res_names.append(resname)
                res_ids.append(rid)
                hetero.append(hetflag.startswith("H_"))
    if not coords:
        raise InputError(f"{path}: no heavy atoms found in protein file")
    arr = np.asarray(coords, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise InputError(f"{path}: protein has non-finite coordinates")
    protein = Protein(str(path), arr, elements, atom_names, res_names, res_ids, np.asarray(hetero, dtype=bool))
    if not name.endswith((".cif", ".mmcif")):
        protein.expected = _pdb_heavy_atom_records(handle.getvalue(), keep_waters)
        if protein.dropped > MAX_DROPPED_SHARE * protein.expected:
            raise InputError(f"{path}: the reader kept {len(protein)} of {protein.expected} heavy atoms: atom names repeat within a "
                             "residue (as Open Babel writes them); give each atom of a residue its own name, or convert the file "
                             "with another tool")
    problem = receptor_problem(protein)
    if problem:
        raise InputError(f"{path}: {problem}")
    return protein


def dropped_note(protein: Protein) -> str | None:
    """One line when the reader lost some heavy atoms (fewer than the refusal share), else None."""
    if not protein.dropped:
        return None
    return (f"{protein.path}: {protein.dropped} of {protein.expected} heavy atoms not read (atom names repeat within a residue); "
            "scored without them")


def _pdb_heavy_atom_records(text: str, keep_waters: bool) -> int:
    """Heavy-atom ATOM/HETATM records of a PDB file's first model, an atom with alternate
    locations counted once: what a faithful reader keeps."""
    plain, alternates = 0, set()
    for line in text.splitlines():
        if line.startswith("ENDMDL"):
            break
        if not line.startswith(("ATOM  ", "HETATM")):
            continue
        if line[17:20].strip().upper() in WATER_NAMES and not keep_waters:
            continue
        element = line[76:78].strip().upper() if len(line) >= 78 else ""
        if not element:
            element = "".join(c for c in line[12:16] if c.isalpha())[:1].upper()
        if element in ("H", "D"):
            continue
        if line[16] != " ":
            alternates.add((line[21], line[22:27], line[17:20], line[12:16]))
        else:
            plain += 1
    return plain + len(alternates)


def receptor_problem(protein: Protein) -> str | None:
    """One-line reason why these atoms are not a usable receptor, or None.

    Checked on the polymer (ATOM) residues: their names must be residue names (shifted columns
    give 'AL', 'YS'), and amino-acid residues must have their backbone and side chains (a
    CA-only model is not an all-atom receptor)."""
    residues: dict[str, tuple[str, set[str]]] = {}
    for rid, name, atom, het in zip(protein.residue_ids, protein.residue_names, protein.atom_names, protein.is_hetero):
        if not het:
            residues.setdefault(rid, (name, set()))[1].add(atom)
    if not residues:
        return None  # a hetero-only receptor (e.g. a host molecule) has nothing to check here
    known = POLYMER_NAMES | WATER_NAMES  # waters kept with keep_waters may be ATOM records
    unknown = sorted({name for name, _ in residues.values() if name not in known})
    n_unknown = sum(name not in known for name, _ in residues.values())
    if len(residues) >= 5 and n_unknown > MAX_UNKNOWN_RESIDUE_SHARE * len(residues):
        return (f"{n_unknown} of {len(residues)} residues have names that are not residue names ({', '.join(unknown[:5])}): "
                "are the PDB columns shifted?")
    amino = [atoms for name, atoms in residues.values() if name in POLYMER_NAMES and "CA" in atoms]
    if len(amino) >= 5:
        ca_only = sum(atoms == {"CA"} for atoms in amino)
        if ca_only > MAX_CA_ONLY_SHARE * len(amino):
            return f"{ca_only} of {len(amino)} amino-acid residues have only a CA atom: a CA-only model, not an all-atom receptor"
        backbone = sum(all(a in atoms for a in AMINO_BACKBONE) for atoms in amino)
        if backbone < MIN_BACKBONE_SHARE * len(amino):
            return f"only {backbone} of {len(amino)} amino-acid residues have a complete backbone (N, CA, C)"
    return None
