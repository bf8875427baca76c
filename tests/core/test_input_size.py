"""Large images: the choices offered, and a chosen override checked as the sidecar's own fields."""

from __future__ import annotations

import pytest

from segattack_gui.core.models import ModelSpec
from segattack_gui.errors import SegAttackError
from segattack_gui.io.model_files import spec_with_overrides
from segattack_gui.workspace.input_size import LARGE_SIDE, size_choices


def test_a_fixed_input_model_is_offered_tiles_or_resize_only_when_the_image_is_larger():
    spec = ModelSpec(input_size=(572, 572))
    assert size_choices(spec, 572, 572) == []
    choices = size_choices(spec, 1000, 600)
    assert [choice.overrides for choice in choices] == [{"input_policy": "tile"}, {"input_policy": "resize"}]
    assert size_choices(ModelSpec(input_size=(572, 572), input_policy="tile"), 1000, 600) == []


def test_a_fully_convolutional_model_is_offered_tiles_for_a_very_large_image():
    assert size_choices(ModelSpec(), LARGE_SIDE, LARGE_SIDE) == []
    choices = size_choices(ModelSpec(), 2048, 2048)
    assert choices[0].overrides == {"input_size": [512, 512], "input_policy": "tile"}
    assert "512x512 tiles" in choices[0].words


def test_overrides_are_checked_like_the_sidecar():
    spec = spec_with_overrides(ModelSpec(), {"input_size": [128, 96], "input_policy": "tile"})
    assert spec.input_size == (128, 96) and spec.input_policy == "tile"
    with pytest.raises(SegAttackError, match="input_policy"):
        spec_with_overrides(ModelSpec(), {"input_policy": "stretch"})
