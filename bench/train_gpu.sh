#!/usr/bin/env bash
# How the shipped checkpoints were trained: on one GPU, from the tensor cache that
# `dockscore train --cache .cache/pdbbind.pt` writes from ../shared/data/pdbbind (RDKit/Biopython
# parse once on the CPU side). Trains several variants side by side, each under one time budget:
# E(3) and SE(3) over three seeds (same protein-wise split, split_seed 0), the invariant l=0
# network (no vector channels) and a smaller E(3) network for the speed/accuracy study.
# Usage: bench/train_gpu.sh OUTDIR [BUDGET_S]
set -euo pipefail
out=${1:?outdir}; budget=${2:-300}
mkdir -p "$out"
[ -f .cache/pdbbind.pt ] || gunzip -k .cache/pdbbind.pt.gz
run() {  # name symmetry seed hidden vectors
  PYTHONUNBUFFERED=1 python3 - "$@" "$out" "$budget" <<'PY' > "$out/$1.log" 2>&1
import sys, torch
from pathlib import Path
from dockscore.model import ModelConfig
from dockscore.train import run_training
name, sym, seed, hidden, vec, out, budget = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), Path(sys.argv[6]), float(sys.argv[7])
torch.set_num_threads(1)
run_training(Path("../shared/data"), sym, out, epochs=60, seed=seed, cache=Path(".cache/pdbbind.pt"),
             device="cuda" if torch.cuda.is_available() else "cpu", time_budget_s=budget,
             model_config=ModelConfig(symmetry=sym, hidden=hidden, vectors=vec), name=name,
             train_overrides={"lr": 5e-4, "ema_decay": 0.995})
PY
}
run e3-s0 e3 0 64 16 & run e3-s1 e3 1 64 16 & run e3-s2 e3 2 64 16 &
run se3-s0 se3 0 64 16 & run se3-s1 se3 1 64 16 & run se3-s2 se3 2 64 16 &
run e3-l0-s0 e3 0 64 0 & run e3-small-s0 e3 0 32 8 &
wait
