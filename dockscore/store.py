"""The results store of a long run: one SQLite file (standard library, nothing to start).

Every scored pose is a row keyed by (input file, record index); an input file is known by a
hash of its content, so a file changed since an earlier run is a new file, never mistaken for
the old one. Rows of one batch go in one transaction (WAL journal): a ``kill -9`` loses at most
the batch in flight, never corrupts what was committed, and a primary key means a resumed run
cannot count a pose twice. Ranked tables are queries over the store, so they can be made again
without rescoring.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dockscore.errors import InputError

SCHEMA_VERSION = "2"  # 2: closest_contact, clashes and overlap per pose

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    file_id INTEGER PRIMARY KEY,
    path TEXT NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE,  -- size + BLAKE2b of the content
    n_records INTEGER,                 -- set when the whole file has been read
    done INTEGER NOT NULL DEFAULT 0,
    error TEXT,                        -- a file-level problem (unreadable, truncated)
    active INTEGER NOT NULL DEFAULT 1  -- part of the latest run's input (only active files are ranked)
);
CREATE TABLE IF NOT EXISTS poses (
    file_id INTEGER NOT NULL REFERENCES files(file_id),
    record_index INTEGER NOT NULL,
    name TEXT NOT NULL,
    compound TEXT NOT NULL,
    status TEXT NOT NULL,              -- ok or error
    score REAL,                        -- pK
    pose_score REAL,                   -- pK-like, for choosing among poses of one compound
    message TEXT NOT NULL DEFAULT '',
    stereo TEXT NOT NULL DEFAULT '',
    cip TEXT NOT NULL DEFAULT '',
    stereo_flag TEXT NOT NULL DEFAULT '',
    smiles TEXT NOT NULL DEFAULT '',
    closest_contact REAL,              -- A, shortest ligand-protein heavy-atom distance
    clashes INTEGER,                   -- heavy-atom pairs overlapping past dockscore.overlap.OVERLAP_ONSET
    overlap REAL,                      -- A, their summed overlap past it
    PRIMARY KEY (file_id, record_index)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS poses_by_compound ON poses (compound, status);
CREATE TABLE IF NOT EXISTS comparisons (  -- dockscore enantiomers: one left/right comparison per record
    file_id INTEGER NOT NULL REFERENCES files(file_id),
    record_index INTEGER NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,              -- ok or error
    message TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '{}',  -- JSON: the summary CSV row (scores in pK)
    poses TEXT NOT NULL DEFAULT '',    -- SDF text: the optimised pose of every form, with dockscore properties
    PRIMARY KEY (file_id, record_index)
) WITHOUT ROWID;
"""
COMPARE_JOB = "enantiomers"  # the store setting ``job`` of an enantiomers run (a rank store has none)

POSE_COLUMNS = ("record_index", "name", "compound", "status", "score", "pose_score", "message", "stereo", "cip", "stereo_flag", "smiles",
                "closest_contact", "clashes", "overlap")


@dataclass(frozen=True)
class PoseRow:
    """One scored (or failed) record, as the store keeps it."""

    record_index: int
    name: str
    compound: str
    status: str
    score: float | None = None
    pose_score: float | None = None
    message: str = ""
    stereo: str = ""
    cip: str = ""
    stereo_flag: str = ""
    smiles: str = ""
    closest_contact: float | None = None
    clashes: int | None = None
    overlap: float | None = None


@dataclass(frozen=True)
class ComparisonRow:
    """One compared (or failed) record of an enantiomers run, as the store keeps it."""

    record_index: int
    name: str
    status: str
    message: str = ""
    summary: str = "{}"
    poses: str = ""


@dataclass(frozen=True)
class RankedCompound:
    """A compound's best pose (highest pose score among its physically valid poses, if any) and
    its counts; compounds are ordered by score, those with no valid pose last (``overlapping``)."""

    compound: str
    score: float
    pose_score: float
    source: str
    record_index: int
    name: str
    n_poses: int
    n_failed: int
    stereo: str
    cip: str
    stereo_flag: str
    smiles: str
    closest_contact: float | None
    clashes: int | None
    overlap: float | None
    overlapping: bool  # the chosen pose overlaps the protein more than the ranking allows: every pose of the compound does


def file_fingerprint(path: str | Path, block: int = 1 << 20) -> str:
    """Size and BLAKE2b of the content: what makes a file the same file on resume."""
    digest = hashlib.blake2b(digest_size=16)
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
            size += len(chunk)
    return f"{size}:{digest.hexdigest()}"


class ResultStore:
    """An SQLite results store. ``settings`` (model, protein, symmetry, grouping...) are fixed
    when the store is made; opening it with other settings raises :class:`InputError`, since
    scores of two models must never be ranked together."""

    def __init__(self, path: str | Path, settings: dict[str, str] | None = None, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise InputError(f"{self.path}: results store not found")
        if self.path.is_dir():
            raise InputError(f"{self.path}: is a directory, not a results store")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(str(self.path), isolation_level=None)  # transactions are explicit
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at each checkpoint, never corrupt
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path}: not a dockscore results store ({exc})") from None
        stored = self.settings()
        if stored and stored.get("schema") != SCHEMA_VERSION:
            raise InputError(f"{self.path}: results store of an older dockscore (schema {stored.get('schema')!r}, now {SCHEMA_VERSION!r}): "
                             "rank into a new --store")
        if settings is not None:
            settings = {**settings, "schema": SCHEMA_VERSION}
            if not stored:
                with self.transaction():
                    self.db.executemany("INSERT INTO meta VALUES (?, ?)", sorted(settings.items()))
            else:
                differ = [k for k in sorted(set(settings) | set(stored)) if settings.get(k) != stored.get(k)]
                if differ:
                    what = ", ".join(f"{k} {stored.get(k)!r} there, {settings.get(k)!r} now" for k in differ)
                    raise InputError(f"{self.path}: store was made with other settings ({what}); use another --store")
        self.table = "comparisons" if self.settings().get("job") == COMPARE_JOB else "poses"

    # -- bookkeeping ------------------------------------------------------------------------
    def settings(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta"))

    def transaction(self):
        return _Transaction(self.db)

    def file_id(self, path: str, fingerprint: str) -> int:
        """The id of this file content (a new id for new or changed content); marks it active."""
        with self.transaction():
            row = self.db.execute("SELECT file_id FROM files WHERE fingerprint = ?", (fingerprint,)).fetchone()
            if row is None:
                cur = self.db.execute("INSERT INTO files (path, fingerprint) VALUES (?, ?)", (path, fingerprint))
                return int(cur.lastrowid)
            self.db.execute("UPDATE files SET path = ?, active = 1 WHERE file_id = ?", (path, row[0]))
            return int(row[0])

    def set_active(self, file_ids: Iterable[int]) -> int:
        """Only these files are ranked; returns how many stored files that leaves out."""
        ids = sorted(set(file_ids))
        with self.transaction():
            self.db.execute("UPDATE files SET active = 0")
            self.db.executemany("UPDATE files SET active = 1 WHERE file_id = ?", [(i,) for i in ids])
        return int(self.db.execute("SELECT COUNT(*) FROM files WHERE active = 0").fetchone()[0])

    def progress(self, file_id: int) -> tuple[bool, int]:
        """(whole file done, records stored): rows are written in file order, so a resumed run
        skips the first ``records stored`` records of an unfinished file."""
        done = self.db.execute("SELECT done FROM files WHERE file_id = ?", (file_id,)).fetchone()
        n, top = self.db.execute(f"SELECT COUNT(*), MAX(record_index) FROM {self.table} WHERE file_id = ?", (file_id,)).fetchone()
        if n and top != n - 1:  # not a prefix (never written so by dockscore): rescore the file
            with self.transaction():
                self.db.execute(f"DELETE FROM {self.table} WHERE file_id = ?", (file_id,))
            n = 0
        return bool(done and done[0]), int(n)

    def add_poses(self, file_id: int, rows: list[PoseRow]) -> None:
        """One batch, one transaction."""
        with self.transaction():
            self.db.executemany(
                f"INSERT OR REPLACE INTO poses (file_id, {', '.join(POSE_COLUMNS)}) VALUES (?{', ?' * len(POSE_COLUMNS)})",
                [(file_id, *(getattr(r, c) for c in POSE_COLUMNS)) for r in rows])

    def add_comparisons(self, file_id: int, rows: list[ComparisonRow]) -> None:
        """One batch of an enantiomers run, one transaction."""
        with self.transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO comparisons (file_id, record_index, name, status, message, summary, poses) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(file_id, r.record_index, r.name, r.status, r.message, r.summary, r.poses) for r in rows])

    def comparisons(self) -> Iterator[tuple[str, ComparisonRow]]:
        """(file path, row) of every comparison over the active files, in file and record order. Streams."""
        for path, *row in self.db.execute(
                "SELECT f.path, c.record_index, c.name, c.status, c.message, c.summary, c.poses FROM comparisons c "
                "JOIN files f USING (file_id) WHERE f.active = 1 ORDER BY f.file_id, c.record_index"):
            yield path, ComparisonRow(*row)

    def finish_file(self, file_id: int, n_records: int, error: str | None = None) -> None:
        with self.transaction():
            self.db.execute("UPDATE files SET done = 1, n_records = ?, error = ? WHERE file_id = ?", (n_records, error, file_id))

    # -- reading ------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Poses, failed poses, compounds and files with a file-level error, over the active files."""
        poses, failed, compounds = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(status != 'ok'), 0), COUNT(DISTINCT compound) FROM poses JOIN files USING (file_id) "
            "WHERE active = 1").fetchone()
        ranked = self.db.execute("SELECT COUNT(DISTINCT compound) FROM poses JOIN files USING (file_id) WHERE active = 1 AND status = 'ok'").fetchone()[0]
        bad_files = self.db.execute("SELECT COUNT(*) FROM files WHERE active = 1 AND error IS NOT NULL").fetchone()[0]
        return {"poses": int(poses), "failed": int(failed), "compounds": int(compounds), "ranked": int(ranked), "file_errors": int(bad_files)}

    def ranked(self, max_overlap: float | None = None) -> Iterator[RankedCompound]:
        """Compounds best first: each one's best pose by pose score (ties: file path, record
        index), compounds ordered by that pose's score (ties: compound name). Streams.

        ``max_overlap`` (A): a pose whose summed overlap with the protein (dockscore.overlap) is
        larger is not physically valid; a compound's best pose is chosen among its valid ones, and
        a compound with none ranks after every compound that has one, whatever its score (None: no rule)."""
        limit = -1.0 if max_overlap is None else float(max_overlap)
        query = """
        WITH active AS (
            SELECT p.*, f.path FROM poses p JOIN files f USING (file_id) WHERE f.active = 1
        ), counts AS (
            SELECT compound, COUNT(*) AS n_poses, SUM(status != 'ok') AS n_failed FROM active GROUP BY compound
        ), judged AS (
            SELECT *, (:limit >= 0 AND COALESCE(overlap, 0) > :limit) AS overlapping FROM active WHERE status = 'ok'
        ), best AS (
            SELECT *, ROW_NUMBER() OVER (PARTITION BY compound ORDER BY overlapping, pose_score DESC, path, record_index) AS choice
            FROM judged
        )
        SELECT b.compound, b.score, b.pose_score, b.path, b.record_index, b.name, c.n_poses, c.n_failed,
               b.stereo, b.cip, b.stereo_flag, b.smiles, b.closest_contact, b.clashes, b.overlap, b.overlapping
        FROM best b JOIN counts c USING (compound) WHERE b.choice = 1
        ORDER BY b.overlapping, b.score DESC, b.compound
        """
        for row in self.db.execute(query, {"limit": limit}):
            yield RankedCompound(*row[:-1], overlapping=bool(row[-1]))

    def failures(self) -> Iterator[tuple[str, int | str, str, str]]:
        """(file, record index, name, reason) of every failed record, then every file-level error."""
        yield from self.db.execute(
            f"SELECT f.path, p.record_index, p.name, p.message FROM {self.table} p JOIN files f USING (file_id) "
            "WHERE f.active = 1 AND p.status != 'ok' ORDER BY f.path, p.record_index")
        for path, error in self.db.execute("SELECT path, error FROM files WHERE active = 1 AND error IS NOT NULL ORDER BY path"):
            yield path, "", "", error

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, *rest) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")

