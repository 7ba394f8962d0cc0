"""Finish a trained checkpoint for shipping: FEP-series evaluation (CPU), split file, model card.

    python bench/model_card.py CHECKPOINT METRICS_JSON --name dockscore-e3 [--command "..."]
        [--tools "dockscore-e3,dockscore-se3,heavy-atom count,..."] [--seeds m1.json m2.json ...]
        [--section "TITLE=file.md" ...]

Copies the checkpoint to models/NAME.safetensors, adds the FEP-series figures to the metrics,
writes models/NAME.metrics.json, models/split.json and models/NAME.md. The four-powers and
FEP tables come from bench/results/comparison.json (one bench/compare_vina.py run); seed
metrics files (other seeds of the same recipe) give mean and spread across seeds.
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("metrics", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--command", default="bench/train_shipped.sh")
    parser.add_argument("--section", action="append", default=[], help="TITLE=markdown file to append")
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
    comparison = json.loads(args.comparison.read_text()) if args.comparison.exists() else None
    tools = args.tools.split(",") if args.tools else (list(comparison["fep"]) if comparison else None)
    sections = {}
    if report.get("members"):
        members = [(mem["seed"], mem["metrics"]) for mem in report["members"]]
        sections["Seeds (same recipe, same split)"] = seed_table(members, report["metrics"])
    elif args.seeds:
        members = [(r["train_config"]["seed"], r["metrics"]) for r in (json.loads(Path(p).read_text()) for p in [args.metrics, *args.seeds])]
        sections["Seeds (same recipe, same split)"] = seed_table(members)
    for item in args.section:
        title, path = item.split("=", 1)
        sections[title] = Path(path).read_text()
    write_model_card(models / f"{args.name}.metrics.json", models / f"{args.name}.md",
                     extra={"command": args.command, "sections": sections,
                            "comparison": comparison, "tools": tools})
    print((models / f"{args.name}.md").read_text())


if __name__ == "__main__":
    main()
