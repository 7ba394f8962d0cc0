"""Finish a trained checkpoint for shipping: FEP-series evaluation (CPU), split file, model card.

    python bench/model_card.py CHECKPOINT METRICS_JSON --name dockscore-e3
        [--tools "dockscore-e3,dockscore-se3,heavy-atom count,..."] [--seeds m1.json m2.json ...]
    python bench/model_card.py models/dockscore-e3.safetensors models/dockscore-e3.metrics.json --name dockscore-e3
        (re-render the shipped card after editing its sections or the comparison)

Copies the checkpoint to models/NAME.safetensors, adds the FEP-series figures to the metrics,
writes models/NAME.metrics.json, models/split.json and models/NAME.md. The four-powers and
FEP tables come from bench/results/comparison.json (one bench/compare_vina.py run); seed
metrics files (other seeds of the same recipe) give mean and spread across seeds. The
hand-written sections (measured elsewhere: soft core, margins, speed, what was tried, where it
loses) are markdown files in models/cards/NAME/, appended in file-name order, each starting
with its "## Title" line; models/cards/NAME/command.txt holds the training command line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dockscore.card import write_model_card  # noqa: E402
from dockscore.checkpoint import load_model  # noqa: E402
from dockscore.train import evaluate_fep  # noqa: E402


def seed_table(members: list[tuple[int, dict]], ensemble: dict | None = None) -> str:
    """Held-out figures per training seed, their mean and standard deviation, and the ensemble's."""
    import numpy as np

    rows = {"val R (selection)": ("val", "pearson"), "val within-protein rho (selection)": ("val", "ranking_mean_spearman"),
            "test R": ("test", "pearson"), "test within-protein rho": ("test", "ranking_mean_spearman"),
            "fep_targets R": ("fep_targets", "pearson"),
            "test docking top-1 (native excl.)": ("test", "docking_top1_native_excluded"),
            "FEP-series mean rho": ("fep_series", None)}
    pick = lambda m, part, key: (m.get(part, {}).get("mean", {}).get("spearman") if key is None else m.get(part, {}).get(key))  # noqa: E731
    head = "| figure | " + " | ".join(f"seed {s}" for s, _ in members) + " | mean ± sd over seeds |" + (" ensemble (shipped) |" if ensemble else "")
    lines = [head, "|" + "---|" * (len(members) + 2 + (1 if ensemble else 0))]
    for title, (part, key) in rows.items():
        v = np.array([np.nan if pick(m, part, key) is None else pick(m, part, key) for _, m in members], dtype=float)
        sd = np.nanstd(v, ddof=1) if len(v) > 1 else 0.0
        cell = f" {pick(ensemble, part, key):.3f} |" if ensemble and pick(ensemble, part, key) is not None else (" n/a |" if ensemble else "")
        lines.append(f"| {title} | " + " | ".join(f"{x:.3f}" for x in v) + f" | {np.nanmean(v):.3f} ± {sd:.3f} |" + cell)
    return "\n".join(lines)


def read_sections(folder: Path) -> dict[str, str]:
    """{title: body} from folder/*.md in name order; each file starts with its "## Title" line."""
    sections = {}
    for path in sorted(folder.glob("*.md")) if folder.is_dir() else []:
        head, _, body = path.read_text().partition("\n")
        if not head.startswith("## "):
            raise SystemExit(f"{path}: the first line must be the section's '## Title'")
        sections[head[3:].strip()] = body.strip("\n")
    return sections


def render_card(name: str, metrics: Path, out: Path, comparison_path: Path = ROOT / "bench" / "results" / "comparison.json",
                tools: str | None = None, seeds: list[Path] = (), sections_dir: Path | None = None, command: str | None = None) -> str:
    """Write the card of ``name`` to ``out`` from its metrics JSON, the comparison and its tracked sections."""
    report = json.loads(Path(metrics).read_text())
    comparison = json.loads(comparison_path.read_text()) if comparison_path.exists() else None
    tool_list = tools.split(",") if tools else (list(comparison["fep"]) if comparison else None)
    sections = {}
    if report.get("members"):
        members = [(mem["seed"], mem["metrics"]) for mem in report["members"]]
        sections["Seeds (same recipe, same split)"] = seed_table(members, report["metrics"])
    elif seeds:
        members = [(r["train_config"]["seed"], r["metrics"]) for r in (json.loads(Path(p).read_text()) for p in [metrics, *seeds])]
        sections["Seeds (same recipe, same split)"] = seed_table(members)
    sources = sections_dir or ROOT / "models" / "cards" / name
    sections.update(read_sections(sources))
    if command is None:
        command = (sources / "command.txt").read_text().strip() if (sources / "command.txt").exists() else "bench/train_shipped.sh"
    return write_model_card(Path(metrics), Path(out), extra={"command": command, "sections": sections, "comparison": comparison, "tools": tool_list})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("metrics", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--command", default=None, help="training command line (default: models/cards/NAME/command.txt)")
    parser.add_argument("--sections-dir", type=Path, default=None, help="hand-written sections (default: models/cards/NAME)")
    parser.add_argument("--comparison", type=Path, default=ROOT / "bench" / "results" / "comparison.json")
    parser.add_argument("--tools", default=None, help="comma-separated tool columns of the comparison (default: all in it)")
    parser.add_argument("--seeds", type=Path, nargs="*", default=[], help="metrics JSONs of the same recipe, other seeds")
    args = parser.parse_args()
    torch.set_num_threads(1)
    models = ROOT / "models"
    target = models / f"{args.name}.safetensors"
    if args.checkpoint.resolve() != target.resolve():
        shutil.copyfile(args.checkpoint, target)
    report = json.loads(args.metrics.read_text())
    model = load_model(target)
    if "fep_series" not in report["metrics"]:
        report["metrics"]["fep_series"] = evaluate_fep(model, args.data / "fep" / "jacs_set")
    (models / f"{args.name}.metrics.json").write_text(json.dumps(report, indent=1))
    (models / "split.json").write_text(json.dumps(report["split"], indent=1))
    render_card(args.name, models / f"{args.name}.metrics.json", models / f"{args.name}.md", args.comparison, args.tools,
                args.seeds, args.sections_dir, args.command)
    print((models / f"{args.name}.md").read_text())


if __name__ == "__main__":
    main()
