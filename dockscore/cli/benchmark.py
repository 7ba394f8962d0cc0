"""`dockscore benchmark`: scoring, ranking, docking and screening power on a manifest of complexes."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from dockscore.cli.common import console, errors, symmetry_option
from dockscore.errors import InputError


def benchmark(
    manifest: Path = typer.Argument(..., help="CSV with columns protein, ligands [, group, kind]; kind: crystal, decoys, actives, inactives."),
    out_dir: Path = typer.Option(Path("benchmark"), "--output", "-o", "--out-dir", help="Folder for poses.csv, metrics.json and plot.png (--out-dir: the older spelling)."),
    symmetry: str = symmetry_option(),
    model: Optional[Path] = typer.Option(None, "--model"),
    activity_property: Optional[str] = typer.Option(None, "--activity-property", help="SD property with the measured activity."),
    activity_unit: str = typer.Option("pK", "--activity-unit", help="pK, kcal/mol (dG), kJ/mol, M, uM or nM; converted to pK."),
    rmsd_property: Optional[str] = typer.Option(None, "--rmsd-property", help="SD property with the pose RMSD to the crystal pose (A)."),
    bootstrap: int = typer.Option(1000, "--bootstrap", min=0, help="Bootstrap resamples for the 95 % intervals."),
) -> None:
    """Scoring, ranking, docking and screening power on your own data, with bootstrap 95 % intervals."""
    from dockscore.evaluation.benchmark import compute_metrics, dockscore_scorer, plot, run_benchmark, write_metrics

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
