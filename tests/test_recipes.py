"""Each shipped model's recipe (dockscore.training.recipes) is what its checkpoint was made with:
the training settings and architecture its metrics JSON recorded, and the inference terms its
checkpoint carries (issue 28: the recipe lived in five places that disagreed)."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
from typer.testing import CliRunner

from dockscore.checkpoint import MODELS_DIR, load_model
from dockscore.cli import app
from dockscore.errors import ConfigError
from dockscore.training.recipes import RECIPES, configs

NOT_RECIPE = {"seed", "time_budget_s", "score_offset"}  # per run, or fitted to the data


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_the_recipe_is_what_the_shipped_model_was_made_with(name):
    recipe = RECIPES[name]
    report = json.loads((MODELS_DIR / f"{recipe.name}.metrics.json").read_text())
    trained = asdict(recipe.train)
    assert {k: trained[k] for k in report["train_config"] if k not in NOT_RECIPE} == \
        {k: v for k, v in report["train_config"].items() if k not in NOT_RECIPE}
    architecture = asdict(recipe.model)
    recorded = report["trained_model_config"]
    assert {k: architecture[k] for k in recorded if k not in NOT_RECIPE and k in architecture} == \
        {k: v for k, v in recorded.items() if k not in NOT_RECIPE and k in architecture}
    shipped = load_model(MODELS_DIR / f"{recipe.name}.safetensors").config
    inference = recipe.inference
    assert (shipped.prior_overlap_cap, shipped.pose_prior_weight, shipped.overlap_wall, shipped.element_contact_cutoff,
            shipped.correction_fade, shipped.correction_floor) == \
        (inference.prior_overlap_cap, inference.pose_prior_weight, inference.overlap_wall, inference.element_contacts,
         inference.correction_fade, inference.correction_floor)
    assert [m["seed"] for m in report["members"]] == list(recipe.seeds)


def test_options_change_one_setting_each_and_unknown_ones_are_refused():
    model, train = configs("se3", train={"epochs": 3, "lr": None})
    assert (model.symmetry, train.epochs, train.lr, train.mirror_weight) == ("se3", 3, 1e-3, 1.0)
    with pytest.raises(ConfigError, match="not a setting of TrainConfig: learning_rate"):
        configs("e3", train={"learning_rate": 1.0})
    with pytest.raises(ConfigError, match="--recipe must be e3 or se3"):
        configs("e4")


def test_a_wrong_choice_is_one_line_and_no_traceback(tmp_path):
    for args, said in ((["train", "--recipe", "e4", "--out", str(tmp_path)], "error: --recipe must be e3 or se3, not 'e4'"),
                       (["train", "--cv-folds", "0", "--out", str(tmp_path)], "error: --cv-folds needs --cv K"),
                       (["train", "--cv", "5", "--cv-folds", "1,7", "--out", str(tmp_path)], "error: --cv-folds must name folds 0 to 4, not '1,7'"),
                       (["score", "p.pdb", "l.sdf", "--symmetry", "e2"], "error: --symmetry must be e3 or se3, not 'e2'"),
                       (["score", "p.pdb", "l.sdf", "--device", "gpu"], "error: --device must be cpu or cuda[:N], not 'gpu'"),
                       (["enantiomers", "p.pdb", "l.sdf", "--protocol", "mirror"], "error: --protocol must be anchored or symmetric, not 'mirror'")):
        result = CliRunner().invoke(app, args)
        assert result.exit_code in (1, 2) and said in result.output and "Traceback" not in result.output, (args, result.output)


def test_a_retired_option_is_read_when_off_and_refused_when_on(tmp_path):
    """typed_contacts left with issue 28: the shipped se3 checkpoint names it (False) and still loads."""
    from dockscore.checkpoint import _current_options
    from dockscore.errors import InputError

    assert _current_options({"symmetry": "se3", "typed_contacts": False}, tmp_path) == {"symmetry": "se3"}
    with pytest.raises(InputError, match="typed_contacts, an option this dockscore no longer has"):
        _current_options({"typed_contacts": True}, tmp_path / "old.safetensors")
