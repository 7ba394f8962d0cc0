"""`dockscore rank`: a docked library ranked by compound through the results store, with pictures."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from dockscore.cli.common import add_column, console, device_option, errors, plural, protein_note, run_library_with_progress, symmetry_option
from dockscore.definitions import OVERLAP_ALLOWANCE, OVERLAP_ONSET, SCORE_UNIT
from dockscore.errors import InputError


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
    symmetry: str = symmetry_option(),
    model: Optional[Path] = typer.Option(None, "--model", help="Checkpoint (.safetensors); default: the shipped model for --symmetry."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=0, help="Worker processes (0 = one per CPU core); each holds the encoded protein once. Results do not depend on it."),
    device: str = device_option("cpu, or cuda[:N]: CPU workers (--jobs) build graphs, the GPU scores them in --batch-size batches."),
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

            protein_note(read_protein(protein, keep_waters=keep_waters))
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
        run = run_library_with_progress(spec, ligands, store, ScoreTask(group_by, group_pattern, template), jobs, device, ray, progress_every)
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
                add_column(table, col, numeric=just == "right")
            for k, c in zip(range(1, show + 1), opened.ranked(max_overlap)):
                table.add_row(str(k), c.compound, f"{c.score:.2f}", f"{c.pose_score:.2f}", f"{c.clashes}" + (" overlaps" if c.overlapping else ""),
                              f"{Path(c.source).name} #{c.record_index}", str(c.n_poses), str(c.n_failed), c.cip)
            console.print(table)
    grouping = Grouping(settings.get("group_by", group_by), settings.get("group_pattern"))
    console.print(f"ranked {plural(made.ranked, 'compound')} from {plural(counts['poses'], 'pose')} ({plural(counts['failed'], 'failed record')}, "
                  f"{plural(counts['file_errors'], 'file error')}); {grouping.describe()}; {CHOICE_RULE}", soft_wrap=True)
    if made.overlapping:
        console.print(f"{plural(made.overlapping, 'compound')} ranked last, flagged 'overlaps protein': every pose has more than "
                      f"{max_overlap:g} A of overlap with the protein (--max-overlap)", soft_wrap=True)
    if run is not None:
        rate = f"{run.poses_per_second:.1f} poses/s" if run.poses_scored else "nothing new to score"
        duplicates = f", {plural(len(run.duplicate_files), 'duplicate file')} read once" if run.duplicate_files else ""
        console.print(f"this run: {run.poses_scored - run.poses_failed} scored, {run.poses_failed} failed, {run.poses_skipped} already "
                      f"in the store, {plural(run.files, 'file')}{duplicates}, {run.seconds:.1f} s, {rate}", soft_wrap=True)
        for duplicate in run.duplicate_files:
            errors.print(f"note: {duplicate}: read once", markup=False, highlight=False)
        if run.lost_workers:
            errors.print(f"note: {plural(run.lost_workers, 'Ray worker')} lost (node or process gone); "
                         f"{plural(run.resent_units, 'work unit')} sent again to the others, each scored once", markup=False, highlight=False)
    pictures = _ranking_pictures(store, histogram, grid, max_overlap)
    console.print(f"wrote {output}" + (f", {top_sdf} ({plural(made.top_written, 'pose')})" if top_sdf else "")
                  + f", {failures} ({plural(made.failures, 'row')})" + "".join(f", {p}" for p in pictures) + f"; store {store}", soft_wrap=True)
    if made.ranked == 0:
        raise typer.Exit(1)


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
