"""`dockscore explain`: per-atom contributions to a pose's score, drawn."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from dockscore.cli.common import console, errors, guard_outputs, open_scorer, read_records, symmetry_option
from dockscore.definitions import SCORE_UNIT


def explain(
    protein: Path = typer.Argument(..., help="Receptor: PDB or mmCIF (optionally .gz)."),
    ligands: list[Path] = typer.Argument(..., help="Posed ligands: SDF, SDF.gz or MOL2."),
    output: Path = typer.Option(..., "--output", "-o", help="PNG: the ligand in 2D, each heavy atom coloured by its contribution (green adds pK, red costs it), score and top terms below."),
    record: int = typer.Option(0, "--record", min=0, help="Which record to draw: its position in the input (0 = the first), over the files in order."),
    symmetry: str = symmetry_option(),
    model: Optional[Path] = typer.Option(None, "--model", help="Checkpoint (.safetensors); default: the shipped model for --symmetry."),
) -> None:
    """Why does a pose score what it does? Draw the ligand with every heavy atom coloured by its contribution (pK).

    The contributions and the model's offset add up to the score exactly."""
    from dockscore.explain import draw_explanations, explain as explain_pose
    from dockscore.report import write_bytes_atomically

    if output.suffix.lower() != ".png":
        errors.print(f"error: {output}: the picture is a PNG (-o NAME.png)")
        raise typer.Exit(2)
    guard_outputs([output], [protein, *ligands, model])
    scorer = open_scorer(protein, model, symmetry)
    chosen = next((r for k, r in enumerate(read_records(ligands)) if k == record), None)
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
