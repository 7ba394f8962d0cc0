#!/usr/bin/env bash
# dockscore on a GPU machine, in one go: a fresh virtual environment from the wheels given (torch
# with CUDA, rdkit, biopython and the rest, none fetched from the network), dockscore from this
# checkout, then bench/gpu_check.py: model-only and end-to-end poses/s for --device cuda with 1, 4
# and 16 CPU workers feeding it. Prints the table; bench/results/gpu_check.json keeps it.
# Usage: bench/gpu_check.sh WHEEL_DIR [POSES]
set -euo pipefail
wheels=${1:?usage: bench/gpu_check.sh WHEEL_DIR [POSES]}
poses=${2:-20000}
venv=${GPU_VENV:-.gpu-venv}
if python -c "import torch, rdkit, Bio, torch_geometric; assert torch.cuda.is_available()" 2>/dev/null; then
  py=python  # this environment already has what it needs
else
  python -m venv "$venv"
  py="$venv/bin/python"
  "$py" -m pip install -q --no-index --find-links "$wheels" torch rdkit biopython torch-geometric typer rich safetensors numpy scipy
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
"$py" bench/gpu_check.py --device cuda --poses "$poses" --workers 1 4 16
