"""Checkpoints as safetensors: tensors plus a JSON config in the metadata; nothing is unpickled."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from dockscore.errors import InputError
from dockscore.model import DockScoreEnsemble, DockScoreModel, ModelConfig

MODELS_DIR = Path(__file__).resolve().parent / "models"  # package data: a wheel ships them


def default_model_path(symmetry: str) -> Path:
    return MODELS_DIR / f"dockscore-{symmetry}.safetensors"


def metrics_path(checkpoint: str | Path) -> Path:
    """The metrics JSON written beside a checkpoint (``NAME.safetensors`` -> ``NAME.metrics.json``)."""
    return Path(checkpoint).with_suffix("").with_suffix(".metrics.json")


def save_model(model: DockScoreModel | DockScoreEnsemble, path: str | Path, extra: dict | None = None) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    metadata = {"config": json.dumps(model.config.to_dict()), "extra": json.dumps(extra or {})}
    if isinstance(model, DockScoreEnsemble):
        metadata["members"] = str(len(model.members))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata=metadata)


def load_model(path: str | Path | None = None, symmetry: str = "e3") -> DockScoreModel | DockScoreEnsemble:
    """Load a checkpoint (the shipped default for ``symmetry`` when ``path`` is None), in eval mode.

    A checkpoint with ``members`` in its metadata is a seed ensemble (mean of the members)."""
    from safetensors import safe_open

    path = Path(path) if path is not None else default_model_path(symmetry)
    if not path.exists():
        raise InputError(f"{path}: model checkpoint not found")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        config = ModelConfig(**_current_options(json.loads(metadata["config"]), path))
        state = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error type for non-safetensors files
        raise InputError(f"{path}: not a dockscore checkpoint ({type(exc).__name__}: {exc})") from None
    if "members" in metadata:
        model = DockScoreEnsemble([DockScoreModel(config) for _ in range(int(metadata["members"]))])
    else:
        model = DockScoreModel(config)
        state.setdefault("head.scale", torch.tensor(1.0))  # checkpoints written before calibration existed
    model.load_state_dict(state)
    model.eval()
    model.name = path.stem  # type: ignore[attr-defined]
    return model


# Options a checkpoint may still name, at the value that meant "off", from before they left
# dockscore (typed_contacts: a study, never shipped on; its checkpoints say False).
RETIRED_OPTIONS = {"typed_contacts": False}


def _current_options(config: dict, path: Path) -> dict:
    for key, off in RETIRED_OPTIONS.items():
        if key in config:
            if config.pop(key) != off:
                raise InputError(f"{path}: a checkpoint trained with {key}, an option this dockscore no longer has")
    return config
