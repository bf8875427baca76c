"""Shared test set-up: Qt runs offscreen unless the caller chose a platform (QT_QPA_PLATFORM=xcb to watch)."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest


@pytest.fixture(scope="session")
def nnunet_folder(tmp_path_factory):
    """A tiny two-fold nnU-Net v2 trained-model folder, built once per test session (tests/core/nnunet_fixture.py)."""
    pytest.importorskip("nnunetv2", reason="nnU-Net tests need the nnunet extra (installed by .ci/run)")
    from tests.core.nnunet_fixture import make_trained_model_folder

    return make_trained_model_folder(tmp_path_factory.mktemp("nnunet") / "Dataset999_Discs" / "nnUNetTrainer__2d")
