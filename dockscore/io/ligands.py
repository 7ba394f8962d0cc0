"""Streaming ligand reading with RDKit: SDF, SDF.gz and MOL2, one record at a time.

Every record comes back as a :class:`LigandRecord`, good or bad, so a caller can
report a bad record in one line and go on with the next one. Records are read
lazily: memory does not grow with the number of poses in a file.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rdkit import Chem, RDLogger

from dockscore.errors import InputError

RDLogger.DisableLog("rdApp.*")  # errors are reported per record by dockscore instead

SUPPORTED = (".sdf", ".sd", ".mol", ".sdf.gz", ".sd.gz", ".mol2", ".mol2.gz")


@dataclass
class LigandRecord:
    """One record of a ligand file: a usable molecule, or the reason it is not usable."""

    source: str
    index: int  # 0-based position of the record in its file
    name: str
    mol: Chem.Mol | None = None
    error: str | None = None
    note: str = ""  # e.g. which sanitisation fix was applied
    block: str = ""  # original record text (for SDF pass-through), without the $$$$ line
    props: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.mol is not None

    def describe(self) -> str:
        """`file record N (name)` for one-line messages."""
        label = f" ({self.name})" if self.name else ""
        return f"{self.source} record {self.index}{label}"


def _fix_nitrogen_valence(mol: Chem.Mol) -> bool:
    """Give 4-connected neutral N (a common PDB-derived SDF defect) its +1 charge.

    This is the one repair that is always safe: a neutral 4-valent N does not exist,
    and the cation is what every such file means.
    """
    mol.UpdatePropertyCache(strict=False)
    changed = False
    for atom in mol.GetAtoms():
        if atom.GetSymbol() == "N" and atom.GetFormalCharge() == 0 and atom.GetExplicitValence() == 4:
            atom.SetFormalCharge(1)
            changed = True
    return changed


def sanitize_record(mol: Chem.Mol) -> tuple[Chem.Mol | None, str, str | None]:
    """Sanitise with RDKit; returns (mol, note, error)."""
    try:
        Chem.SanitizeMol(mol)
        return mol, "", None
    except Exception as exc:  # RDKit raises several MolSanitizeException subclasses
        first_error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    repaired = Chem.Mol(mol)
    if _fix_nitrogen_valence(repaired):
        try:
            Chem.SanitizeMol(repaired)
            return repaired, "4-valent N given +1 charge", None
        except Exception:
            pass
    return None, "", f"RDKit cannot sanitise: {first_error}"


def _check_coordinates(mol: Chem.Mol) -> str | None:
    if mol.GetNumAtoms() == 0:
        return "record has no atoms"
    if mol.GetNumHeavyAtoms() == 0:
        return "record has no heavy atoms"
    if mol.GetNumConformers() == 0:
        return "record has no 3D coordinates"
    pos = mol.GetConformer().GetPositions()
    import numpy as np

    if not np.isfinite(pos).all():
        return "record has non-finite (NaN/inf) coordinates"
    if mol.GetNumHeavyAtoms() > 1 and np.allclose(pos, 0.0):
        return "record has all-zero coordinates (2D or missing geometry)"
    return None


def _parse_sd_props(lines: list[str]) -> dict[str, str]:
    props: dict[str, str] = {}
    key = None
    values: list[str] = []
    for line in lines:
        if line.startswith(">"):
            if key is not None:
                props[key] = "\n".join(values).strip()
            start, end = line.find("<"), line.find(">", line.find("<") + 1)
            key = line[start + 1 : end] if start >= 0 and end > start else None
            values = []
        elif key is not None:
            values.append(line)
    if key is not None:
        props[key] = "\n".join(values).strip()
    return props


def _diagnose_molblock(lines: list[str]) -> str | None:
    """A more specific reason than RDKit's silent None, for the common cases."""
    import math

    try:
        n_atoms = int(lines[3][:3])
    except (IndexError, ValueError):
        return "cannot parse record (malformed counts line)"
    for line in lines[4 : 4 + n_atoms]:
        try:
            xyz = [float(line[k : k + 10]) for k in (0, 10, 20)]
        except ValueError:
            return "cannot parse record (malformed atom line)"
        if not all(math.isfinite(v) for v in xyz):
            return "record has non-finite (NaN/inf) coordinates"
    return None


def _record_from_block(source: str, index: int, block: str) -> LigandRecord:
    lines = block.split("\n")
    name = lines[0].strip() if lines else ""
    end = next((i for i, line in enumerate(lines) if line.startswith("M  END")), None)
    props = _parse_sd_props(lines[end + 1 :]) if end is not None else {}
    record = LigandRecord(source=source, index=index, name=name, block=block, props=props)
    if end is None:
        record.error = "truncated or malformed record (no 'M  END' line)"
        return record
    molblock = "\n".join(lines[: end + 1])
    try:
        mol = Chem.MolFromMolBlock(molblock, sanitize=False, removeHs=False, strictParsing=True)
    except Exception as exc:
        mol, record.error = None, f"cannot parse record: {exc}"
    if mol is None:
        record.error = record.error or _diagnose_molblock(lines) or "cannot parse record (malformed atom or bond block)"
        return record
    for key, value in props.items():
        mol.SetProp(key, value)
    mol.SetProp("_Name", name)
    return _finish(record, mol)


def _finish(record: LigandRecord, mol: Chem.Mol) -> LigandRecord:
    problem = _check_coordinates(mol)
    if problem:
        record.error = problem
        return record
    mol, note, error = sanitize_record(mol)
    record.mol, record.note, record.error = mol, note, error
    return record


def _text_lines(path: Path) -> Iterator[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", newline=None) as handle:
            for line in handle:
                yield line.rstrip("\n").rstrip("\r")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text ligand file (binary content)") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read ligand file ({exc})") from None


def _iter_sdf(path: Path) -> Iterator[LigandRecord]:
    buffer: list[str] = []
    index = 0
    for line in _text_lines(path):
        if line.startswith("$$$$"):
            yield _record_from_block(str(path), index, "\n".join(buffer))
            index += 1
            buffer = []
        else:
            buffer.append(line)
    if any(line.strip() for line in buffer):  # last record without $$$$ (or a truncated one)
        yield _record_from_block(str(path), index, "\n".join(buffer))
        index += 1
    if index == 0:
        raise InputError(f"{path}: ligand file is empty")


def _iter_mol2(path: Path) -> Iterator[LigandRecord]:
    buffer: list[str] = []
    index = 0

    def flush() -> LigandRecord:
        block = "\n".join(buffer) + "\n"
        name = buffer[1].strip() if len(buffer) > 1 else ""
        record = LigandRecord(source=str(path), index=index, name=name, block="")
        mol = Chem.MolFromMol2Block(block, sanitize=False, removeHs=False)
        if mol is None:
            record.error = "cannot parse MOL2 record"
            return record
        mol.SetProp("_Name", name)
        return _finish(record, mol)

    for line in _text_lines(path):
        if line.startswith("@<TRIPOS>MOLECULE") and buffer:
            yield flush()
            index += 1
            buffer = []
        buffer.append(line)
    if any(line.strip() for line in buffer):
        yield flush()
        index += 1
    if index == 0:
        raise InputError(f"{path}: ligand file is empty")


def iter_ligands(path: str | Path) -> Iterator[LigandRecord]:
    """Yield every record of an SDF/SDF.gz/MOL2 file in order, bad ones included.

    File-level problems (missing, empty, binary) raise :class:`InputError`.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: ligand file not found")
    name = path.name.lower()
    if name.endswith((".mol2", ".mol2.gz")):
        yield from _iter_mol2(path)
    elif name.endswith(SUPPORTED):
        yield from _iter_sdf(path)
    else:
        raise InputError(f"{path}: unsupported ligand format (use {', '.join(SUPPORTED)})")


def records_from_mols(mols: list[Chem.Mol], source: str = "<memory>") -> Iterator[LigandRecord]:
    """Wrap in-memory RDKit molecules (a notebook user's) as records."""
    for index, mol in enumerate(mols):
        name = mol.GetProp("_Name") if mol is not None and mol.HasProp("_Name") else ""
        record = LigandRecord(source=source, index=index, name=name)
        if mol is None:
            record.error = "molecule is None"
            yield record
            continue
        record.props = {k: str(v) for k, v in mol.GetPropsAsDict().items()}
        yield _finish(record, Chem.Mol(mol))
