"""Finish a trained checkpoint for shipping: FEP-series evaluation (CPU), split file, model card.

    python bench/model_card.py CHECKPOINT METRICS_JSON --name dockscore-e3 [--command "..."]

Copies the checkpoint to models/NAME.safetensors, adds the FEP-series figures to the metrics,
writes models/NAME.metrics.json, models/split.json and models/NAME.md.
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("metrics", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--command", default="bench/train_gpu.sh OUTDIR 340")
    parser.add_argument("--section", action="append", default=[], help="TITLE=markdown file to append")
    args = parser.parse_args()
    torch.set_num_threads(1)
    models = ROOT / "models"
    target = models / f"{args.name}.safetensors"
    if args.checkpoint.resolve() != target.resolve():
        shutil.copyfile(args.checkpoint, target)
    report = json.loads(args.metrics.read_text())
    model = load_model(target)
    report["metrics"]["fep_series"] = evaluate_fep(model, args.data / "fep" / "jacs_set")
    (models / f"{args.name}.metrics.json").write_text(json.dumps(report, indent=1))
    (models / "split.json").write_text(json.dumps(report["split"], indent=1))
    ref = json.loads((ROOT / "bench" / "results" / "vina_fep_reference.json").read_text())
    vina = {**ref["targets"], "mean": ref["mean_over_targets"]}
    sections = {}
    for item in args.section:
        title, path = item.split("=", 1)
        sections[title] = Path(path).read_text()
    write_model_card(models / f"{args.name}.metrics.json", models / f"{args.name}.md",
                     extra={"command": args.command, "vina_fep": vina, "sections": sections})
    print((models / f"{args.name}.md").read_text())


if __name__ == "__main__":
    main()
