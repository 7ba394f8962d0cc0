"""`dockscore enantiomers`: each chiral ligand against its mirror-image forms in the same pocket."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from dockscore.choices import check_stereoisomers
from dockscore.cli.common import checked, console, device_option, errors, guard_outputs, open_scorer, plural, protocol_option, run_library_with_progress, symmetry_option
from dockscore.definitions import SCORE_UNIT


def enantiomers(
    protein: Path = typer.Argument(..., help="Receptor: PDB or mmCIF (optionally .gz)."),
    ligands: list[Path] = typer.Argument(..., help="Posed ligands: SDF, SDF.gz or MOL2 files, directories and glob patterns."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Main output: NAME.csv, one row per ligand (scores in pK, delta, preferred form, flag); NAME.sdf[.gz] is taken as --poses."),
    summary: Optional[Path] = typer.Option(None, "--summary", help="The summary CSV (the older spelling of -o NAME.csv)."),
    poses: Optional[Path] = typer.Option(None, "--poses", help="SDF (or .sdf.gz) with the optimised pose of every form and its dockscore_* properties."),
    symmetry: str = symmetry_option(),
    model: Optional[Path] = typer.Option(None, "--model", help="Checkpoint (.safetensors); default: the shipped model for --symmetry."),
    protocol: str = protocol_option("Where the search starts. anchored: the input form at its own pose, the enantiomer at its mirror images. symmetric: both forms from the same envelope-keeping placements (the input's pose and its 180-degree turns; their inversions), so the starts do not depend on which hand was given."),
    stereoisomers: str = typer.Option("enantiomer", "--stereoisomers", callback=checked(check_stereoisomers), help="'enantiomer' (all centres inverted) or 'all' (every stereoisomer, up to --max-isomers)."),
    max_isomers: int = typer.Option(8, "--max-isomers", min=2, help="Cap on forms per ligand with --stereoisomers all."),
    starts: int = typer.Option(4, "--starts", min=1, help="Optimisation starts per form."),
    steps: int = typer.Option(4, "--steps", min=0, help="Model steps per start (rigid body + torsions), after the coarse steps; a start that stops improving for 2 steps stops."),
    coarse_steps: int = typer.Option(30, "--coarse-steps", min=0, help="Steps per start under the Vina-typed prior alone first (cheap: no network)."),
    seed: int = typer.Option(0, "--seed", help="Seed for the perturbed starts."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=0, help="Worker processes (0 = one per CPU core), as in rank. Results do not depend on it."),
    device: str = device_option("cpu, or cuda[:N] (the comparisons run in this process on the device)."),
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

    from dockscore.enantiomers import flag_precision_note
    from dockscore.rank import CompareTask, ScorerSpec, library_files
    from dockscore.report import SUMMARY_COLUMNS, AtomicOutput
    from dockscore.store import ResultStore

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
    guard_outputs([summary, poses, store, png], [protein, *files, model])
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
        run = run_library_with_progress(spec, ligands, store_path, task, jobs or os.cpu_count() or 1, device, ray, progress_every, "ligands")
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
    console.print(f"compared {plural(n_ok, 'ligand')} ({run.poses_failed} failed, {run.poses_skipped} already in the store) in {run.seconds:.1f} s; "
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


def _draw_forms(protein: Path, model: Optional[Path], symmetry: str, pictured: list, png: Path) -> list[str]:
    """One picture per compared ligand: its forms' optimised poses side by side, coloured by atom contribution."""
    from rdkit import Chem

    from dockscore.explain import draw_explanations, explain as explain_pose
    from dockscore.io.ligands import records_from_mols
    from dockscore.model import prior_hard_wall
    from dockscore.report import write_bytes_atomically

    scorer = open_scorer(protein, model, symmetry)
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
