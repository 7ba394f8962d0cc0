"""Apply the post-training pK calibration (dockscore.train.calibrate) to a checkpoint trained
before calibration existed, and re-evaluate every split. Same data, same split; rank metrics unchanged.

    python bench/recalibrate.py CHECKPOINT METRICS_JSON CACHE.pt OUT_CHECKPOINT OUT_METRICS_JSON
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dockscore.checkpoint import load_model, save_model  # noqa: E402
from dockscore.train import calibrate, evaluate, load_complexes  # noqa: E402

ckpt, metrics_path, cache, out_ckpt, out_metrics = map(Path, sys.argv[1:6])
torch.set_num_threads(1)
model = load_model(ckpt)
report = json.loads(metrics_path.read_text())
by_id = {c.id: c for c in load_complexes(cache)}
split = report["split"]
report["calibration"] = calibrate(model, [by_id[i] for i in split["train"]])
report["metrics"].update({name: evaluate(model, [by_id[i] for i in split[name]]) for name in ("train", "val", "test", "fep_targets")})
save_model(model, out_ckpt, extra={"seed": report["train_config"]["seed"], "split_seed": 0, "best_epoch": report["best_epoch"], "calibrated": True})
out_metrics.write_text(json.dumps(report, indent=1))
print(report["calibration"], {k: round(v["rmse"], 3) for k, v in report["metrics"].items() if "rmse" in v})
