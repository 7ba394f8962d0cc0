#!/usr/bin/env bash
# Pose-loss sweep of the shipped E(3) recipe on one GPU (several runs share it, one CPU core each).
# Every run is the shipped recipe (`dockscore train` defaults: lr 1e-3, EMA 0.99, within-protein
# term, torsional decoys, Vina prior, 16 epochs at most) under one wall-clock budget; only the
# listwise pose weight and the number of docked decoys per list vary. Same protein-wise split
# (split seed 0) as the shipped models; selection is on validation only. FEP is not evaluated
# here (no ../shared/data on the GPU machine): score it afterwards with bench/make_ensemble.py.
# CACHE (default .cache/pdbbind.pt) picks the tensor cache, e.g. .cache/pdbbind_relaxed.pt from
# bench/relax_decoys.py (prior-relaxed decoys added to the training complexes only).
# Usage: [CACHE=...] bench/train_sweep_gpu.sh OUTDIR BUDGET_S "name seed pose_weight max_decoys" ...
set -euo pipefail
out=${1:?outdir}; budget=${2:?budget seconds}; shift 2
export CACHE=${CACHE:-.cache/pdbbind.pt}
mkdir -p "$out"
[ -f "$CACHE" ] || gunzip -k "$CACHE.gz"
run() {  # name seed pose_weight max_decoys
  PYTHONUNBUFFERED=1 python3 - "$@" "$out" "$budget" <<'PY' > "$out/$1.log" 2>&1
import os, sys, torch
from pathlib import Path
from dockscore.model import ModelConfig
from dockscore.train import run_training
name, seed, pose_weight, max_decoys, out, budget = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5]), float(sys.argv[6])
torch.set_num_threads(1)
run_training(Path("../shared/data"), "e3", out / name, epochs=16, seed=seed, cache=Path(os.environ["CACHE"]),
             device="cuda" if torch.cuda.is_available() else "cpu", time_budget_s=budget,
             model_config=ModelConfig(symmetry="e3", vectors=16, vina_prior=1.0), name="dockscore-e3",
             train_overrides={"lr": 1e-3, "ema_decay": 0.99, "pose_weight": pose_weight, "group_weight": 1.0,
                              "torsion_decoys": True, "max_decoys": max_decoys})
PY
}
for spec in "$@"; do run $spec & done
wait
