"""Re-measure a shipped checkpoint's held-out metrics after a featurisation change, weights untouched.

    python bench/remeasure_metrics.py dockscore-e3 dockscore-se3 [--cache .cache/pdbbind.pt]

Rebuild the tensor cache first when ligand or protein graphs changed (bench/train_shipped.sh
step 1). Rewrites models/NAME.metrics.json's train/val/test/fep_targets figures (and each
ensemble member's) with :func:`dockscore.train.evaluate` on the cache; the FEP-series figures
are kept (re-render the card with bench/model_card.py afterwards). Prints old -> new.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dockscore.checkpoint import load_model  # noqa: E402
from dockscore.train import evaluate, load_complexes  # noqa: E402

SPLITS = ("train", "val", "test", "fep_targets")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("names", nargs="+")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "pdbbind.pt")
    args = parser.parse_args()
    torch.set_num_threads(1)
    by_id = {c.id: c for c in load_complexes(args.cache)}
    for name in args.names:
        path = ROOT / "models" / f"{name}.metrics.json"
        report = json.loads(path.read_text())
        model = load_model(ROOT / "models" / f"{name}.safetensors")

        def held_out(m) -> dict:
            return {s: evaluate(m, [by_id[i] for i in report["split"][s] if i in by_id]) for s in SPLITS}

        for s, new in held_out(model).items():
            old = report["metrics"][s]
            print(f"{name} {s}: R {old['pearson']:.4f} -> {new['pearson']:.4f}, docking (native excl.) "
                  f"{old.get('docking_top1_native_excluded')} -> {new.get('docking_top1_native_excluded')} (n {new.get('docking_n')})", flush=True)
            report["metrics"][s] = new
        for k, member in enumerate(report.get("members", [])):
            member["metrics"].update(held_out(model.members[k]))
        path.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
