"""nnU-Net v2 trained-model folders and checkpoints, against nnU-Net's own predictor."""

import numpy as np
import pytest
import torch

from segattack_gui.core.nnunet_inference import ChannelNormalisation, window_starts
from segattack_gui.errors import SegAttackError
from segattack_gui.io.model_files import inspect_model_file, load_model

nnunetv2 = pytest.importorskip("nnunetv2", reason="nnU-Net tests need the nnunet extra (installed by .ci/run)")

from .nnunet_fixture import disc_image


@pytest.fixture
def trained_folder(nnunet_folder):
    return nnunet_folder


def _nnunet_prediction(folder, image: np.ndarray, folds) -> np.ndarray:
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

    predictor = nnUNetPredictor(tile_step_size=0.5, use_gaussian=True, use_mirroring=False,
                                device=torch.device("cpu"), verbose=False, allow_tqdm=False,
                                perform_everything_on_device=False)
    predictor.initialize_from_trained_model_folder(str(folder), use_folds=folds,
                                                   checkpoint_name="checkpoint_final.pth")
    raw = (image * 255).astype(np.float32)[None, None]  # (channels, 1 slice, H, W), as NaturalImage2DIO reads it
    return np.asarray(predictor.predict_single_npy_array(raw, {"spacing": [999.0, 1.0, 1.0]}))[0]


def _ours(loaded, image: np.ndarray) -> np.ndarray:
    return loaded.adapter.predict(loaded.adapter.to_device(image))[0].numpy()


def _dice(a: np.ndarray, b: np.ndarray, classes) -> float:
    """Mean Dice over the classes either map holds."""
    scores = [2 * np.sum((a == c) & (b == c)) / (np.sum(a == c) + np.sum(b == c))
              for c in classes if np.any(a == c) or np.any(b == c)]
    return float(np.mean(scores))


def test_a_trained_model_folder_agrees_with_nnunet_predictor(trained_folder):
    loaded = load_model(trained_folder, device="cpu")  # no consent: nnU-Net's own network, weights only
    assert loaded.kind == "nnunet"
    assert loaded.adapter.class_names == ("background", "disc", "core")
    image, labels = disc_image(777, 61, 75)  # larger than the 32 x 32 patch: overlapping tiles
    ours = _ours(loaded, image)
    theirs = _nnunet_prediction(trained_folder, image, (0, 1))
    assert ours.shape == theirs.shape == (61, 75)
    present = [c for c in (1, 2) if np.any(theirs == c)]
    assert present, "the tiny network found nothing: the comparison would be empty"
    assert _dice(ours, theirs, present) >= 0.98
    assert _dice(ours, labels, [1]) > 0.5  # it learned the disc


def test_one_fold_by_flag_and_one_checkpoint_file(trained_folder):
    image, _ = disc_image(778, 40, 52)
    one = load_model(trained_folder, device="cpu", fold=1)
    assert one.fold == 1 and len(one.adapter.model.networks) == 1
    assert _dice(_ours(one, image), _nnunet_prediction(trained_folder, image, (1,)), [0, 1, 2]) >= 0.98
    checkpoint = trained_folder / "fold_0" / "checkpoint_final.pth"
    assert inspect_model_file(checkpoint) == "nnunet"
    alone = load_model(checkpoint, device="cpu")
    assert _dice(_ours(alone, image), _nnunet_prediction(trained_folder, image, (0,)), [0, 1, 2]) >= 0.98
    with pytest.raises(SegAttackError, match="no fold_7"):
        load_model(trained_folder, device="cpu", fold=7)


def test_the_z_score_is_computed_on_the_image_being_attacked(trained_folder):
    """nnU-Net normalises each image by its own mean and std, so an affine change of the image must not
    change the logits; statistics frozen from another image would."""
    loaded = load_model(trained_folder, device="cpu", fold=0)
    image, _ = disc_image(779, 40, 40)
    tensor = loaded.adapter.to_device(image)
    logits = loaded.adapter.logits(tensor)
    assert torch.allclose(loaded.adapter.logits(0.5 * tensor + 0.2), logits, atol=1e-3)
    tensor.requires_grad_(True)
    loaded.adapter.logits(tensor)[:, 1].sum().backward()
    assert tensor.grad is not None and tensor.grad.abs().sum() > 0


def test_ct_normalisation_matches_nnunet():
    from nnunetv2.preprocessing.normalization.default_normalization_schemes import (
        CTNormalization,
    )

    properties = {"mean": 40.0, "std": 120.0, "percentile_00_5": -100.0, "percentile_99_5": 300.0}
    raw = torch.linspace(-500, 700, 64).view(8, 8)
    expected = CTNormalization(False, properties).run(raw.numpy()[None].copy())[0]
    ours = ChannelNormalisation("CTNormalization", False, -100.0, 300.0, 40.0, 120.0).apply(raw, raw != 0)
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-6)


def test_patch_starts_follow_nnunet():
    from nnunetv2.inference.sliding_window_prediction import (
        compute_steps_for_sliding_window,
    )

    for length, window in ((61, 32), (75, 32), (32, 32), (200, 48), (513, 128)):
        assert window_starts(length, window, 0.5) == compute_steps_for_sliding_window((length,), (window,), 0.5)[0]


def test_without_nnunet_installed_the_error_names_the_extra(trained_folder, monkeypatch):
    import importlib

    real = importlib.import_module

    def missing(name, *args):
        if name.startswith("nnunetv2"):
            raise ImportError("No module named 'nnunetv2'", name="nnunetv2")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", missing)
    with pytest.raises(SegAttackError, match=r'pip install "segattack\[nnunet\]"'):
        load_model(trained_folder, device="cpu")
