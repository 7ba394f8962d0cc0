"""Streaming writers for scored poses: SDF (original records + dockscore properties) and CSV."""

from __future__ import annotations

import csv
import gzip
import io
import math
import os
from pathlib import Path

from rdkit import Chem

from dockscore.model import TERM_NAMES
from dockscore.overlap import format_length
from dockscore.definitions import SCORE_UNIT
from dockscore.scoring import PoseScore

# -- every CSV dockscore writes: its columns and its rows, here and nowhere else ---------------------
CSV_COLUMNS = ["name", "index", "score", "pose_score", "status", "message", "source", "score_unit", "symmetry", "model",
               "stereo", "cip", "stereo_flag", "closest_contact_A", "clashes", "overlap_A"] + [f"term_{t}" for t in TERM_NAMES]


def _fmt(value: float | None) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.4f}"


def _count(value: int | None) -> str:
    return "" if value is None else str(value)


PK_FIELDS = ("score", "pose_score", "start_score")  # pK numbers: four decimals, the unit written beside the first


def dockscore_properties(**values) -> dict[str, str]:
    """The ``dockscore_*`` SD properties of a record, in the order given: the one place they are
    spelled and formatted (pK to 4 decimals with ``dockscore_score_unit`` after the first; lengths
    ``*_A`` in A to 2; RMSD to 3; missing values empty), for score, rank, enantiomers and minimize."""
    props = {}
    for key, value in values.items():
        if key in PK_FIELDS:
            text = _fmt(value)
        elif key.endswith("_A"):
            text = format_length(value)
        elif key == "rmsd_to_start":
            text = "" if value is None else f"{value:.3f}"
        else:
            text = "" if value is None else str(value)
        props[f"dockscore_{key}"] = text
        if key in PK_FIELDS and "dockscore_score_unit" not in props:
            props["dockscore_score_unit"] = SCORE_UNIT
    return props


class _ReplacedWhenComplete:
    """A file written as ``NAME.partial`` beside its target and renamed over it by
    ``close(complete=True)``: an interrupted run leaves the old file (if any) untouched and the
    partial one beside it, never a half-written file where a good one stood."""

    path: Path
    partial: Path
    handle: io.IOBase

    def close(self, complete: bool = True) -> None:
        if self.handle.closed:
            return
        self.handle.close()
        if complete:
            os.replace(self.partial, self.path)

    def __exit__(self, exc_type, *rest) -> None:
        self.close(complete=exc_type is None)


class ResultWriter(_ReplacedWhenComplete):
    """Writes results as they arrive; the format follows the file extension (.sdf, .sdf.gz, .csv).

    Rows go to ``NAME.partial`` beside the output, flushed per result (a crash keeps what was
    scored); :meth:`close` renames it into place only when the run completed, so an interrupted
    run never leaves a half-written file where a good one stood. A ``.gz`` output is written as
    one gzip member per result: the partial file stays a valid gzip file even after ``kill -9``."""

    def __init__(self, path: str | Path, symmetry: str, model_name: str) -> None:
        self.path = Path(path)
        self.symmetry, self.model_name = symmetry, model_name
        name = self.path.name.lower()
        if name.endswith((".sdf", ".sdf.gz")):
            self.kind = "sdf"
        elif name.endswith(".csv"):
            self.kind = "csv"
        else:
            raise ValueError(f"{self.path}: output must end in .sdf, .sdf.gz or .csv")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.gz = name.endswith(".gz")
        self.handle = open(self.partial, "wb")
        self.written = 0
        if self.kind == "csv":
            self._emit(self._csv_line(CSV_COLUMNS))

    def _emit(self, text: str) -> None:
        data = text.encode("utf-8")
        self.handle.write(gzip.compress(data, mtime=0) if self.gz else data)
        self.handle.flush()

    @staticmethod
    def _csv_line(row: list) -> str:
        buffer = io.StringIO()
        csv.writer(buffer).writerow(row)
        return buffer.getvalue()

    def write(self, result: PoseScore) -> None:
        if self.kind == "csv":
            st = result.stereo
            row = [result.name, result.index, _fmt(result.score), _fmt(result.pose_score), result.status, result.message, result.source, SCORE_UNIT,
                   self.symmetry, self.model_name, st.kind() if st else "", st.cip() if st else "", st.flag() if st else "",
                   format_length(result.closest_contact), _count(result.clashes), format_length(result.overlap)]
            row += [_fmt(result.terms.get(t)) for t in TERM_NAMES]
            self._emit(self._csv_line(row))
        else:
            self._emit(self._sdf_record(result))
        self.written += 1

    def _sdf_record(self, result: PoseScore) -> str:
        record = result.record
        block = record.block if record is not None else ""
        if not block and record is not None and record.mol is not None:  # MOL2 or in-memory input
            mol = Chem.Mol(record.mol)
            block = Chem.MolToMolBlock(mol) + sd_properties(record.props)
        if not block.strip():
            block = f"{result.name}\n  dockscore\n\n  0  0  0  0  0  0  0  0  0  0999 V2000\nM  END"
        block = block.rstrip("\n")
        if "M  END" not in block:  # a truncated record: keep a placeholder so every input has an output record
            block = f"{result.name}\n  dockscore\n\n  0  0  0  0  0  0  0  0  0  0999 V2000\nM  END"
        props = dockscore_properties(score=result.score, pose_score=result.pose_score, status=result.status,
                                     closest_contact_A=result.closest_contact, clashes=result.clashes, overlap_A=result.overlap,
                                     symmetry=self.symmetry, model=self.model_name)
        if result.stereo is not None:
            props |= dockscore_properties(stereo=result.stereo.kind(), cip=result.stereo.cip(), stereo_flag=result.stereo.flag())
        if result.message:
            props |= dockscore_properties(error=result.message)
        return with_sd_properties(block, props)

    def __enter__(self) -> "ResultWriter":
        return self


# -- outputs that replace a file only when complete -------------------------------------------
class AtomicOutput(_ReplacedWhenComplete):
    """A text file (gzip for ``.gz``) written to ``NAME.partial`` and renamed over the target on success."""

    def __init__(self, path: str | Path, mode: str = "w") -> None:
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.mode = mode

    def open(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.name.lower().endswith(".gz"):
            self.handle = gzip.open(self.partial, self.mode + "t", encoding="utf-8", newline="")
        else:
            self.handle = open(self.partial, self.mode, encoding="utf-8", newline="")
        return self.handle

    def __enter__(self):
        return self.open()


def write_bytes_atomically(path: str | Path, data: bytes) -> None:
    """A picture or other binary output: written beside the target, renamed over it when whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def sd_properties(props: dict[str, str]) -> str:
    return "".join(f"> <{k}>\n{v}\n\n" for k, v in props.items())


def with_sd_properties(block: str, props: dict[str, str]) -> str:
    """An SDF record (its text up to and without ``$$$$``) with ``props`` appended after the
    ones it has: original properties are kept, dockscore's follow."""
    block = block.rstrip("\n")
    sep = "\n" if block.endswith("M  END") else "\n\n"
    return block + sep + sd_properties(props) + "$$$$\n"


def check_outputs(outputs: list[str | Path | None], inputs: list[str | Path]) -> None:
    """Raise :class:`InputError` before any work when an output would overwrite an input (same
    resolved path or same file through a link) or cannot be a file (it is a directory)."""
    from dockscore.errors import InputError

    sources = [Path(p) for p in inputs if p is not None]
    resolved = {p.resolve() for p in sources}
    for out in (Path(o) for o in outputs if o is not None):
        if out.is_dir():
            raise InputError(f"{out}: is a directory; give a file name for this output")
        if out.resolve() in resolved or (out.exists() and any(p.exists() and os.path.samefile(out, p) for p in sources)):
            raise InputError(f"{out}: is one of the inputs; refusing to overwrite it (choose another output name)")


class PartialSDWriter:
    """RDKit's SDWriter onto ``NAME.partial``, renamed into place by ``close(complete=True)``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.writer = Chem.SDWriter(str(self.partial))
        self.closed = False

    def write(self, mol: Chem.Mol) -> None:
        self.writer.write(mol)

    def flush(self) -> None:
        self.writer.flush()

    def close(self, complete: bool = True) -> None:
        if self.closed:
            return
        self.writer.close()
        self.closed = True
        if complete:
            os.replace(self.partial, self.path)


RANKED_COLUMNS = ["rank", "compound", "score", "pose_score", "closest_contact_A", "clashes", "overlap_A", "clash_flag", "best_pose_source",
                  "best_pose_index", "best_pose_name", "n_poses", "n_failed", "stereo", "cip", "stereo_flag", "smiles", "score_unit",
                  "symmetry", "model"]
FAILURE_COLUMNS = ["file", "index", "name", "reason"]


def ranked_row(rank: int, c, settings: dict[str, str]) -> list:
    """One compound of `dockscore rank`'s CSV (``c``: a :class:`dockscore.store.RankedCompound`)."""
    return [rank, c.compound, _fmt(c.score), _fmt(c.pose_score), format_length(c.closest_contact), _count(c.clashes),
            format_length(c.overlap), "overlaps protein" if c.overlapping else "", c.source, c.record_index, c.name,
            c.n_poses, c.n_failed, c.stereo, c.cip, c.stereo_flag, c.smiles, SCORE_UNIT,
            settings.get("symmetry", ""), settings.get("model_name", "")]


SUMMARY_COLUMNS = ["name", "index", "kind", "input_cip", "input_score", "enantiomer_cip", "enantiomer_score", "delta",
                   "preferred", "flagged", "threshold", "noise", "input_rmsd", "enantiomer_rmsd", "other_forms", "symmetry",
                   "model", "seconds", "message"]


def summary_row(c, symmetry: str, model: str) -> dict:
    """One ligand of `dockscore enantiomers`' CSV (``c``: a :class:`dockscore.enantiomers.StereoComparison`); scores in pK, delta = enantiomer - input."""
    i, e = c.input, c.enantiomer
    f = lambda x: "" if x is None or x != x else f"{x:.3f}"  # noqa: E731
    others = ";".join(f"{x.form} {x.cip} {x.score:.3f}" for x in c.forms if x.form.startswith("isomer"))
    return {"name": c.name, "index": c.index, "kind": c.kind, "input_cip": i.cip if i else "", "input_score": f(i.score if i else None),
            "enantiomer_cip": e.cip if e else "", "enantiomer_score": f(e.score if e else None), "delta": f(c.delta if e else None),
            "preferred": c.preferred, "flagged": c.flagged, "threshold": f(c.threshold), "noise": f(c.noise),
            "input_rmsd": f(i.rmsd_to_start if i else None), "enantiomer_rmsd": f(e.rmsd_to_start if e else None),
            "other_forms": others, "symmetry": symmetry, "model": model, "seconds": f"{c.seconds:.2f}", "message": c.message}


STEREOISOMER_COLUMNS = ["group", "constitution", "isomer_smiles", "cip", "name", "index", "best_score", "rank", "group_delta", "flagged",
                        "threshold", "symmetry", "model"]


def stereoisomer_row(group_index: int, group, isomer: str, cip: str, name: str, index: int, score: float, rank: int, n_ranked: int,
                     flagged: bool, threshold: float, symmetry: str, model: str) -> list:
    """One stereoisomer of `dockscore compare`'s CSV (``group``: a :class:`dockscore.enantiomers.IsomerGroup`)."""
    return [group_index, group.constitution, isomer, cip, name, index, _fmt(score), rank, _fmt(group.delta) if n_ranked > 1 else "",
            flagged, threshold, symmetry, model]
