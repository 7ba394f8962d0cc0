"""Streaming ligand reading with RDKit: SDF, SDF.gz, MOL2 and PDBQT (dockscore.io.pdbqt), one record at a time.

Every record comes back as a :class:`LigandRecord`, good or bad, so a caller can
report a bad record in one line and go on with the next one. Records are read
lazily: memory does not grow with the number of poses in a file.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rdkit import Chem, RDLogger

from dockscore.errors import InputError

RDLogger.DisableLog("rdApp.*")  # errors are reported per record by dockscore instead

SUPPORTED = (".sdf", ".sd", ".mol", ".sdf.gz", ".sd.gz", ".mol2", ".mol2.gz", ".pdbqt", ".pdbqt.gz")


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


def _record_from_mol2(source: str, index: int, text: str) -> LigandRecord:
    lines = text.split("\n")
    name = lines[1].strip() if len(lines) > 1 else ""
    record = LigandRecord(source=source, index=index, name=name, block="")
    mol = Chem.MolFromMol2Block(text + "\n", sanitize=False, removeHs=False)
    if mol is None:
        record.error = "cannot parse MOL2 record"
        return record
    implicit_h = all(atom.GetAtomicNum() != 1 for atom in mol.GetAtoms())
    if implicit_h:
        # A heavy-atom MOL2 (PLANTS without -H, PDB ligand exports): its hydrogens are implicit, as
        # in an SD file. RDKit's MOL2 reader takes every hydrogen as written, so it charges an NH2
        # as N(2-) and calls unfilled valences radicals: undo those negative charges and let the
        # valence fill (positive ones, an N.4, stand; ligand charges are normalised for features).
        for atom in mol.GetAtoms():
            atom.SetNoImplicit(False)
            if atom.GetFormalCharge() < 0:
                atom.SetFormalCharge(0)
    mol.SetProp("_Name", name)
    record = _finish(record, mol)
    if implicit_h and record.mol is not None:  # the reader set no stereo on centres whose H is implicit
        Chem.AssignStereochemistryFrom3D(record.mol)
    return record


def _record_from_pdbqt(source: str, index: int, text: str, template: Chem.Mol | None) -> LigandRecord:
    from dockscore.io.pdbqt import mol_from_pdbqt, pose_name, vina_result

    record = LigandRecord(source=source, index=index, name=pose_name(text, source), block="")
    score = vina_result(text)
    if score is not None:
        record.props["vina_result_kcal_per_mol"] = score
    mol, error = mol_from_pdbqt(text, template)
    if mol is None:
        record.error = error
        return record
    mol.SetProp("_Name", record.name)
    return _finish(record, mol)


# -- raw records: bytes -> one text block per record ------------------------------------------
# Records are split and decoded one at a time, so one bad byte or one broken record costs that
# record only, and a worker process can be handed record text to parse (see dockscore.rank).

READ_CHUNK = 1 << 20


@dataclass
class RawRecord:
    """The text of one record, before RDKit sees it. ``offset`` is how many bytes of the file
    (compressed bytes for .gz) had been read when the record ended: progress without a count."""

    source: str
    index: int
    text: str
    fmt: str  # "sdf", "mol2" or "pdbqt"
    offset: int = 0
    note: str = ""  # e.g. how the text was decoded or split
    error: str = ""  # a problem of the record as a whole (it is still yielded, to be counted)


def _byte_chunks(path: Path) -> Iterator[tuple[bytes, int]]:
    """(decompressed bytes, file bytes read so far). Gzip is decoded member by member with zlib,
    so a truncated stream gives back every byte before the cut, then raises :class:`InputError`."""
    gz = path.name.lower().endswith(".gz")
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ligand file ({exc.strerror or exc})") from None
    with handle:
        inflate = zlib.decompressobj(wbits=31) if gz else None
        read, inside_member, any_output = 0, False, False
        while True:
            try:
                data = handle.read(READ_CHUNK)
            except OSError as exc:
                raise InputError(f"{path}: cannot read ligand file ({exc.strerror or exc})") from None
            if not data:
                break
            read += len(data)
            if inflate is None:
                yield data, read
                continue
            while data:
                try:
                    out = inflate.decompress(data)
                except zlib.error:
                    what = "corrupt gzip data; the records before it were read" if any_output else "not a gzip file"
                    raise InputError(f"{path}: {what}") from None
                inside_member = not inflate.eof
                if out:
                    any_output = True
                    yield out, read
                if inflate.eof:  # the next gzip member: concatenated members are one valid file
                    data, inflate = inflate.unused_data, zlib.decompressobj(wbits=31)
                else:
                    data = b""
        if inside_member:
            raise InputError(f"{path}: compressed stream ends early (truncated .gz); the records before the cut were read")


def _check_text(path: Path, first_chunk: bytes) -> None:
    if b"\x00" in first_chunk[:4096]:
        raise InputError(f"{path}: not a text ligand file (binary content)")


def _byte_lines(path: Path) -> Iterator[tuple[bytes, int]]:
    """Lines (without line ends) and the file offset after each; the last line may lack a newline."""
    tail = b""
    offset = 0
    first = True
    for chunk, offset in _byte_chunks(path):
        if first:
            _check_text(path, chunk)
            first = False
        lines = (tail + chunk).split(b"\n")
        tail = lines.pop()
        for line in lines:
            yield line.rstrip(b"\r"), offset
    if tail:
        yield tail.rstrip(b"\r"), offset


def _decode(lines: list[bytes]) -> tuple[str, str]:
    return _decode_bytes(b"\n".join(lines))


def _is_counts_line(line: bytes) -> bool:
    return line.rstrip().endswith((b"V2000", b"V3000"))


def _molfile_parts(raw: bytes) -> list[bytes]:
    """:func:`_split_molfiles` on a record's bytes; the line scan runs only when the record holds
    more than one ``V2000``/``V3000`` (almost never), so a well-formed record costs two counts."""
    if raw.count(b"V2000") + raw.count(b"V3000") <= 1:
        return [raw]
    return [b"\n".join(part) for part in _split_molfiles(raw.split(b"\n"))]


# A "$$$$" line (the SD record separator), complete with its line end
_SD_SEPARATOR = re.compile(rb"^\$\$\$\$[^\n]*\n", re.MULTILINE)


def _sd_record_bytes(path: Path) -> Iterator[tuple[bytes, int]]:
    """(record bytes, file bytes read so far) of an SD file, split at "$$$$" lines a chunk at a
    time (a regular expression over each chunk instead of a Python step per line: the reader was
    most of the rank driver's time per pose). Line ends are LF; a CR before one is dropped. The
    last piece (no "$$$$" after it) comes last, possibly empty. A truncated gzip raises
    :class:`InputError` after the records before the cut, with the cut record in ``exc.partial``."""
    tail, offset, first = b"", 0, True
    try:
        for chunk, offset in _byte_chunks(path):
            if first:
                _check_text(path, chunk)
                first = False
            data = tail + chunk
            start = 0
            for match in _SD_SEPARATOR.finditer(data):
                yield _lf(data[start:match.start()]), offset
                start = match.end()
            tail = data[start:]
    except InputError as exc:  # the record the cut went through, to its last whole line
        exc.partial = _lf(tail[: tail.rfind(b"\n") + 1]) if b"\n" in tail else b""
        raise
    last_line = tail[tail.rfind(b"\n") + 1:]
    if last_line.startswith(b"$$$$"):  # a last "$$$$" line without a line end
        yield _lf(tail[: len(tail) - len(last_line)]), offset
        tail = b""
    yield _lf(tail + b"\n") if tail else b"", offset


def _lf(record: bytes) -> bytes:
    """A record's bytes as the line reader gave them: without the newline before "$$$$", and
    without a CR at any line's end."""
    record = record[:-1] if record.endswith(b"\n") else record
    if b"\r" in record:
        record = b"\n".join(line.rstrip(b"\r") for line in record.split(b"\n"))
    return record


def _split_molfiles(lines: list[bytes]) -> list[list[bytes]]:
    """One SDF record's lines, split where a second molfile starts without a ``$$$$`` line
    between them (two molfiles joined, or a truncated record followed by a good one).

    A molfile starts three lines above its counts line (``... V2000``)."""
    counts = [i for i, line in enumerate(lines) if _is_counts_line(line)]
    starts = [max(0, i - 3) for i in counts[1:]]
    starts = [s for k, s in enumerate(starts) if s > (starts[k - 1] if k else 0)]
    if not starts:
        return [lines]
    bounds = [0] + starts + [len(lines)]
    return [lines[a:b] for a, b in zip(bounds, bounds[1:])]


def _decode_bytes(raw: bytes) -> tuple[str, str]:
    """(text, note): UTF-8 when it is; else Latin-1, which maps every byte (a name with an
    'e acute' from an old Windows tool keeps its record, and the note says so)."""
    try:
        return raw.decode("utf-8"), ""
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "non-UTF-8 bytes read as Latin-1"


def _sd_raw_records(path: Path, source: str) -> Iterator[RawRecord]:
    index = 0

    def emit(raw: bytes, offset: int, error: str | None = None) -> Iterator[RawRecord]:
        nonlocal index
        parts = [raw] if error else _molfile_parts(raw)
        for part in parts:
            text, note = _decode_bytes(part)
            if len(parts) > 1:
                note = "; ".join(filter(None, [note, f"split from a record holding {len(parts)} molfiles (no $$$$ between them)"]))
            yield RawRecord(source, index, text, "sdf", offset, note, **({"error": error} if error else {}))
            index += 1

    pending: tuple[bytes, int] | None = None  # the piece after the last "$$$$" so far: a record only if not blank
    try:
        for raw, offset in _sd_record_bytes(path):
            if pending is not None:  # delimited by a "$$$$": a record, blank or not, as the line reader had it
                yield from emit(*pending)
            pending = (raw, offset)
    except InputError as exc:
        if pending is not None:
            yield from emit(*pending)
        partial = getattr(exc, "partial", b"")
        if partial.strip():  # the record the cut went through
            yield from emit(partial, pending[1] if pending else 0, "truncated record (the file ends inside it)")
        raise
    if pending is not None and pending[0].strip():  # the last record without $$$$ (or a truncated one)
        yield from emit(*pending)
    if index == 0:
        raise InputError(f"{path}: ligand file is empty")


def iter_raw_records(path: str | Path) -> Iterator[RawRecord]:
    """Every record of an SDF/SDF.gz/MOL2 file as text, in order, broken ones included.

    File-level problems (missing, unsupported, binary, empty, truncated gzip) raise
    :class:`InputError`, the last two after the records before them were yielded."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: ligand file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a ligand file")
    name = path.name.lower()
    if name.endswith((".mol2", ".mol2.gz")):
        fmt = "mol2"
    elif name.endswith((".pdbqt", ".pdbqt.gz")):
        fmt = "pdbqt"
    elif name.endswith(SUPPORTED):
        fmt = "sdf"
    else:
        raise InputError(f"{path}: unsupported ligand format (use {', '.join(SUPPORTED)})")
    source = str(path)
    index = 0
    buffer: list[bytes] = []

    if fmt == "sdf":
        yield from _sd_raw_records(path, source)
        return

    def emit(lines: list[bytes], offset: int) -> Iterator[RawRecord]:
        nonlocal index
        parts = [lines]
        for part in parts:
            text, note = _decode(part)
            if len(parts) > 1:
                note = "; ".join(filter(None, [note, f"split from a record holding {len(parts)} molfiles (no $$$$ between them)"]))
            yield RawRecord(source, index, text, fmt, offset, note)
            index += 1

    offset = 0
    try:
        for line, offset in _byte_lines(path):
            if fmt == "pdbqt":  # one pose per MODEL ... ENDMDL (a file without MODEL lines is one pose)
                buffer.append(line)
                if line.startswith(b"ENDMDL"):
                    yield from emit(buffer, offset)
                    buffer = []
            else:
                if line.startswith(b"@<TRIPOS>MOLECULE") and any(b.strip() for b in buffer):
                    if index or not _mol2_header(buffer):  # a "### Created by ..." header is no record
                        yield from emit(buffer, offset)
                    buffer = []
                buffer.append(line)
    except InputError:
        if any(b.strip() for b in buffer):  # the record the cut went through
            text, note = _decode(buffer)
            yield RawRecord(source, index, text, fmt, offset, note, error="truncated record (the file ends inside it)")
            index += 1
        raise
    if any(b.strip() for b in buffer):  # last record without $$$$ (or a truncated one)
        yield from emit(buffer, offset)
    if index == 0:
        raise InputError(f"{path}: ligand file is empty")


def _mol2_header(lines: list[bytes]) -> bool:
    """Lines before a file's first molecule that are only comments (PDBbind's and other tools'
    ``### Created by X-TOOL`` banner): Tripos MOL2 allows ``#`` comment lines anywhere."""
    return all(not line.strip() or line.lstrip().startswith(b"#") for line in lines)


def parse_raw(raw: RawRecord, template: Chem.Mol | None = None) -> LigandRecord:
    """A :class:`LigandRecord` from a record's text (safe to call in another process);
    ``template``: the chemistry of PDBQT poses that carry no Meeko SMILES (dockscore.io.pdbqt)."""
    if raw.fmt == "mol2":
        record = _record_from_mol2(raw.source, raw.index, raw.text)
    elif raw.fmt == "pdbqt":
        record = _record_from_pdbqt(raw.source, raw.index, raw.text, template)
    else:
        record = _record_from_block(raw.source, raw.index, raw.text)
    if raw.error and record.error is None:
        record.mol, record.error = None, raw.error
    record.note = "; ".join(filter(None, [raw.note, record.note]))
    return record


def iter_ligands(path: str | Path, template: Chem.Mol | None = None) -> Iterator[LigandRecord]:
    """Yield every record of an SDF/SDF.gz/MOL2/PDBQT file in order, bad ones included.

    File-level problems (missing, empty, binary, truncated gzip) raise :class:`InputError`;
    a truncated file raises it after every record before the cut."""
    for raw in iter_raw_records(path):
        yield parse_raw(raw, template)


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
