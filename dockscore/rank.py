"""Rank a ligand library against one protein: stream records -> workers score -> store -> ranked table.

The main process only reads record text (cheap) and writes the store; workers parse, featurise
and score. Work units are runs of consecutive records of one file, handed out and written back
in order, so the store always holds a prefix of each file: ``resume`` skips that prefix, and
the ranking is the same whatever the number of workers, the engine (processes or Ray) or where
a run was interrupted. Each compound's best pose is chosen by its pose score; compounds are
ranked by that pose's score (predicted pK).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import deque
from concurrent.futures.process import BrokenProcessPool
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rdkit import Chem

from dockscore.errors import InputError
from dockscore.io.ligands import SUPPORTED, LigandRecord, RawRecord, iter_raw_records, parse_raw
from dockscore.definitions import OVERLAP_ALLOWANCE
from dockscore.store import COMPARE_JOB, ComparisonRow, PoseRow, ResultStore, file_fingerprint

TITLE = "title"  # --group-by default: the record's first line (its name)
FILE, DIR = "file", "dir"  # --group-by file: one compound per input file; dir: per parent folder (DiffDock's layout)
CHOICE_RULE = ("each compound's pose with the highest pose_score among its physically valid poses (overlap with the protein "
               "at most --max-overlap) is its best pose; compounds are ranked by that pose's score (pK)")


@dataclass(frozen=True)
class ScorerSpec:
    """What a worker needs to build its own :class:`~dockscore.scoring.Scorer` (picklable)."""

    protein: str
    model: str | None = None
    symmetry: str = "e3"
    pocket_cutoff: float | None = None
    batch_size: int = 64
    keep_waters: bool = False

    def build(self, device: str = "cpu"):
        from dockscore.scoring import Scorer

        scorer = Scorer(self.protein, model=self.model, symmetry=self.symmetry, pocket_cutoff=self.pocket_cutoff,
                        batch_size=self.batch_size, keep_waters=self.keep_waters)
        return scorer.to(device) if device != "cpu" else scorer


@dataclass
class RankRun:
    """What one call of :func:`rank_library` did (this run only; the store holds every run)."""

    store: Path
    files: int = 0
    file_errors: list[str] = field(default_factory=list)
    poses_scored: int = 0  # records scored in this run, failures included
    poses_failed: int = 0
    poses_skipped: int = 0  # already in the store (resume)
    duplicate_files: list[str] = field(default_factory=list)  # "PATH: same content as FIRST": read once
    seconds: float = 0.0
    interrupted: bool = False
    lost_workers: int = 0  # Ray actors lost with their node or process; their units were sent again
    resent_units: int = 0

    @property
    def poses_per_second(self) -> float:
        return self.poses_scored / self.seconds if self.seconds > 0 else 0.0


# -- inputs -----------------------------------------------------------------------------------
def library_files(inputs: list[str | Path]) -> tuple[list[Path], list[str]]:
    """Ligand files from files, directories (recursively) and glob patterns, each once, in a
    stable order (sorted within a directory or glob); plus one-line problems for the rest."""
    files: list[Path] = []
    problems: list[str] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            files.append(path)

    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(p for p in item.rglob("*") if p.is_file() and p.name.lower().endswith(SUPPORTED))
            if not found:
                problems.append(f"{item}: no ligand files ({', '.join(SUPPORTED)}) in this directory")
            for p in found:
                add(p)
        elif item.exists():
            add(item)
        elif any(ch in str(item) for ch in "*?["):
            pattern = str(item)
            root = Path(pattern).anchor or "."
            relative = pattern[len(Path(pattern).anchor):] if Path(pattern).anchor else pattern
            matched = sorted(p for p in Path(root).glob(relative) if p.is_file())
            if not matched:
                problems.append(f"{item}: no file matches this pattern")
            for p in matched:
                add(p)
        else:
            problems.append(f"{item}: ligand file not found")
    return files, problems


@dataclass(frozen=True)
class Grouping:
    """What makes poses one compound: ``by`` the record title, an SD property, the input file or
    its folder; ``pattern`` (a regular expression) then keeps the part of that key it matches (its
    first group, if it has one): GOLD's titles ``LIG|dock3`` are one compound by ``^([^|]+)``."""

    by: str = TITLE
    pattern: str | None = None

    def key(self, record: LigandRecord) -> str:
        """The compound of a record; a record with no key is its own compound (``file#index``)."""
        if self.by == FILE:
            key = record.source
        elif self.by == DIR:
            key = str(Path(record.source).parent)
        elif self.by == TITLE:
            key = record.name.strip()
        else:
            key = record.props.get(self.by, "").strip()
            if not key and record.mol is not None and record.mol.HasProp(self.by):
                key = record.mol.GetProp(self.by).strip()
        if key and self.pattern:
            match = re.search(self.pattern, key)
            if match:
                key = (match.group(1) if match.re.groups else match.group(0)) or key
        return key or f"{Path(record.source).name}#{record.index}"

    def describe(self) -> str:
        what = {TITLE: "the record title", FILE: "the input file", DIR: "the input file's folder"}.get(self.by, f"the SD property {self.by}")
        return f"poses grouped into compounds by {what}" + (f", the part matching {self.pattern!r}" if self.pattern else "") + \
            (" (a record without one is its own compound)" if self.by not in (FILE, DIR) else "")


def compound_key(record: LigandRecord, group_by: "str | Grouping") -> str:
    """The compound of a record by a :class:`Grouping` (or the name of one's ``by``)."""
    return (group_by if isinstance(group_by, Grouping) else Grouping(group_by)).key(record)


def _smiles(mol: Chem.Mol | None) -> str:
    if mol is None:
        return ""
    try:
        return Chem.MolToSmiles(Chem.RemoveHs(mol))
    except Exception:  # a SMILES is a courtesy: never lose the score for it
        return ""


def _pose_row(record: LigandRecord, group_by: "str | Grouping", ok: bool, message: str = "", stereo=None,
              score: float | None = None, pose_score: float | None = None, closest_contact: float | None = None,
              clashes: int | None = None, overlap: float | None = None) -> PoseRow:
    """The store's row of one record: scores, contacts, stereo and SMILES only for a usable pose."""
    return PoseRow(record.index, record.name, compound_key(record, group_by), "ok" if ok else "error", score if ok else None,
                   pose_score if ok else None, message, stereo.kind() if stereo else "", stereo.cip() if stereo else "",
                   stereo.flag() if stereo else "", _smiles(record.mol) if ok else "", closest_contact if ok else None,
                   clashes if ok else None, overlap if ok else None)


# -- the work unit: a run of records of one file ----------------------------------------------
def template_mol(spec: str | None):
    """The molecule of a --template (read once per process)."""
    if spec is None:
        return None
    if spec not in _TEMPLATES:
        from dockscore.io.pdbqt import read_template

        _TEMPLATES[spec] = read_template(spec)
    return _TEMPLATES[spec]


_TEMPLATES: dict[str, Chem.Mol] = {}


def score_records(scorer, raws: list[RawRecord], group_by: "str | Grouping", template: str | None = None) -> list[PoseRow]:
    """Parse, featurise and score a run of records; one :class:`PoseRow` per record, in order."""
    records = [parse_raw(raw, template_mol(template)) for raw in raws]
    return [_pose_row(record, group_by, result.status == "ok", result.message, result.stereo, result.score, result.pose_score,
                      result.closest_contact, result.clashes, result.overlap)
            for record, result in zip(records, scorer.score_records(records))]


@dataclass(frozen=True)
class ScoreTask:
    """A library run's work: score every record (``dockscore rank``). Picklable: workers get it with each unit."""

    group_by: str = TITLE
    group_pattern: str | None = None
    template: str | None = None  # --template: SMILES or file of PDBQT poses without Meeko SMILES

    @property
    def grouping(self) -> Grouping:
        return Grouping(self.group_by, self.group_pattern)

    def run(self, scorer, raws: list[RawRecord]) -> list[PoseRow]:
        return score_records(scorer, raws, self.grouping, self.template)

    def add(self, store: ResultStore, file_id: int, rows: list[PoseRow]) -> None:
        store.add_poses(file_id, rows)

    def settings(self) -> dict[str, str]:
        return {"group_by": self.group_by, **({"group_pattern": self.group_pattern} if self.group_pattern else {}),
                **({"template": self.template} if self.template else {})}


@dataclass(frozen=True)
class CompareTask:
    """A library run's work: compare each record's left and right forms (``dockscore enantiomers``);
    the options are :func:`~dockscore.enantiomers.compare_stereoisomers`'s."""

    starts: int = 4
    steps: int = 4
    coarse_steps: int = 30
    seed: int = 0
    protocol: str = "anchored"
    all_isomers: bool = False
    max_isomers: int = 8

    def run(self, scorer, raws: list[RawRecord]) -> list[ComparisonRow]:
        import json

        from dockscore.enantiomers import StereoComparison, compare_stereoisomers, form_mol
        from dockscore.report import summary_row
        from dockscore.report import with_sd_properties

        rows = []
        for raw in raws:
            record = parse_raw(raw)
            try:
                c = compare_stereoisomers(scorer, record, starts=self.starts, steps=self.steps, coarse_steps=self.coarse_steps,
                                          seed=self.seed, protocol=self.protocol, all_isomers=self.all_isomers,
                                          max_isomers=self.max_isomers)
            except Exception as exc:  # one record's surprise never ends a library run
                c = StereoComparison(record.source, record.index, record.name, "error", message=f"comparison failed: {exc}")
            summary = summary_row(c, scorer.symmetry, scorer.model_name)
            poses = "".join(with_sd_properties(Chem.MolToMolBlock(m), {k: m.GetProp(k) for k in m.GetPropNames()}) for m in
                            (form_mol(c, form, scorer.symmetry, scorer.model_name) for form in c.forms))
            rows.append(ComparisonRow(record.index, record.name, "error" if c.kind == "error" else "ok", c.message,
                                      json.dumps(summary), poses))
        return rows

    def add(self, store: ResultStore, file_id: int, rows: list[ComparisonRow]) -> None:
        store.add_comparisons(file_id, rows)

    def settings(self) -> dict[str, str]:
        """What must match for a resumed run to continue this one's table."""
        return {"job": COMPARE_JOB, "starts": str(self.starts), "steps": str(self.steps), "coarse_steps": str(self.coarse_steps),
                "seed": str(self.seed), "protocol": self.protocol, "stereoisomers": "all" if self.all_isomers else "enantiomer",
                "max_isomers": str(self.max_isomers)}


_WORKER_SCORER = None  # one per worker process: the protein is read and encoded once


def _init_worker(spec: ScorerSpec, main_pid: int) -> None:
    import signal

    import torch

    global _WORKER_SCORER
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle (it says what was kept)
    # main_pid comes from the main process, not from os.getppid(): workers are spawned on demand, and
    # one that starts up after a kill -9 of its main process would otherwise watch its new parent.
    threading.Thread(target=_exit_with_parent, args=(main_pid,), daemon=True).start()
    torch.set_num_threads(1)
    _WORKER_SCORER = spec.build()


def _exit_with_parent(parent: int, every_s: float = 1.0) -> None:
    """A worker whose main process was killed (kill -9: no shutdown message) must not live on
    holding a core: it notices it was re-parented and exits."""
    while True:
        if os.getppid() != parent:
            os._exit(1)
        time.sleep(every_s)


def _run_in_worker(task, raws: list[RawRecord]) -> list:
    return task.run(_WORKER_SCORER, raws)


def featurise_records(scorer, raws: list[RawRecord], group_by: "str | Grouping", template: str | None = None) -> list[tuple[PoseRow, object]]:
    """The CPU half of a GPU run: (row without scores, graph or None) per record, in order."""
    out = []
    for raw in raws:
        record = parse_raw(raw, template_mol(template))
        graph, error = scorer.graph_or_error(record)
        stereo = scorer.stereo_report(record.mol) if graph is not None else None
        out.append((_pose_row(record, group_by, graph is not None, error or "", stereo), graph))
    return out


def _featurise_in_worker(task: ScoreTask, raws: list[RawRecord]) -> list[tuple[PoseRow, object]]:
    return featurise_records(_WORKER_SCORER, raws, task.grouping, task.template)


# -- engines: run work units, hand back results in submission order ---------------------------
class _Inline:
    """One process: the scorer lives here (``--jobs 1``, or a comparison run on a device)."""

    def __init__(self, spec: ScorerSpec, device: str = "cpu") -> None:
        import torch

        torch.set_num_threads(1)  # as in every worker: these small graphs gain nothing from threads, and a busy core makes them spin
        self.scorer = spec.build(device)
        self.slots = 1

    def submit(self, task, raws):
        return task.run(self.scorer, raws)

    def result(self, handle) -> list:
        return handle

    def close(self) -> None:
        pass


class _Processes:
    """``--jobs N`` worker processes (spawned: a clean torch in each), each with its own scorer.
    Spawned workers import the caller's main module: a script calling :func:`rank_library`
    with ``jobs > 1`` needs the usual ``if __name__ == "__main__":`` guard."""

    def __init__(self, spec: ScorerSpec, jobs: int) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_init_worker, initargs=(spec, os.getpid()))
        self.slots = 2 * jobs

    def submit(self, task, raws):
        return self.pool.submit(_run_in_worker, task, raws)

    def result(self, handle) -> list:
        return handle.result()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class _DeviceFeed(_Processes):
    """``--device cuda``: worker processes parse and build graphs on the CPU; this process scores
    them on the device in batches of ``batch_size`` graphs."""

    def __init__(self, spec: ScorerSpec, jobs: int, device: str) -> None:
        super().__init__(spec, max(1, jobs))
        self.scorer = spec.build(device)

    def submit(self, task, raws):
        return self.pool.submit(_featurise_in_worker, task, raws)

    def result(self, handle) -> list[PoseRow]:
        from dataclasses import replace

        featurised = handle.result()
        scores = self.scorer.score_graphs([g for _, g in featurised if g is not None])
        rows, k = [], 0
        for row, graph in featurised:
            if graph is not None:
                score, pose_score, closest, clashes, overlap = scores[k]
                k += 1
                row = replace(row, score=score, pose_score=pose_score, closest_contact=closest, clashes=clashes,
                              overlap=overlap) if score is not None else \
                    replace(row, status="error", message="model produced a non-finite score", smiles="")
            rows.append(row)
        return rows


@dataclass
class _RayUnit:
    """A work unit in flight on a Ray actor: kept until its result is in, so that it can be sent
    again if the actor or its node is lost."""
    actor: object
    ref: object
    task: object
    raws: list


class _Ray:
    """A Ray cluster (``--ray ADDRESS|auto|local``): one actor per CPU asked for, each holding the
    protein; the driver ships record text and the protein and model bytes, so the nodes need
    dockscore installed but not the input files.

    Losing a node or a worker process costs only the work in flight there: a unit whose actor died
    (or whose result was on a lost node) is sent again to a live actor, and the store's prefix
    rule takes each unit's result once. When no actor is left the run stops, keeping what was
    scored, with one line saying ``--resume`` continues it."""

    def __init__(self, spec: ScorerSpec, address: str, jobs: int | None) -> None:
        try:
            import ray
        except ImportError:
            raise InputError("--ray needs Ray: pip install 'dockscore[ray]'") from None
        self.ray = ray
        from ray.exceptions import AuthenticationError, ObjectLostError, RayActorError, WorkerCrashedError

        if not ray.is_initialized():
            try:
                if address == "local":
                    ray.init(num_cpus=jobs or os.cpu_count(), include_dashboard=False, log_to_driver=False)
                else:
                    ray.init(address=address, log_to_driver=False)
            except AuthenticationError:
                raise InputError(f"--ray {address}: the cluster uses token authentication and this shell has no token: on the "
                                 "head node run 'ray get-auth-token' and export its output here as RAY_AUTH_TOKEN") from None

        self.lost_errors = (RayActorError, ObjectLostError, WorkerCrashedError)
        n = jobs or max(1, int(ray.cluster_resources().get("CPU", 1)))
        actor = ray.remote(num_cpus=1, max_restarts=0)(_RayScorer)
        protein = Path(spec.protein)
        model = Path(spec.model) if spec.model else None
        payload = (spec, protein.name, protein.read_bytes(), model.read_bytes() if model else None)
        self.actors = [actor.remote(*payload) for _ in range(n)]
        self.next = 0
        self.slots = 2 * n
        self.lost_actors = 0
        self.resent_units = 0

    def submit(self, task, raws) -> _RayUnit:
        actor = self.actors[self.next % len(self.actors)]
        self.next += 1
        return _RayUnit(actor, actor.run.remote(task, raws), task, raws)

    def result(self, unit: _RayUnit) -> list:
        while True:
            try:
                return self.ray.get(unit.ref)
            except self.lost_errors as exc:
                if unit.actor in self.actors:
                    self.actors.remove(unit.actor)
                    self.lost_actors += 1
                if not self.actors:
                    raise InputError(f"every Ray worker is gone ({type(exc).__name__}); what was scored is kept in the store: "
                                     "run again with --resume") from None
                resent = self.submit(unit.task, unit.raws)
                unit.actor, unit.ref = resent.actor, resent.ref
                self.resent_units += 1

    def close(self) -> None:
        for a in self.actors:
            try:
                self.ray.kill(a)
            except Exception:  # an actor on a node that is gone: nothing to stop
                pass


class _RayScorer:
    """A Ray actor: writes the shipped protein (and checkpoint) bytes to its own folder, scores chunks."""

    def __init__(self, spec: ScorerSpec, protein_name: str, protein: bytes, model: bytes | None) -> None:
        import tempfile
        from dataclasses import replace

        import torch

        torch.set_num_threads(1)
        folder = Path(tempfile.mkdtemp(prefix="dockscore-"))
        (folder / protein_name).write_bytes(protein)
        model_path = None
        if model is not None:
            model_path = folder / "model.safetensors"
            model_path.write_bytes(model)
        self.scorer = replace(spec, protein=str(folder / protein_name), model=str(model_path) if model_path else None).build()

    def run(self, task, raws: list[RawRecord]) -> list:
        return task.run(self.scorer, raws)


# -- the run ------------------------------------------------------------------------------------
def store_settings(spec: ScorerSpec, task) -> dict[str, str]:
    """What must match for two runs' scores to be ranked together."""
    from dockscore.checkpoint import default_model_path

    model = Path(spec.model) if spec.model else default_model_path(spec.symmetry)
    for what, path in (("protein", Path(spec.protein)), ("model", model)):
        if not path.is_file():
            raise InputError(f"{path}: {what} file not found")
    return {"protein": file_fingerprint(spec.protein), "model": file_fingerprint(model), "model_name": model.stem,
            "symmetry": spec.symmetry, "pocket_cutoff": str(spec.pocket_cutoff), "keep_waters": str(spec.keep_waters),
            **task.settings()}


def _chunks(path: Path, skip: int, size: int) -> Iterator[tuple[list[RawRecord], int, str | None, bool]]:
    """(records, bytes read, file error, last) runs of ``size`` records of one file, after the first ``skip``."""
    run: list[RawRecord] = []
    offset = 0
    try:
        for raw in iter_raw_records(path):
            offset = raw.offset
            if raw.index < skip:
                continue
            run.append(raw)
            if len(run) >= size:
                yield run, offset, None, False
                run = []
    except InputError as exc:
        yield run, path.stat().st_size, str(exc), True
        return
    yield run, offset, None, True


def rank_library(spec: ScorerSpec, inputs: list[str | Path], store_path: str | Path, *, group_by: str = TITLE, **options) -> RankRun:
    """Score every record of ``inputs`` into the store at ``store_path`` (resuming what it holds).
    Options: :func:`run_library`'s. Read the ranking with :meth:`ResultStore.ranked`."""
    return run_library(spec, inputs, store_path, ScoreTask(group_by), **options)


def run_library(
    spec: ScorerSpec,
    inputs: list[str | Path],
    store_path: str | Path,
    task: ScoreTask | CompareTask,
    *,
    jobs: int = 1,
    device: str = "cpu",
    ray_address: str | None = None,
    chunk_size: int | None = None,
    on_error: Callable[[str], None] = lambda message: None,
    on_progress: Callable[[int, int, int], None] = lambda done_bytes, total_bytes, poses: None,
) -> RankRun:
    """Run ``task`` on every record of ``inputs`` into the store at ``store_path`` (resuming what it holds).

    ``on_error`` gets one line per failed record or file; ``on_progress`` (bytes read, bytes in
    all, records this run) after each batch."""
    started = time.perf_counter()
    files, problems = library_files(inputs)
    run = RankRun(Path(store_path))
    for p in problems:
        run.file_errors.append(p)
        on_error(f"error: {p}")
    store = ResultStore(store_path, store_settings(spec, task))
    sizes = {f: f.stat().st_size for f in files}
    total_bytes, done_bytes = sum(sizes.values()), 0
    size = chunk_size or (unit_records(total_bytes, jobs, spec.batch_size) if isinstance(task, ScoreTask) else 1)
    engine = None
    pending: deque = deque()

    def drain(limit: int) -> None:
        while len(pending) > limit:
            kind, file_id, payload, seen = pending.popleft()
            if kind == "rows":
                rows = engine.result(payload)
                task.add(store, file_id, rows)
                run.poses_scored += len(rows)
                for r in rows:
                    if r.status != "ok":
                        run.poses_failed += 1
                        on_error(f"error: {paths[file_id]} record {r.record_index} ({r.name}): {r.message}")
            else:
                n_records, error = payload
                store.finish_file(file_id, n_records, error)
            on_progress(seen, total_bytes, run.poses_scored)

    paths: dict[int, str] = {}
    try:
        ids = []
        for path in files:
            try:
                file_id = store.file_id(str(path), file_fingerprint(path))
            except OSError as exc:
                run.file_errors.append(f"{path}: cannot read ligand file ({exc.strerror or exc})")
                on_error(f"error: {run.file_errors[-1]}")
                continue
            if file_id in paths:  # the same content under two names: one file, read once
                run.duplicate_files.append(f"{path}: same content as {paths[file_id]}")
                continue
            ids.append((path, file_id))
            paths[file_id] = str(path)
        store.set_active(i for _, i in ids)
        run.files = len(ids)
        for path, file_id in ids:
            finished, stored = store.progress(file_id)
            run.poses_skipped += stored
            if finished:
                done_bytes += sizes[path]
                on_progress(done_bytes, total_bytes, run.poses_scored)
                continue
            n_records = stored
            for raws, offset, error, last in _chunks(path, stored, size):
                if engine is None:
                    engine = _engine(spec, task, jobs, device, ray_address)
                n_records += len(raws)
                if raws:
                    pending.append(("rows", file_id, engine.submit(task, raws), done_bytes + offset))
                if last:
                    if error:
                        run.file_errors.append(error)
                        on_error(f"error: {error}")
                    pending.append(("file", file_id, (n_records, error), done_bytes + sizes[path]))
                drain(engine.slots)
            done_bytes += sizes[path]
        drain(0)
    except KeyboardInterrupt:
        run.interrupted = True
    except BrokenProcessPool:
        raise InputError(f"a worker process died (out of memory, or killed); what was scored is kept in {store_path}: "
                         "run again with --resume") from None
    finally:
        if engine is not None:
            run.lost_workers, run.resent_units = getattr(engine, "lost_actors", 0), getattr(engine, "resent_units", 0)
            engine.close()
        store.close()
        run.seconds = time.perf_counter() - started
    return run


# The largest work unit, in records. The driver pays per unit (a future, a pipe write, a wake-up:
# about 1 ms), so units of 32 records cost it 0.071 ms a pose and units of 256 0.055 ms, fixed
# start-up included (bench/driver_cost.py); a small library keeps units small enough that
# every worker gets some.
UNIT_RECORDS = 256
SD_RECORD_BYTES = 3000  # a typical SD pose (2-4 KB): the library's size in records, estimated from its bytes


def unit_records(total_bytes: int, workers: int, batch_size: int) -> int:
    """Records per work unit: four units per worker at least, between the scoring batch and :data:`UNIT_RECORDS`."""
    estimate = total_bytes // SD_RECORD_BYTES
    return int(min(UNIT_RECORDS, max(batch_size, 8, estimate // (4 * max(1, workers)))))


def _fix_mmap_threshold() -> None:
    """Make glibc serve every allocation of 128 KB or more with its own mapping, returned to the OS
    when freed. A driver that does not score moves large buffers (1 MB reads, work units of a few
    hundred KB, their results); glibc's default raises its mapping threshold after the first large
    frees and then carves such buffers from the heap, which fragments: the main process grew by
    ~3.7 MB per 1,000 poses (436 -> 766 MB from 10,000 to 100,000 poses, bench/rank_scale.py), and
    stays flat with the threshold fixed. Not for a process that scores (--jobs 1): its batch
    temporaries would be mapped and faulted in again every batch (see Scorer._settle_heap)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD; setting it turns the dynamic threshold off
    except (OSError, AttributeError):  # not glibc: its allocator has its own rules
        pass


def _engine(spec: ScorerSpec, task, jobs: int, device: str, ray_address: str | None):
    if ray_address:
        _fix_mmap_threshold()
        return _Ray(spec, ray_address, jobs if jobs > 1 else None)
    if device != "cpu":  # graphs from CPU workers, scored in batches on the device; a comparison steps on the device
        return _DeviceFeed(spec, jobs, device) if isinstance(task, ScoreTask) else _Inline(spec, device)
    if jobs > 1:
        _fix_mmap_threshold()
        return _Processes(spec, jobs)
    return _Inline(spec)


# -- outputs, made from the store ---------------------------------------------------------------


@dataclass
class RankOutputs:
    ranked: int = 0
    overlapping: int = 0  # compounds ranked last because every pose clashes with the protein
    top_written: int = 0
    failures: int = 0
    warnings: list[str] = field(default_factory=list)


def write_ranking(store_path: str | Path, output: str | Path, *, top: int = 500, top_sdf: str | Path | None = None,
                  failures: str | Path | None = None, max_overlap: float | None = OVERLAP_ALLOWANCE) -> RankOutputs:
    """The ranked CSV (every compound, best first), the top compounds' best poses as SDF and the
    failures CSV, all from the store (each written to ``.partial`` and renamed when complete).

    ``max_overlap`` (A): the physical-validity rule of :meth:`ResultStore.ranked` (a compound whose
    every pose overlaps the protein more ranks after all others and is flagged; None: no rule)."""
    import csv

    from dockscore.report import FAILURE_COLUMNS, RANKED_COLUMNS, AtomicOutput, ranked_row

    result = RankOutputs()
    with ResultStore(store_path, create=False) as store:
        settings = store.settings()
        chosen: list[tuple[int, object]] = []
        with AtomicOutput(output) as handle:
            writer = csv.writer(handle)
            writer.writerow(RANKED_COLUMNS)
            for rank, c in enumerate(store.ranked(max_overlap), start=1):
                writer.writerow(ranked_row(rank, c, settings))
                if rank <= top:
                    chosen.append((rank, c))
                result.ranked = rank
                result.overlapping += c.overlapping
        if failures is not None:
            with AtomicOutput(failures) as handle:
                writer = csv.writer(handle)
                writer.writerow(FAILURE_COLUMNS)
                for row in store.failures():
                    writer.writerow(row)
                    result.failures += 1
    if top_sdf is not None:
        result.top_written, result.warnings = _write_top_sdf(top_sdf, chosen, settings)
    return result


def _write_top_sdf(path: str | Path, chosen: list, settings: dict[str, str]) -> tuple[int, list[str]]:
    """Each chosen pose's own record text (its original properties kept) with dockscore's added,
    in rank order. Only the top poses are held in memory; each source file is read once."""
    from dockscore.report import AtomicOutput, dockscore_properties, sd_properties, with_sd_properties

    wanted: dict[str, dict[int, tuple[int, object]]] = {}
    for rank, c in chosen:
        wanted.setdefault(c.source, {})[c.record_index] = (rank, c)
    blocks: dict[int, str] = {}
    warnings: list[str] = []
    for source, by_index in wanted.items():
        try:
            for raw in iter_raw_records(source):
                if raw.index not in by_index:
                    continue
                rank, c = by_index[raw.index]
                record = parse_raw(raw, template_mol(settings.get("template")))
                if record.name != c.name:
                    warnings.append(f"{source} record {raw.index}: is {record.name!r} now, was {c.name!r} when scored (file changed?): left out of the top SDF")
                    continue
                props = dockscore_properties(rank=rank, compound=c.compound, score=c.score, pose_score=c.pose_score, n_poses=c.n_poses,
                                             symmetry=settings.get("symmetry", ""), model=settings.get("model_name", ""), stereo=c.stereo,
                                             cip=c.cip, stereo_flag=c.stereo_flag, closest_contact_A=c.closest_contact, clashes=c.clashes,
                                             overlap_A=c.overlap, clash_flag="overlaps protein" if c.overlapping else "")
                if raw.fmt in ("mol2", "pdbqt"):  # no SD text to pass through: the parsed molecule, its properties kept
                    text = Chem.MolToMolBlock(record.mol) + sd_properties(record.props) if record.mol is not None else ""
                else:
                    text = raw.text
                blocks[rank] = with_sd_properties(text, props)
        except InputError as exc:
            warnings.append(f"{exc}: its poses are left out of the top SDF")
    with AtomicOutput(path) as handle:
        for rank in sorted(blocks):
            handle.write(blocks[rank])
    return len(blocks), warnings
