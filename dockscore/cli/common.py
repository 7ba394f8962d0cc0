"""Shared by the commands: the consoles (results to stdout, one-line errors to stderr), the
scorer and record openers, the input guard, table columns and the library-run progress."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dockscore.choices import SYMMETRY_HELP, check_device, check_protocol, check_symmetry
from dockscore.errors import ConfigError, InputError


console = Console()
errors = Console(stderr=True, soft_wrap=True)  # one error, one line: never wrapped


def protein_note(protein) -> None:
    """A warning line when the reader lost a few of the receptor's atoms (more is refused)."""
    from dockscore.io.protein import dropped_note

    note = dropped_note(protein)
    if note:
        errors.print(f"warning: {note}", markup=False, highlight=False)


def add_column(table: Table, header: str, numeric: bool) -> None:
    """Numbers never shrink: a numeric column keeps the width of its header (at least 7, '-12.345');
    names wrap (fold) when the terminal is narrow."""
    if numeric:
        table.add_column(header, justify="right", no_wrap=True, min_width=max(len(header), 7))
    else:
        table.add_column(header, overflow="fold")


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def run_library_with_progress(spec, ligands, store, task, jobs, device, ray, progress_every, noun="poses"):
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


def open_scorer(protein: Path, model: Optional[Path], symmetry: str):
    import torch

    from dockscore.scoring import Scorer

    torch.set_num_threads(1)  # small graphs: threads only spin when another process holds a core (64 s instead of 3 s measured)

    try:
        return Scorer(protein, model=model, symmetry=symmetry)
    except (InputError, ValueError) as exc:
        errors.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1)


def read_records(paths: list[Path]):
    """All records of all files; file-level problems are reported and skipped."""
    from dockscore.io.ligands import iter_ligands

    for path in paths:
        try:
            yield from iter_ligands(path)
        except InputError as exc:
            errors.print(f"error: {exc}", markup=False, highlight=False)


def guard_outputs(outputs: list[Optional[Path]], inputs: list[Optional[Path]]) -> None:
    """Before any work: no output may be an input or a directory (exit 1 with one line)."""
    from dockscore.report import check_outputs

    try:
        check_outputs(outputs, [p for p in inputs if p is not None])
    except InputError as exc:
        errors.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1)


def fail(message: object, code: int = 1) -> NoReturn:
    """The one error printer: ``error: MESSAGE`` on one line of stderr, then exit."""
    errors.print(f"error: {message}", markup=False, highlight=False)
    raise typer.Exit(code)


def checked(check):
    """A typer callback running one of :mod:`dockscore.choices`' checks: a wrong value is one line, exit 2."""
    def callback(value):
        try:
            return value if value is None else check(value)
        except ConfigError as exc:
            fail(exc, 2)
    return callback


def symmetry_option(help: str = SYMMETRY_HELP):
    return typer.Option("e3", "--symmetry", "-s", callback=checked(check_symmetry), help=help)


def device_option(help: str = "cpu, or cuda[:N].", default: str = "cpu"):
    return typer.Option(default, "--device", callback=checked(check_device), help=help)


def protocol_option(help: str):
    return typer.Option("anchored", "--protocol", callback=checked(check_protocol), help=help)
