"""The `dockscore` command line: a thin layer over :mod:`dockscore.scoring` and :mod:`dockscore.training.loop`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dockscore.definitions import OVERLAP_ALLOWANCE, OVERLAP_ONSET, POSE_SCORE_MEANING, SCORE_MEANING, SCORE_UNIT
from dockscore.errors import InputError

COMPARE_THRESHOLD = 0.5  # pK; see `compare --help`

app = typer.Typer(add_completion=False, no_args_is_help=True, help=f"Score protein-ligand poses with an equivariant GNN. Scores are {SCORE_MEANING}.")
console = Console()
errors = Console(stderr=True, soft_wrap=True)  # one error, one line: never wrapped


def _version(value: bool) -> None:
    if value:
        from dockscore import __version__

        console.print(f"dockscore {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit.")) -> None:
    """Score protein-ligand poses with an equivariant GNN."""


@app.command()
def score(
    protein: Path = typer.Argument(..., help="Receptor: PDB or mmCIF (optionally .gz). Waters dropped, hydrogens ignored (heavy-atom graph)."),
    ligands: list[Path] = typer.Argument(..., help="Poses: SDF, SDF.gz, MOL2 or PDBQT (Vina, QuickVina, Uni-Dock outputs: each MODEL a pose), in the receptor's coordinate frame. Several files allowed."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write results: .sdf/.sdf.gz (input records + dockscore_* properties) or .csv."),
    template: Optional[str] = typer.Option(None, "--template", help="The chemistry of PDBQT poses that carry no Meeko 'REMARK SMILES' lines (files not prepared with Meeko): the ligand's SMILES, or an SDF/MOL file of it."),
    symmetry: str = typer.Option("e3", "--symmetry", "-s", help="e3: invariant to rotation, translation and reflection. se3: rotation/translation only (parity-odd features see handedness)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Checkpoint (.safetensors); default: the shipped model for --symmetry."),
    pocket_cutoff: Optional[float] = typer.Option(None, "--pocket-cutoff", min=1.0, max=30.0, help="Protein atoms within this distance (A) of any ligand heavy atom form the pocket; default: the model's training value (8 A). Smaller values truncate the learned interaction terms."),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Poses per model call."),
    threads: int = typer.Option(1, "--threads", min=1, help="Torch CPU threads (1 is fastest for these small graphs; for many poses use `dockscore rank --jobs N`)."),
    device: str = typer.Option("cpu", "--device", help="cpu, or cuda[:N]: the model runs on the GPU in --batch-size batches."),
    keep_waters: bool = typer.Option(False, "--keep-waters", help="Keep crystal waters as protein atoms (the shipped models were trained without them)."),
    show: int = typer.Option(50, "--show", min=0, help="Rows of the terminal table (0 = none)."),
    stereo: bool = typer.Option(True, "--stereo/--no-stereo", help="Perceive stereocentres: CIP labels and declared-vs-3D consistency flags in the output."),
) -> None:
    """Score every pose; the score is a predicted pK (-log10 Kd), higher = tighter binding."""
    import torch

    from dockscore.rank import template_mol as template_molecule
    from dockscore.report import ResultWriter
    from dockscore.scoring import Scorer

    from dockscore.io.ligands import iter_raw_records, parse_raw
    from dockscore.report import check_outputs

    torch.set_num_threads(max(1, threads))
    if symmetry not in ("e3", "se3"):
        errors.print(f"error: --symmetry must be e3 or se3, not {symmetry!r}")
        raise typer.Exit(2)
    if not (device == "cpu" or device.startswith("cuda")):
        errors.print(f"error: --device must be cpu or cuda[:N], not {device!r}")
        raise typer.Exit(2)
    try:
        check_outputs([output], [protein, *ligands, *([model] if model else [])])
        template_mol = template_molecule(template)
        if device != "cpu" and not torch.cuda.is_available():
            raise InputError(f"--device {device}: this torch build sees no CUDA device (install a CUDA build of torch, or use --device cpu)")
        scorer = Scorer(protein, model=model, symmetry=symmetry, pocket_cutoff=pocket_cutoff, batch_size=batch_size,
                        keep_waters=keep_waters, stereo=stereo)
        _protein_note(scorer.protein)
        if device != "cpu":
            scorer = scorer.to(device)
        writer = ResultWriter(output, scorer.symmetry, scorer.model_name) if output else None
    except (InputError, ValueError, OSError) as exc:
        errors.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1)

    table = Table(title=f"{scorer.model_name} ({scorer.symmetry.upper()})")
    for col, just in (("name", "left"), ("index", "right"), (f"score ({SCORE_UNIT})", "right"), ("pose score", "right"), ("CIP", "left"),
                      ("status", "left")):
        _add_column(table, col, numeric=just == "right")
    n_ok = n_err = 0
    sizes = [p.stat().st_size if p.is_file() else 0 for p in ligands]  # progress by bytes read: nothing is read twice
    progress = Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), TextColumn("{task.fields[poses]} poses"),
                        TimeElapsedColumn(), console=errors, transient=True, disable=not errors.is_terminal)
    complete = False
    try:
        with progress:
            task = progress.add_task("scoring", total=sum(sizes) or None, poses=0)
            done_bytes = 0
            for path, size in zip(ligands, sizes):
                read = {"offset": 0}

                def records(path=path, read=read):
                    for raw in iter_raw_records(path):
                        read["offset"] = raw.offset
                        yield parse_raw(raw, template_mol)

                try:
                    for result in scorer.score_records(records()):
                        progress.update(task, completed=done_bytes + read["offset"], poses=n_ok + n_err + 1)
                        if writer:
                            writer.write(result)
                        if result.status == "ok":
                            n_ok += 1
                        else:
                            n_err += 1
                            progress.console.print(f"error: {result.source} record {result.index} ({result.name}): {result.message}", markup=False, highlight=False)
                        if n_ok + n_err <= show:
                            shown = f"{result.score:.2f}" if result.score is not None else "-"
                            pose_shown = f"{result.pose_score:.2f}" if result.pose_score is not None else "-"
                            st = result.stereo
                            status = "ok" if result.status == "ok" else f"error: {result.message}"
                            if st is not None and st.flag() != "ok":
                                status += f" (stereo: {st.flag()})"
                            table.add_row(result.name, str(result.index), shown, pose_shown, st.cip() if st else "", status)
                except InputError as exc:  # file-level problem: report, go on with the next file
                    n_err += 1
                    progress.console.print(f"error: {exc}", markup=False, highlight=False)
                done_bytes += size
        complete = True
    except KeyboardInterrupt:
        where = f" to {writer.partial}" if writer else ""
        errors.print(f"interrupted: {n_ok + n_err} records written{where} ({n_ok} scored); the output was not replaced",
                     markup=False, highlight=False)
        raise typer.Exit(130)
    except OSError as exc:  # a full disk, a vanished output folder
        errors.print(f"error: writing {output}: {exc.strerror or exc}; {n_ok + n_err} records are in {writer.partial if writer else '-'}",
                     markup=False, highlight=False)
        raise typer.Exit(1)
    finally:
        if writer:
            writer.close(complete=complete)
    if show and table.row_count:
        console.print(table)
        console.print(f"score: {SCORE_MEANING}", soft_wrap=True)
        console.print(f"pose score: {POSE_SCORE_MEANING}", soft_wrap=True)
        if n_ok + n_err > show:
            console.print(f"... {n_ok + n_err - show} more rows (see --output)")
    console.print(f"scored {n_ok}, failed {n_err}" + (f"; wrote {output}" if output else ""), soft_wrap=True)
    if n_ok == 0:
        raise typer.Exit(1)


@app.command()
def rank(
    protein: Path = typer.Argument(..., help="Receptor: PDB or mmCIF (optionally .gz)."),
    ligands: list[Path] = typer.Argument(..., help="Docked poses: SDF, SDF.gz, MOL2 or PDBQT files, directories (searched recursively) and glob patterns, in any mix."),
    template: Optional[str] = typer.Option(None, "--template", help="The chemistry of PDBQT poses that carry no Meeko 'REMARK SMILES' lines (files not prepared with Meeko): the ligand's SMILES, or an SDF/MOL file of it."),
    output: Path = typer.Option(..., "--output", "-o", help="Ranked CSV: one row per compound, best first (rank, compound, score, pose_score, best pose's file and index, n_poses, n_failed, stereo, CIP, SMILES...)."),
    top: int = typer.Option(500, "--top", min=0, help="How many of the best compounds --top-sdf holds."),
    top_sdf: Optional[Path] = typer.Option(None, "--top-sdf", help="SDF (or .sdf.gz) with the best pose of each of the --top compounds: its own record and properties plus dockscore_* ones."),
    failures: Optional[Path] = typer.Option(None, "--failures", help="CSV naming every record or file that could not be scored (file, index, name, reason); default: OUTPUT with .failures.csv."),
    store: Optional[Path] = typer.Option(None, "--store", help="SQLite results store (every pose's score; what --resume continues); default: OUTPUT with .store.sqlite."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run the store holds: records already scored are skipped (a changed file is scored again)."),
    from_store: bool = typer.Option(False, "--from-store", help="Score nothing: write the ranked CSV, top SDF and failures again from the store."),
    group_by: str = typer.Option("title", "--group-by", help="What makes poses one compound: 'title' (the record's first line), 'file' (one compound per input file: Vina, smina, Uni-Dock outputs), 'dir' (per folder: DiffDock's rank1.sdf, rank2_confidence-0.48.sdf ...) or the name of an SD property (e.g. ID)."),
    group_pattern: Optional[str] = typer.Option(None, "--group-pattern", help="Regular expression applied to the --group-by key: the compound is the part it matches (its first group if it has one), e.g. '^([^|]+)' for GOLD's 'LIG|dock3' titles."),
    max_overlap: float = typer.Option(OVERLAP_ALLOWANCE, "--max-overlap", min=0.0, help=f"A, a pose's summed overlap with the protein (over heavy-atom pairs, the depth past {OVERLAP_ONSET} A inside van der Waals contact) above which it is not physically valid: each compound's best pose is chosen among its valid ones, and a compound with none ranks after all others, flagged 'overlaps protein'. The most of 636 training crystal poses is 1.53 A (a covalent ligand)."),
    symmetry: str = typer.Option("e3", "--symmetry", "-s", help="e3: invariant to rotation, translation and reflection. se3: rotation/translation only (sees handedness)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Checkpoint (.safetensors); default: the shipped model for --symmetry."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=0, help="Worker processes (0 = one per CPU core); each holds the encoded protein once. Results do not depend on it."),
    device: str = typer.Option("cpu", "--device", help="cpu, or cuda[:N]: CPU workers (--jobs) build graphs, the GPU scores them in --batch-size batches."),
    ray: Optional[str] = typer.Option(None, "--ray", help="Run the workers on a Ray cluster: its address, 'auto' (the cluster this machine is part of) or 'local' (start Ray here). Needs pip install 'dockscore[ray]'."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Poses per model call (and per store transaction)."),
    pocket_cutoff: Optional[float] = typer.Option(None, "--pocket-cutoff", min=1.0, max=30.0, help="Pocket radius around the ligand, A; default: the model's training value (8 A)."),
    keep_waters: bool = typer.Option(False, "--keep-waters", help="Keep crystal waters as protein atoms (the shipped models were trained without them)."),
    progress_every: float = typer.Option(30.0, "--progress-every", min=1.0, help="Seconds between progress lines when stderr is not a terminal (a batch job's log)."),
    show: int = typer.Option(10, "--show", min=0, help="Rows of the ranking shown on the terminal (0 = none)."),
    histogram: Optional[Path] = typer.Option(None, "--histogram", help="PNG: histogram of the compounds' scores (pK). Needs matplotlib (pip install 'dockscore[plot]')."),
    grid: Optional[Path] = typer.Option(None, "--grid", help="PNG: 2D depictions of the best 12 compounds with rank, name and score."),
) -> None:
    """Rank a library: each compound's best pose is the one with the highest pose score; compounds are
    ranked by that pose's score (predicted pK, higher = tighter binding). Resumable; every core, a GPU or a Ray cluster."""
    import os

    from dockscore.rank import CHOICE_RULE, Grouping, ScorerSpec, ScoreTask, library_files, write_ranking
    from dockscore.rank import template_mol as template_molecule
    from dockscore.report import check_outputs

    if symmetry not in ("e3", "se3"):
        errors.print(f"error: --symmetry must be e3 or se3, not {symmetry!r}")
        raise typer.Exit(2)
    if not (device == "cpu" or device.startswith("cuda")):
        errors.print(f"error: --device must be cpu or cuda[:N], not {device!r}")
        raise typer.Exit(2)
    if output.suffix.lower() != ".csv":
        errors.print(f"error: {output}: the ranked table is a CSV (-o NAME.csv)")
        raise typer.Exit(2)
    if top_sdf is not None and not top_sdf.name.lower().endswith((".sdf", ".sdf.gz")):
        errors.print(f"error: {top_sdf}: --top-sdf must end in .sdf or .sdf.gz")
        raise typer.Exit(2)
    for picture in (histogram, grid):
        if picture is not None and picture.suffix.lower() != ".png":
            errors.print(f"error: {picture}: pictures are PNG (NAME.png)")
            raise typer.Exit(2)
    stem = output.with_suffix("")
    store = store or stem.with_name(stem.name + ".store.sqlite")
    failures = failures or stem.with_name(stem.name + ".failures.csv")
    jobs = jobs or os.cpu_count() or 1
    spec = ScorerSpec(str(protein), str(model) if model else None, symmetry, pocket_cutoff, batch_size, keep_waters)
    try:
        if device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise InputError(f"--device {device}: this torch build sees no CUDA device (install a CUDA build of torch, or use --device cpu)")
        if template is not None:
            template_molecule(template)  # a bad one is one line here, not one per record in the workers
        if group_pattern is not None:
            import re

            try:
                re.compile(group_pattern)
            except re.error as exc:
                raise InputError(f"--group-pattern {group_pattern!r}: not a regular expression ({exc})") from None
        files, _ = library_files(ligands)
        check_outputs([output, top_sdf, failures, store, histogram, grid], [protein, *(model and [model] or []), *files])
        if not from_store:  # the receptor is read here once, so that a bad one is one line before any worker starts
            from dockscore.io.protein import read_protein

            _protein_note(read_protein(protein, keep_waters=keep_waters))
        if from_store:
            if not store.exists():
                raise InputError(f"{store}: results store not found (run without --from-store first)")
        elif store.exists() and not resume:
            raise InputError(f"{store}: a results store is already there: add --resume to continue it, --from-store to only write the tables, or remove it to start over")
    except InputError as exc:
        errors.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1)

    run = None
    if not from_store:
        run = _run_library(spec, ligands, store, ScoreTask(group_by, group_pattern, template), jobs, device, ray, progress_every)
        if run is None:
            raise typer.Exit(1)
        if run.interrupted:
            errors.print(f"interrupted: {run.poses_scored} poses scored in this run are kept in {store}; "
                         "run the same command with --resume to continue", markup=False, highlight=False)
            raise typer.Exit(130)
    try:
        made = write_ranking(store, output, top=top, top_sdf=top_sdf, failures=failures, max_overlap=max_overlap)
    except InputError as exc:
        errors.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1)
    for warning in made.warnings:
        errors.print(f"warning: {warning}", markup=False, highlight=False)
    from dockscore.store import ResultStore

    with ResultStore(store, create=False) as opened:
        counts = opened.counts()
        settings = opened.settings()
        if show and made.ranked:
            table = Table(title=f"{settings.get('model_name')} ({settings.get('symmetry', '').upper()}): best {min(show, made.ranked)} of {made.ranked} compounds")
            for col, just in (("rank", "right"), ("compound", "left"), (f"score ({SCORE_UNIT})", "right"), ("pose score", "right"),
                              ("clashes", "right"), ("best pose", "left"), ("poses", "right"), ("failed", "right"), ("CIP", "left")):
                _add_column(table, col, numeric=just == "right")
            for k, c in zip(range(1, show + 1), opened.ranked(max_overlap)):
                table.add_row(str(k), c.compound, f"{c.score:.2f}", f"{c.pose_score:.2f}", f"{c.clashes}" + (" overlaps" if c.overlapping else ""),
                              f"{Path(c.source).name} #{c.record_index}", str(c.n_poses), str(c.n_failed), c.cip)
            console.print(table)
    grouping = Grouping(settings.get("group_by", group_by), settings.get("group_pattern"))
    console.print(f"ranked {_n(made.ranked, 'compound')} from {_n(counts['poses'], 'pose')} ({_n(counts['failed'], 'failed record')}, "
                  f"{_n(counts['file_errors'], 'file error')}); {grouping.describe()}; {CHOICE_RULE}", soft_wrap=True)
    if made.overlapping:
        console.print(f"{_n(made.overlapping, 'compound')} ranked last, flagged 'overlaps protein': every pose has more than "
                      f"{max_overlap:g} A of overlap with the protein (--max-overlap)", soft_wrap=True)
    if run is not None:
        rate = f"{run.poses_per_second:.1f} poses/s" if run.poses_scored else "nothing new to score"
        duplicates = f", {_n(len(run.duplicate_files), 'duplicate file')} read once" if run.duplicate_files else ""
        console.print(f"this run: {run.poses_scored - run.poses_failed} scored, {run.poses_failed} failed, {run.poses_skipped} already "
                      f"in the store, {_n(run.files, 'file')}{duplicates}, {run.seconds:.1f} s, {rate}", soft_wrap=True)
        for duplicate in run.duplicate_files:
            errors.print(f"note: {duplicate}: read once", markup=False, highlight=False)
    pictures = _ranking_pictures(store, histogram, grid, max_overlap)
    console.print(f"wrote {output}" + (f", {top_sdf} ({_n(made.top_written, 'pose')})" if top_sdf else "")
                  + f", {failures} ({_n(made.failures, 'row')})" + "".join(f", {p}" for p in pictures) + f"; store {store}", soft_wrap=True)
    if made.ranked == 0:
        raise typer.Exit(1)


def _protein_note(protein) -> None:
    """A warning line when the reader lost a few of the receptor's atoms (more is refused)."""
    from dockscore.io.protein import dropped_note

    note = dropped_note(protein)
    if note:
        errors.print(f"warning: {note}", markup=False, highlight=False)


def _add_column(table: Table, header: str, numeric: bool) -> None:
    """Numbers never shrink: a numeric column keeps the width of its header (at least 7, '-12.345');
    names wrap (fold) when the terminal is narrow."""
    if numeric:
        table.add_column(header, justify="right", no_wrap=True, min_width=max(len(header), 7))
    else:
        table.add_column(header, overflow="fold")


def _ranking_pictures(store: Path, histogram: Optional[Path], grid: Optional[Path], max_overlap: float | None = None, n_grid: int = 12) -> list[str]:
    """The score histogram and the grid of the best compounds, from the store."""
    from dockscore.report import write_bytes_atomically
    from dockscore.store import ResultStore

    written = []
    with ResultStore(store, create=False) as opened:
        settings = opened.settings()
        if histogram is not None:
            try:
                import matplotlib

                matplotlib.use("Agg")
                import matplotlib.pyplot as plt
            except ImportError:
                errors.print("warning: --histogram needs matplotlib: pip install 'dockscore[plot]'", markup=False, highlight=False)
            else:
                import io

                scores = [c.score for c in opened.ranked(max_overlap)]
                fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
                ax.hist(scores, bins=min(60, max(10, len(scores) // 20)), color="#2b7a4b")
                ax.set_xlabel(f"score ({SCORE_UNIT}, the best pose of each compound)")
                ax.set_ylabel("compounds")
                ax.set_title(f"{len(scores)} compounds, {settings.get('model_name')} ({settings.get('symmetry', '').upper()})")
                buffer = io.BytesIO()
                fig.tight_layout()
                fig.savefig(buffer, format="png")
                plt.close(fig)
                write_bytes_atomically(histogram, buffer.getvalue())
                written.append(str(histogram))
        if grid is not None:
            from rdkit import Chem

            from dockscore.explain import draw_grid

            mols, legends = [], []
            for rank, c in enumerate(opened.ranked(max_overlap), start=1):
                mol = Chem.MolFromSmiles(c.smiles) if c.smiles else None
                if mol is not None:
                    mols.append(mol)
                    legends.append(f"{rank}. {c.compound[:24]}: {c.score:.2f} {SCORE_UNIT}")
                if len(mols) >= n_grid:
                    break
            if mols:
                write_bytes_atomically(grid, draw_grid(mols, legends))
                written.append(str(grid))
    return written


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _run_library(spec, ligands, store, task, jobs, device, ray, progress_every, noun="poses"):
    """run_library with a rich bar on a terminal, or a plain line every ``progress_every`` s in a log."""
    import time

    from rich.progress import DownloadColumn, TimeRemainingColumn

    from dockscore.rank import run_library

    state = {"last": time.perf_counter(), "t0": time.perf_counter()}
    bar = Progress(TextColumn("working"), BarColumn(), DownloadColumn(), TextColumn("{task.fields[poses]} " + noun + ", {task.fields[rate]}"),
                   TimeElapsedColumn(), TimeRemainingColumn(), console=errors, transient=True, disable=not errors.is_terminal)

    def on_progress(done: int, total: int, poses: int) -> None:
        now = time.perf_counter()
        rate = f"{poses / (now - state['t0']):.1f} {noun}/s" if poses else "starting"
        bar.update(bar_task, completed=done, total=total or None, poses=poses, rate=rate)
        if not errors.is_terminal and now - state["last"] >= progress_every:
            state["last"] = now
            share = f"{100 * done / total:.0f} % of input bytes" if total else ""
            errors.print(f"progress: {poses} {noun} done, {share}, {rate}, {now - state['t0']:.0f} s", markup=False, highlight=False)

    def on_error(message: str) -> None:
        bar.console.print(message, markup=False, highlight=False)

    try:
        with bar:
            bar_task = bar.add_task("working", total=None, poses=0, rate="starting")
            return run_library(spec, ligands, store, task, jobs=jobs, device=device, ray_address=ray,
                               on_error=on_error, on_progress=on_progress)
    except InputError as exc:
        errors.print(f"error: {exc}", markup=False, highlight=False)
        return None


def _open_scorer(protein: Path, model: Optional[Path], symmetry: str):
    import torch

    from dockscore.scoring import Scorer

    torch.set_num_threads(1)  # small graphs: threads only spin when another process holds a core (64 s instead of 3 s measured)

    if symmetry not in ("e3", "se3"):
        errors.print(f"error: --symmetry must be e3 or se3, not {symmetry!r}")
        raise typer.Exit(2)
    try:
        return Scorer(protein, model=model, symmetry=symmetry)
    except (InputError, ValueError) as exc:
        errors.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1)


def _records(paths: list[Path]):
    """All records of all files; file-level problems are reported and skipped."""
    from dockscore.io.ligands import iter_ligands

    for path in paths:
        try:
            yield from iter_ligands(path)
        except InputError as exc:
            errors.print(f"error: {exc}", markup=False, highlight=False)


@app.command()
def enantiomers(
    protein: Path = typer.Argument(..., help="Receptor: PDB or mmCIF (optionally .gz)."),
    ligands: list[Path] = typer.Argument(..., help="Posed ligands: SDF, SDF.gz or MOL2 files, directories and glob patterns."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Main output: NAME.csv, one row per ligand (scores in pK, delta, preferred form, flag); NAME.sdf[.gz] is taken as --poses."),
    summary: Optional[Path] = typer.Option(None, "--summary", help="The summary CSV (the older spelling of -o NAME.csv)."),
    poses: Optional[Path] = typer.Option(None, "--poses", help="SDF (or .sdf.gz) with the optimised pose of every form and its dockscore_* properties."),
    symmetry: str = typer.Option("e3", "--symmetry", "-s", help="e3: invariant to rotation, translation and reflection. se3: rotation/translation only (sees handedness)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Checkpoint (.safetensors); default: the shipped model for --symmetry."),
    protocol: str = typer.Option("anchored", "--protocol", help="Where the search starts. anchored: the input form at its own pose, the enantiomer at its mirror images. symmetric: both forms from the same envelope-keeping placements (the input's pose and its 180-degree turns; their inversions), so the starts do not depend on which hand was given."),
    stereoisomers: str = typer.Option("enantiomer", "--stereoisomers", help="'enantiomer' (all centres inverted) or 'all' (every stereoisomer, up to --max-isomers)."),
    max_isomers: int = typer.Option(8, "--max-isomers", min=2, help="Cap on forms per ligand with --stereoisomers all."),
    starts: int = typer.Option(4, "--starts", min=1, help="Optimisation starts per form."),
    steps: int = typer.Option(4, "--steps", min=0, help="Model steps per start (rigid body + torsions), after the coarse steps; a start that stops improving for 2 steps stops."),
    coarse_steps: int = typer.Option(30, "--coarse-steps", min=0, help="Steps per start under the Vina-typed prior alone first (cheap: no network)."),
    seed: int = typer.Option(0, "--seed", help="Seed for the perturbed starts."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=0, help="Worker processes (0 = one per CPU core), as in rank. Results do not depend on it."),
    device: str = typer.Option("cpu", "--device", help="cpu, or cuda[:N] (the comparisons run in this process on the device)."),
    ray: Optional[str] = typer.Option(None, "--ray", help="Run the workers on a Ray cluster: its address, 'auto' or 'local'. Needs pip install 'dockscore[ray]'."),
    store: Optional[Path] = typer.Option(None, "--store", help="SQLite results store for a long run (what --resume continues); default: a temporary one."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run --store holds: ligands already compared are skipped."),
    progress_every: float = typer.Option(30.0, "--progress-every", min=1.0, help="Seconds between progress lines when stderr is not a terminal."),
    show: int = typer.Option(20, "--show", min=0, help="Rows shown on the terminal (0 = none)."),
    png: Optional[Path] = typer.Option(None, "--png", help="PNG of the forms side by side, each heavy atom coloured by its contribution (pK, one colour scale): NAME.png for one chiral ligand, NAME-0.png, NAME-1.png ... for several (summary order)."),
) -> None:
    """Does the pocket prefer one hand? Optimise each form's pose under the model and compare best scores (pK).

    A difference is flagged when it exceeds 2x the spread of optimised scores across starts (floor 0.25 pK);
    the flag's measured precision on held-out crystal complexes is printed with the results."""
    import csv
    import json
    import os
    import shutil
    import tempfile

    from dockscore.enantiomers import PROTOCOLS, SUMMARY_COLUMNS, flag_precision_note
    from dockscore.rank import CompareTask, ScorerSpec, library_files
    from dockscore.report import AtomicOutput
    from dockscore.store import ResultStore

    for value, allowed, name in ((stereoisomers, ("enantiomer", "all"), "--stereoisomers"), (protocol, PROTOCOLS, "--protocol"),
                                 (symmetry, ("e3", "se3"), "--symmetry")):
        if value not in allowed:
            errors.print(f"error: {name} must be {' or '.join(allowed)}, not {value!r}")
            raise typer.Exit(2)
    if not (device == "cpu" or device.startswith("cuda")):
        errors.print(f"error: --device must be cpu or cuda[:N], not {device!r}")
        raise typer.Exit(2)
    if output is not None:
        if output.name.lower().endswith((".sdf", ".sdf.gz")) and poses is None:
            poses = output
        elif output.suffix.lower() == ".csv" and summary in (None, output):
            summary = output
        else:
            errors.print(f"error: {output}: -o takes NAME.csv (the summary) or NAME.sdf[.gz] (the poses), once each")
            raise typer.Exit(2)
    if poses is not None and not poses.name.lower().endswith((".sdf", ".sdf.gz")):
        errors.print(f"error: {poses}: --poses must end in .sdf or .sdf.gz")
        raise typer.Exit(2)
    if resume and store is None:
        errors.print("error: --resume continues a --store: name it")
        raise typer.Exit(2)
    if png is not None and png.suffix.lower() != ".png":
        errors.print(f"error: {png}: --png must end in .png")
        raise typer.Exit(2)
    files, _ = library_files(ligands)
    _guard_outputs([summary, poses, store, png], [protein, *files, model])
    if store is not None and store.exists() and not resume:
        errors.print(f"error: {store}: a results store is already there: add --resume to continue it, or remove it to start over",
                     markup=False, highlight=False)
        raise typer.Exit(1)
    scratch = None
    if store is None:
        scratch = Path(tempfile.mkdtemp(prefix="dockscore-enantiomers-"))
        store_path = scratch / "store.sqlite"
    else:
        store_path = store
    spec = ScorerSpec(str(protein), str(model) if model else None, symmetry)
    task = CompareTask(starts, steps, coarse_steps, seed, protocol, stereoisomers == "all", max_isomers)
    try:
        run = _run_library(spec, ligands, store_path, task, jobs or os.cpu_count() or 1, device, ray, progress_every, "ligands")
        if run is None:
            raise typer.Exit(1)
        rows, pictured, n_ok = [], [], 0
        with ResultStore(store_path, create=False) as opened:
            settings = opened.settings()
            summary_out = AtomicOutput(summary) if summary else None
            poses_out = AtomicOutput(poses) if poses else None
            handles = [o.open() if o else None for o in (summary_out, poses_out)]
            writer = csv.DictWriter(handles[0], SUMMARY_COLUMNS) if handles[0] else None
            if writer:
                writer.writeheader()
            for _, row in opened.comparisons():
                values = json.loads(row.summary)
                n_ok += row.status == "ok"
                if writer:
                    writer.writerow(values)
                if handles[1]:
                    handles[1].write(row.poses)
                if len(rows) < show:
                    rows.append(values)
                if png is not None and values.get("enantiomer_score"):
                    pictured.append((values, row.poses))
            for out in (summary_out, poses_out):
                if out:
                    out.close(True)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    if rows:
        table = Table(title=f"{settings.get('model_name')} ({symmetry.upper()}, {protocol} starts): enantiomer comparison, scores in pK")
        for col in ("name", "kind", "input", "enantiomer", "delta", "preferred", "flag"):
            table.add_column(col)
        for r in rows:
            enantiomer = f"{r['enantiomer_cip']} {r['enantiomer_score']}" if r["enantiomer_score"] else ("none (achiral)" if r["kind"] in ("achiral", "meso") else "-")
            flag = f"yes (> {r['threshold']})" if r["flagged"] else ("" if r["kind"] != "error" else r["message"])
            table.add_row(r["name"], r["kind"], f"{r['input_cip']} {r['input_score']}" if r["input_score"] else "-", enantiomer,
                          r["delta"], r["preferred"], flag)
        console.print(table)
    console.print(f"compared {_n(n_ok, 'ligand')} ({run.poses_failed} failed, {run.poses_skipped} already in the store) in {run.seconds:.1f} s; "
                  f"delta = enantiomer - input. {flag_precision_note(model, symmetry, protocol)}", soft_wrap=True)
    written = [str(p) for p in (summary, poses) if p]
    if pictured:
        written += _draw_forms(protein, model, symmetry, pictured, png)
    if written:
        console.print(f"wrote {', '.join(written)}" + (f"; store {store}" if store else ""), soft_wrap=True)
    if run.interrupted:
        errors.print(f"interrupted: the outputs hold the {n_ok} ligand(s) compared so far"
                     + (f"; run the same command with --resume to continue {store}" if store else "; use --store to make a long run resumable"),
                     markup=False, highlight=False)
        raise typer.Exit(130)
    if n_ok == 0:
        raise typer.Exit(1)


@app.command()
def explain(
    protein: Path = typer.Argument(..., help="Receptor: PDB or mmCIF (optionally .gz)."),
    ligands: list[Path] = typer.Argument(..., help="Posed ligands: SDF, SDF.gz or MOL2."),
    output: Path = typer.Option(..., "--output", "-o", help="PNG: the ligand in 2D, each heavy atom coloured by its contribution (green adds pK, red costs it), score and top terms below."),
    record: int = typer.Option(0, "--record", min=0, help="Which record to draw: its position in the input (0 = the first), over the files in order."),
    symmetry: str = typer.Option("e3", "--symmetry", "-s", help="e3: invariant to rotation, translation and reflection. se3: rotation/translation only (sees handedness)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Checkpoint (.safetensors); default: the shipped model for --symmetry."),
) -> None:
    """Why does a pose score what it does? Draw the ligand with every heavy atom coloured by its contribution (pK).

    The contributions and the model's offset add up to the score exactly."""
    from dockscore.explain import draw_explanations, explain as explain_pose
    from dockscore.report import write_bytes_atomically

    if output.suffix.lower() != ".png":
        errors.print(f"error: {output}: the picture is a PNG (-o NAME.png)")
        raise typer.Exit(2)
    _guard_outputs([output], [protein, *ligands, model])
    scorer = _open_scorer(protein, model, symmetry)
    chosen = next((r for k, r in enumerate(_records(ligands)) if k == record), None)
    if chosen is None:
        errors.print(f"error: no record {record} in {', '.join(map(str, ligands))}", markup=False, highlight=False)
        raise typer.Exit(1)
    result = next(scorer.score_records([chosen]))
    if result.status != "ok":
        errors.print(f"error: {chosen.describe()}: {result.message}", markup=False, highlight=False)
        raise typer.Exit(1)
    e = explain_pose(result, scorer.model.offset)
    write_bytes_atomically(output, draw_explanations([e], [e.caption(f"{e.name} ({scorer.model_name}, {scorer.symmetry.upper()})")]))
    ranked = sorted(enumerate(e.atom_contrib), key=lambda kv: -kv[1])
    label = lambda i: f"{e.mol.GetAtomWithIdx(i).GetSymbol()}{i}"  # noqa: E731
    console.print(f"{e.name}: {e.score:.2f} {SCORE_UNIT} = offset {e.offset:.2f} + {sum(e.atom_contrib):.2f} over {len(e.atom_contrib)} heavy atoms; "
                  f"most favourable {', '.join(f'{label(i)} {c:+.2f}' for i, c in ranked[:3])}; "
                  f"least {', '.join(f'{label(i)} {c:+.2f}' for i, c in ranked[::-1][:3])}; "
                  f"terms {', '.join(f'{k} {v:+.2f}' for k, v in e.top_terms())}", soft_wrap=True)
    console.print(f"wrote {output}", soft_wrap=True)


def _draw_forms(protein: Path, model: Optional[Path], symmetry: str, pictured: list, png: Path) -> list[str]:
    """One picture per compared ligand: its forms' optimised poses side by side, coloured by atom contribution."""
    from rdkit import Chem

    from dockscore.explain import draw_explanations, explain as explain_pose
    from dockscore.io.ligands import records_from_mols
    from dockscore.model import prior_hard_wall
    from dockscore.report import write_bytes_atomically

    scorer = _open_scorer(protein, model, symmetry)
    written = []
    for values, text in pictured:
        supplier = Chem.SDMolSupplier()
        supplier.SetData(text, removeHs=False)
        mols = [m for m in supplier if m is not None]
        with prior_hard_wall(scorer.model):  # the comparison's scores: contributions add up to them
            results = list(scorer.score_records(records_from_mols(mols)))
        if not results or any(r.status != "ok" for r in results):
            continue
        shown = [explain_pose(r, scorer.model.offset) for r in results]
        legends = [f"{m.GetProp('dockscore_form')} {m.GetProp('dockscore_cip')}: {e.score:.2f} {SCORE_UNIT}"
                   + ("" if k == 0 else f" (delta {e.score - shown[0].score:+.2f})") + "\n" + ", ".join(f"{t} {v:+.2f}" for t, v in e.top_terms())
                   for k, (m, e) in enumerate(zip(mols, shown))]
        path = png if len(pictured) == 1 else png.with_name(f"{png.stem}-{len(written)}{png.suffix}")
        write_bytes_atomically(path, draw_explanations(shown, legends))
        written.append(str(path))
    return written


def _guard_outputs(outputs: list[Optional[Path]], inputs: list[Optional[Path]]) -> None:
    """Before any work: no output may be an input or a directory (exit 1 with one line)."""
    from dockscore.report import check_outputs

    try:
        check_outputs(outputs, [p for p in inputs if p is not None])
    except InputError as exc:
        errors.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1)


@app.command()
def compare(
    protein: Path = typer.Argument(..., help="Receptor (PDB/mmCIF)."),
    ligands: list[Path] = typer.Argument(..., help="Posed ligands, several stereoisomers of a molecule with their own poses."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="CSV: one row per stereoisomer with its best score and the group's delta."),
    symmetry: str = typer.Option("e3", "--symmetry", "-s"),
    model: Optional[Path] = typer.Option(None, "--model"),
    threshold: float = typer.Option(COMPARE_THRESHOLD, "--threshold", help="Flag a group when its best stereoisomer beats the next by more than this (pK). Default 0.5: about the median per-ligand threshold that `dockscore enantiomers` calibrated on 110 held-out chiral crystal ligands (0.36 E3, 0.52 SE3)."),
) -> None:
    """Group poses by constitution, compare stereoisomers' best scores, flag preferences beyond --threshold."""
    import csv

    from dockscore.enantiomers import group_stereoisomers
    from dockscore.report import AtomicOutput

    _guard_outputs([output], [protein, *ligands, model])
    scorer = _open_scorer(protein, model, symmetry)
    results = []
    for r in scorer.score_records(_records(ligands)):
        if r.status != "ok":
            errors.print(f"error: {r.source} record {r.index} ({r.name}): {r.message}", markup=False, highlight=False)
        results.append(r)
    groups = group_stereoisomers(results)
    table = Table(title=f"{scorer.model_name} ({scorer.symmetry.upper()}): stereoisomers by constitution, best score per isomer (pK)")
    for col in ("group", "isomer (CIP)", "name", "best score", "delta to next", "flag"):
        table.add_column(col)
    table_out = AtomicOutput(output) if output else None
    handle = table_out.open() if table_out else None
    writer = csv.writer(handle) if handle else None
    if writer:
        writer.writerow(["group", "constitution", "isomer_smiles", "cip", "name", "index", "best_score", "rank", "group_delta", "flagged", "threshold", "symmetry", "model"])
    for g_idx, group in enumerate(groups):
        ranked = group.ranked()
        flagged = len(ranked) > 1 and group.delta > threshold
        for rank, (iso, (score, cip, name, index)) in enumerate(ranked):
            delta = f"{group.delta:.2f}" if rank == 0 and len(ranked) > 1 else ""
            table.add_row(str(g_idx) if rank == 0 else "", cip or "-", name, f"{score:.2f}", delta, "yes" if flagged and rank == 0 else "")
            if writer:
                writer.writerow([g_idx, group.constitution, iso, cip, name, index, f"{score:.4f}", rank, f"{group.delta:.4f}" if len(ranked) > 1 else "",
                                 flagged, threshold, scorer.symmetry, scorer.model_name])
    if table_out:
        table_out.close()
    console.print(table)
    n_multi = sum(len(g.isomers) > 1 for g in groups)
    console.print(f"{len(groups)} constitution group(s), {n_multi} with several stereoisomers", soft_wrap=True)
    if not groups:
        raise typer.Exit(1)


@app.command()
def minimize(
    protein: Path = typer.Argument(..., help="Receptor (PDB/mmCIF)."),
    ligands: list[Path] = typer.Argument(..., help="Posed ligands (SDF/SDF.gz/MOL2)."),
    output: Path = typer.Option(..., "--output", "-o", help="SDF with optimised poses and their scores."),
    symmetry: str = typer.Option("e3", "--symmetry", "-s"),
    model: Optional[Path] = typer.Option(None, "--model"),
    steps: int = typer.Option(50, "--steps", min=0, help="Gradient steps (rigid body + torsions)."),
) -> None:
    """Optimise each pose under the model (rigid body + torsions); the score never gets worse than the start.

    Scores here are the optimiser's objective, with the prior's repulsion unbounded (a soft core
    would let atoms sink into the protein); `dockscore score` on the output gives the soft-core score."""
    from dockscore.optimize import optimize_pose, set_heavy_positions
    from dockscore.report import PartialSDWriter
    from dockscore.sanity import pose_problem

    _guard_outputs([output], [protein, *ligands, model])
    scorer = _open_scorer(protein, model, symmetry)
    writer = PartialSDWriter(output)
    complete = False
    n_ok = n_err = 0
    table = Table(title=f"{scorer.model_name} ({scorer.symmetry.upper()}): minimised poses, scores in pK")
    for col in ("name", "index", "start", "optimised", "RMSD (A)", "status"):
        table.add_column(col)
    try:
        for record in _records(ligands):
            try:
                if not record.ok:
                    raise InputError(record.error or "unusable record")
                if (problem := pose_problem(record.mol)) is not None:
                    raise InputError(problem)
                result = optimize_pose(scorer, scorer.prepare(record.mol), steps=steps)
            except InputError as exc:
                n_err += 1
                errors.print(f"error: {record.describe()}: {exc}", markup=False, highlight=False)
                table.add_row(record.name, str(record.index), "-", "-", "-", f"error: {exc}")
                continue
            mol = set_heavy_positions(record.mol, result.pos)
            for key, value in record.props.items():
                mol.SetProp(key, value)
            mol.SetProp("_Name", record.name)
            for key, value in {"dockscore_score": f"{result.score:.4f}", "dockscore_score_unit": "pK",
                               "dockscore_start_score": f"{result.start_score:.4f}", "dockscore_rmsd_to_start": f"{result.rmsd_to_start:.3f}",
                               "dockscore_symmetry": scorer.symmetry, "dockscore_model": scorer.model_name,
                               "dockscore_objective": "hard wall: the prior's repulsion unbounded (dockscore score uses its soft core)"}.items():
                mol.SetProp(key, value)
            writer.write(mol)
            writer.flush()
            n_ok += 1
            table.add_row(record.name, str(record.index), f"{result.start_score:.2f}", f"{result.score:.2f}", f"{result.rmsd_to_start:.2f}", "ok")
        complete = True
    except KeyboardInterrupt:
        errors.print(f"interrupted: {n_ok} minimised poses are in {writer.partial}; {output} was not replaced")
        raise typer.Exit(130)
    finally:
        writer.close(complete)
    console.print(table)
    console.print(f"minimised {n_ok}, failed {n_err}; wrote {output}", soft_wrap=True)
    if n_ok == 0:
        raise typer.Exit(1)


@app.command()
def benchmark(
    manifest: Path = typer.Argument(..., help="CSV with columns protein, ligands [, group, kind]; kind: crystal, decoys, actives, inactives."),
    out_dir: Path = typer.Option(Path("benchmark"), "--output", "-o", "--out-dir", help="Folder for poses.csv, metrics.json and plot.png (--out-dir: the older spelling)."),
    symmetry: str = typer.Option("e3", "--symmetry", "-s"),
    model: Optional[Path] = typer.Option(None, "--model"),
    activity_property: Optional[str] = typer.Option(None, "--activity-property", help="SD property with the measured activity."),
    activity_unit: str = typer.Option("pK", "--activity-unit", help="pK, kcal/mol (dG), kJ/mol, M, uM or nM; converted to pK."),
    rmsd_property: Optional[str] = typer.Option(None, "--rmsd-property", help="SD property with the pose RMSD to the crystal pose (A)."),
    bootstrap: int = typer.Option(1000, "--bootstrap", min=0, help="Bootstrap resamples for the 95 % intervals."),
) -> None:
    """Scoring, ranking, docking and screening power on your own data, with bootstrap 95 % intervals."""
    from dockscore.evaluation.benchmark import compute_metrics, dockscore_scorer, plot, run_benchmark, write_metrics

    if symmetry not in ("e3", "se3"):
        errors.print(f"error: --symmetry must be e3 or se3, not {symmetry!r}")
        raise typer.Exit(2)
    if out_dir.exists() and not out_dir.is_dir():
        errors.print(f"error: {out_dir}: is a file; --output names a folder for poses.csv, metrics.json and plot.png", markup=False, highlight=False)
        raise typer.Exit(1)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        poses = run_benchmark(manifest, dockscore_scorer(symmetry, model), activity_property, activity_unit, rmsd_property,
                              pose_csv=out_dir / "poses.csv", on_error=lambda m: errors.print(m, markup=False, highlight=False))
    except InputError as exc:
        errors.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1)
    metrics = compute_metrics(poses, n_boot=bootstrap)
    metrics.update({"symmetry": symmetry, "manifest": str(manifest)})
    write_metrics(metrics, out_dir / "metrics.json")
    plotted = plot(poses, metrics, out_dir / "plot.png", f"dockscore {symmetry}")
    console.print(metrics_table(metrics, f"dockscore {symmetry}"))
    console.print(f"wrote {out_dir / 'poses.csv'}, {out_dir / 'metrics.json'}" + (f", {out_dir / 'plot.png'}" if plotted else " (pip install matplotlib for the plot)"), soft_wrap=True)
    if metrics["n_scored"] == 0:
        raise typer.Exit(1)


def metrics_table(metrics: dict, title: str) -> Table:
    """The four powers with their 95 % intervals, as a rich table."""
    table = Table(title=title)
    for col in ("power", "metric", "value", "95 % CI", "n"):
        table.add_column(col)

    def ci(pair) -> str:
        return "-" if not pair or pair[0] != pair[0] else f"{pair[0]:.3f} to {pair[1]:.3f}"

    if "scoring" in metrics:
        m = metrics["scoring"]
        table.add_row("scoring", "Pearson R vs pK", f"{m['pearson']:.3f}", ci(m["ci95"]), str(m["n"]))
    if "ranking" in metrics:
        m = metrics["ranking"]
        table.add_row("ranking", "mean Spearman rho in group", f"{m['mean_spearman']:.3f}", ci(m["ci95"]), f"{m['n_groups']} groups")
    if "docking" in metrics:
        m = metrics["docking"]
        table.add_row("docking", "top-1 < 2 A, native included", f"{m['top1_native_included']:.3f}", ci(m["ci95_included"]), str(m["n_included"]))
        if "top1_native_excluded" in m:
            table.add_row("docking", "top-1 < 2 A, native excluded", f"{m['top1_native_excluded']:.3f}", ci(m["ci95_excluded"]), str(m["n_excluded"]))
    if "screening" in metrics:
        m = metrics["screening"]
        table.add_row("screening", "EF1%", f"{m['ef1']:.2f}", "-", f"{m['n_groups']} groups")
        table.add_row("screening", "ROC AUC", f"{m['roc_auc']:.3f}", "-", f"{m['n_groups']} groups")
    return table


@app.command()
def train(
    data: Path = typer.Option(Path("../shared/data"), help="Folder with pdbbind/ (and fep/jacs_set/ for the FEP evaluation)."),
    symmetry: str = typer.Option("e3", help="e3 or se3."),
    out: Path = typer.Option(Path("models"), "--output", "-o", "--out", help="Folder for the checkpoint and its metrics JSON (with --cv: the fold models and the CV table)."),
    epochs: int = typer.Option(16, help="Training epochs (the cosine LR schedule spans them)."),
    seed: int = typer.Option(0, help="Seed for initialisation and sampling (the protein-wise split always uses split seed 0)."),
    threads: int = typer.Option(1, help="Torch CPU threads."),
    device: str = typer.Option("cpu", help="cpu or cuda."),
    cache: Optional[Path] = typer.Option(None, help="Tensor cache of the parsed complexes (written if missing; read if present)."),
    time_budget: Optional[float] = typer.Option(None, help="Seconds of training; the LR schedule is fitted to it after epoch 0."),
    lr: float = typer.Option(1e-3, help="Peak learning rate (AdamW, warm-up + cosine)."),
    ema: float = typer.Option(0.99, help="EMA decay of the evaluated/saved weights (0 = off)."),
    vectors: int = typer.Option(16, help="l=1 vector channels (0 = invariant l=0 network; e3 only)."),
    pose_weight: float = typer.Option(1.0, help="Weight of the listwise near-native-docked-pose term (0 = off)."),
    group_weight: float = typer.Option(1.0, help="Weight of the within-protein pK-difference term (0 = off)."),
    mirror_weight: float = typer.Option(0.5, help="SE(3): margin in pK by which a crystal complex must outscore its mirror image (0 = no mirror hinge)."),
    enantiomer_weight: float = typer.Option(0.0, "--enantiomer-weight", help="Margin in pK by which a chiral crystal ligand must outscore its enantiomer placed in the same pocket by the prior (computed once, stored beside --cache). 0 = off."),
    nonbinder_weight: float = typer.Option(0.0, "--nonbinder-weight", min=0.0, help="Weight of the non-binder hinges: a size-matched ligand of another protein group, placed in the pocket by the prior (computed once, stored beside --cache), must score --nonbinder-margin pK below the pocket's own ligand and at most 4 pK. 0 = off."),
    nonbinder_margin: float = typer.Option(1.0, "--nonbinder-margin", min=0.0, help="pK by which a non-binder must score below the pocket's own ligand."),
    clash_negatives: bool = typer.Option(False, "--clash-negatives", help="One pose of the ligand pushed 1-2 A into its protein per step as a negative (dockscore.overlap)."),
    overlap_wall: float = typer.Option(0.0, "--overlap-wall", min=0.0, help="Train with the fixed overlap wall: pK per A of a pose's summed heavy-atom overlap (each pair's depth past 1.2 A inside contact) beyond 1.5 A (dockscore-se3 applies 2 at inference). 0 = off."),
    torsion_decoys: bool = typer.Option(True, help="Torsionally perturbed conformers as negatives besides rigid moves."),
    max_decoys: int = typer.Option(8, help="Docked decoys per complex in each listwise pose-term step."),
    vina_prior: float = typer.Option(1.0, help="Weight of the fixed Vina-typed physics prior the network corrects (0 = off)."),
    prior_overlap_cap: float = typer.Option(0.0, help="Train with a soft-core prior: its repulsion stops growing beyond this overlap, A (0 = Vina's unbounded quadratic; the shipped recipe trains without it and applies 0.7 A at inference, see bench/make_ensemble.py)."),
    typed_contacts: bool = typer.Option(False, help="Learned hydrophobic and H-bond terms only on hydrophobic and donor-acceptor pairs (Vina's gates)."),
    name: Optional[str] = typer.Option(None, help="Checkpoint name (default dockscore-SYMMETRY)."),
    cv: int = typer.Option(0, "--cv", min=0, help="K-fold cross-validation over protein groups (UniProt, merged across near-identical pockets) of train + val in models/split.json (test and fep_targets held out): one model per fold with this recipe, epochs chosen on an inner validation of the training groups; fold models and the CV table (cv.json, cv.md, cv.csv, with baselines) go to --out. 0 = off."),
    cv_seed: int = typer.Option(0, "--cv-seed", help="Seed of the CV fold assignment."),
    element_contacts: float = typer.Option(0.0, "--element-contacts", min=0.0, help="Reach in A of the element-contact affinity term fitted after training (ridge on the training residuals; dockscore.training.contacts; 12 = RF-Score's, the one measured); with --cv, also scored as dockscore_contacts. 0 = off (the shipped e3 recipe)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N complexes of index.csv (smoke runs; applies when parsing, not when reading an existing --cache)."),
) -> None:
    """Train a model on PDBbind complexes (protein-wise split) and write it with its held-out metrics; with --cv K, cross-validate the recipe."""
    import torch

    from dockscore.model import ModelConfig
    from dockscore.training.loop import run_training

    torch.set_num_threads(max(1, threads))
    model_config = ModelConfig(symmetry=symmetry, vectors=vectors, vina_prior=vina_prior, prior_overlap_cap=prior_overlap_cap or None,
                               typed_contacts=typed_contacts, overlap_wall=overlap_wall)
    overrides = {"lr": lr, "ema_decay": ema, "pose_weight": pose_weight, "group_weight": group_weight, "mirror_weight": mirror_weight, "enantiomer_weight": enantiomer_weight, "torsion_decoys": torsion_decoys,
                 "max_decoys": max_decoys, "nonbinder_weight": nonbinder_weight, "nonbinder_margin": nonbinder_margin,
                 "clash_negatives": clash_negatives}
    try:
        if cv:
            from dockscore.training.cv import run_cv

            run_cv(data, out, k=cv, cv_seed=cv_seed, symmetry=symmetry, epochs=epochs, seed=seed, model_config=model_config,
                   train_overrides=overrides, cache=cache, limit=limit, device=device, time_budget_s=time_budget, name=name,
                   element_contacts=element_contacts or None, log=console.print)
            return
        run_training(data, symmetry, out, epochs=epochs, seed=seed, log=console.print, device=device, cache=cache, limit=limit,
                     time_budget_s=time_budget, model_config=model_config, name=name, train_overrides=overrides,
                     element_contacts=element_contacts or None)
    except (InputError, FileNotFoundError, ValueError) as exc:
        errors.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        errors.print("interrupted")
        sys.exit(130)
    except OSError as exc:  # a full disk, a folder that vanished, no permission: a user's problem, one line
        where = f"{exc.filename}: " if exc.filename else ""
        errors.print(f"error: {where}{exc.strerror or exc}", markup=False, highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
