"""The shipped models' recipes as data: each model's architecture (:class:`ModelConfig`), training
(:class:`TrainConfig`), seeds and the fixed terms set at inference. `dockscore train --recipe`, the
cross-validation, `bench/train_shipped.sh`, `bench/make_ensemble.py` and the cards read them from
here, so the recipe is written once. tests/test_recipes.py holds each against what its shipped
checkpoint recorded."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from dockscore.errors import ConfigError
from dockscore.model import ModelConfig
from dockscore.training.loop import TrainConfig


@dataclass(frozen=True)
class Inference:
    """Fixed terms set on the trained seed ensemble (no parameter moves; :func:`with_inference`)."""
    prior_overlap_cap: float | None = 0.7  # A: the Vina prior's soft core (docs/model-e3-notes.md)
    pose_prior_weight: float = 2.0  # w of the pose score (dockscore.definitions.POSE_SCORE_MEANING)
    overlap_wall: float = 0.0  # pK per A of summed overlap beyond the allowance (dockscore.overlap)
    element_contacts: float | None = None  # A: the element-contact term's reach, fitted on train + val after training
    correction_fade: float = 0.0  # A of summed overlap over which the learned correction fades (dockscore.overlap.correction_share)
    correction_floor: float = 1.0  # the share of it a pose keeps past that


@dataclass(frozen=True)
class Recipe:
    name: str  # the checkpoint's name
    model: ModelConfig
    train: TrainConfig
    inference: Inference = field(default_factory=Inference)
    seeds: tuple[int, ...] = (0, 1, 2)


_TRAINING = dict(lr=1e-3, ema_decay=0.99, pose_weight=1.0, group_weight=1.0, torsion_decoys=True, max_decoys=8)

RECIPES = {
    "e3": Recipe("dockscore-e3", ModelConfig(symmetry="e3", vina_prior=1.0),
                 TrainConfig(symmetry="e3", epochs=16, mirror_weight=0.5, **_TRAINING),
                 Inference(correction_fade=1.0, correction_floor=0.0)),
    "se3": Recipe("dockscore-se3", ModelConfig(symmetry="se3", vina_prior=1.0),
                  TrainConfig(symmetry="se3", epochs=8, mirror_weight=1.0, **_TRAINING),
                  Inference(overlap_wall=2.0, element_contacts=12.0)),
}


def recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ConfigError(f"--recipe must be {' or '.join(RECIPES)}, not {name!r}")
    return RECIPES[name]


def configs(name: str, model: dict | None = None, train: dict | None = None) -> tuple[ModelConfig, TrainConfig]:
    """The recipe's (ModelConfig, TrainConfig) with the given fields changed (None values are ignored:
    an option the user did not give keeps the recipe's value)."""
    base = recipe(name)

    def changed(config, values):
        values = {k: v for k, v in (values or {}).items() if v is not None}
        unknown = set(values) - {f.name for f in fields(config)}
        if unknown:
            raise ConfigError(f"not a setting of {type(config).__name__}: {', '.join(sorted(unknown))}")
        return replace(config, **values)

    return changed(base.model, model), changed(base.train, train)


def with_inference(model, inference: Inference):
    """The model with the recipe's fixed inference terms (the element-contact term is fitted, not set)."""
    model.set_prior_overlap_cap(inference.prior_overlap_cap)
    model.set_pose_prior_weight(inference.pose_prior_weight)
    model.set_overlap_wall(inference.overlap_wall)
    model.set_correction_fade(inference.correction_fade, inference.correction_floor)
    return model
