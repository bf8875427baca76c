"""The synthetic demo: generators, the quick training pipeline and the shipped files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from segattack_gui.assets import resource_root
from segattack_gui.core.architectures import PaddedUNet
from segattack_gui.demo import DEMOS, train_demo_models
from segattack_gui.demo.catalog import (DEMO_SAMPLE, HELDOUT_STREAM, SHARE_TOLERANCE, TARGET_CHANGED_SHARE,
                                        changed_share, pick_target, sample_seed, size_change, structure_iou,
                                        write_class_png)
from segattack_gui.demo.synthetic import KINDS, generate_fundus, generate_skin
from segattack_gui.demo.training import dice_per_class, write_demo_inputs

SIDECAR_KEYS = [
    "description", "classes", "colors", "mean", "std", "input_size", "output",
    "architecture", "architecture_args", "heldout_dice", "training",
]  # fmt: skip
TRAINING_KEYS = {"seed", "images", "epochs", "seconds", "torch", "command"}


def _read_classes(path) -> np.ndarray:
    image = Image.open(path)
    assert image.mode == "P"
    return np.array(image)


# --------------------------------------------------------------------------- generators


@pytest.mark.parametrize("generate", [generate_fundus, generate_skin])
def test_generators_are_deterministic_for_a_seed(generate):
    first_image, first_labels = generate([0, 7, 3])
    again_image, again_labels = generate([0, 7, 3])
    other_image, other_labels = generate([0, 7, 4])
    assert np.array_equal(first_image, again_image) and np.array_equal(first_labels, again_labels)
    assert not np.array_equal(first_image, other_image)
    assert not np.array_equal(first_labels, other_labels)


@pytest.mark.parametrize("seed", range(4))
def test_fundus_sample_shapes_classes_and_appearance(seed):
    image, labels = generate_fundus([5, seed])
    assert image.shape == (256, 256, 3) and image.dtype == np.uint8
    assert labels.shape == (256, 256) and labels.dtype == np.uint8
    assert set(np.unique(labels)) == {0, 1, 2}
    # the cup lies inside the disc: every cup pixel's 4-neighbours are cup or rim
    cup = labels == 2
    inner = np.zeros_like(cup)
    inner[1:-1, 1:-1] = cup[1:-1, 1:-1]
    for axis, shift in ((0, 1), (0, -1), (1, 1), (1, -1)):
        assert np.all(np.roll(labels, shift, axis)[inner] > 0)
    # a reddish retina; the disc is brighter than the retina, the cup's tissue brighter than
    # the rim's (upper percentiles: the vessels leaving the cup are dark)
    brightness = image.astype(float).mean(axis=2)
    retina = (labels == 0) & (brightness > 10)  # inside the field of view
    assert np.median(image[retina][:, 0]) > np.median(image[retina][:, 2]) + 40
    assert np.median(brightness[labels == 1]) > np.median(brightness[retina]) + 30
    assert np.percentile(brightness[labels == 2], 80) > np.percentile(brightness[labels == 1], 80) + 5


@pytest.mark.parametrize("seed", range(4))
def test_skin_sample_shapes_classes_and_appearance(seed):
    image, labels = generate_skin([5, seed])
    assert image.shape == (256, 256, 3) and image.dtype == np.uint8
    assert labels.shape == (256, 256) and labels.dtype == np.uint8
    assert set(np.unique(labels)) == {0, 1}
    assert 0.04 < (labels == 1).mean() < 0.5
    brightness = image.astype(float).mean(axis=2)
    assert brightness[labels == 1].mean() < brightness[labels == 0].mean() - 25


@pytest.mark.parametrize("name", ["fundus", "skin"])
def test_labels_only_matches_the_rendered_sample(name):
    kind = KINDS[name]
    assert np.array_equal(kind.labels_only([1, 2, 3]), kind.generate([1, 2, 3])[1])


def test_dice_per_class_against_hand_made_masks():
    truth = np.zeros((4, 4), np.uint8)
    truth[:2, :2] = 1  # 4 pixels of class 1
    prediction = np.zeros_like(truth)
    prediction[:2, :1] = 1  # 2 of them
    prediction[3, 3] = 2  # class 2 predicted, absent in the truth
    scores = dice_per_class(prediction, truth, ["bg", "a", "b"])
    assert scores["a"] == pytest.approx(2 * 2 / (2 + 4), abs=1e-4)
    assert scores["b"] == 0.0
    assert scores["mean"] == pytest.approx((4 / 6 + 0) / 2, abs=1e-4)


def test_class_png_keeps_ids_and_palette(tmp_path):
    labels = np.array([[0, 1], [2, 1]], np.uint8)
    write_class_png(tmp_path / "m.png", labels, KINDS["fundus"].colors)
    image = Image.open(tmp_path / "m.png")
    assert image.mode == "P"
    assert np.array_equal(np.array(image), labels)
    assert image.getpalette()[:9] == [0, 0, 0, 255, 200, 0, 0, 160, 255]


# --------------------------------------------------------------------------- quick training


@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("demo")
    messages = []
    results = train_demo_models(out_dir, quick=True, progress=lambda text, fraction: messages.append(fraction))
    return out_dir, results, messages


def test_quick_training_writes_every_file_with_the_sidecar_schema(quick_demo):
    out_dir, results, fractions = quick_demo
    assert set(results) == {"fundus", "skin"}
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert (out_dir / "README.md").read_text().count("|") > 10
    for name, files in DEMOS.items():
        for field in ("model", "sidecar", "image", "truth", "target"):
            assert files.path(field, out_dir).is_file(), (name, field)
        sidecar = json.loads(files.path("sidecar", out_dir).read_text())
        assert list(sidecar) == SIDECAR_KEYS
        assert set(sidecar["training"]) == TRAINING_KEYS
        assert sidecar["architecture"] == "padded_unet" and sidecar["output"] == "logits"
        assert sidecar["input_size"] is None
        assert "NOT a clinical model" in sidecar["description"]
        assert sidecar["classes"] == KINDS[name].classes
        assert len(sidecar["colors"]) == len(sidecar["classes"])
        assert set(sidecar["heldout_dice"]) == set(sidecar["classes"][1:]) | {"mean"}
        model = PaddedUNet(**sidecar["architecture_args"])
        model.load_state_dict(torch.load(files.path("model", out_dir), weights_only=True))
        assert all(t.dtype == torch.float32 for t in model.state_dict().values() if t.is_floating_point())
        image = np.array(Image.open(files.path("image", out_dir)))
        assert image.shape == (256, 256, 3) and image.dtype == np.uint8
        truth = _read_classes(files.path("truth", out_dir))
        target = _read_classes(files.path("target", out_dir))
        assert truth.shape == target.shape == (256, 256)
        assert set(np.unique(target)) == set(range(len(sidecar["classes"])))
        assert changed_share(truth, target) == pytest.approx(TARGET_CHANGED_SHARE, abs=0.005)
        assert structure_iou(truth, target, len(sidecar["classes"])) < 0.9  # another structure, not this one


def test_training_refuses_an_unknown_demo(tmp_path):
    with pytest.raises(ValueError, match="unknown demo"):
        train_demo_models(tmp_path, which=("retina",), quick=True)
    assert not any(tmp_path.iterdir())


def test_demos_name_their_files_relative_to_resources():
    assert DEMOS["fundus"].model == "models/fundus_unet.pt"
    assert DEMOS["skin"].target == "masks/skin_demo_target.png"
    assert DEMOS["fundus"].path("image") == resource_root() / "images" / "fundus_demo.png"


# --------------------------------------------------------------------------- shipped files


def _shipped_prediction(name: str) -> tuple[np.ndarray, dict]:
    files = DEMOS[name]
    sidecar = json.loads(files.path("sidecar").read_text())
    model = PaddedUNet(**sidecar["architecture_args"])
    model.load_state_dict(torch.load(files.path("model"), weights_only=True))
    model.eval()
    image = np.array(Image.open(files.path("image")).convert("RGB"), np.float32) / 255.0
    normalised = (image - np.array(sidecar["mean"], np.float32)) / np.array(sidecar["std"], np.float32)
    with torch.no_grad():
        logits = model(torch.from_numpy(normalised).permute(2, 0, 1)[None])
    return logits.argmax(1)[0].numpy().astype(np.uint8), sidecar


@pytest.mark.parametrize("name", ["fundus", "skin"])
def test_shipped_model_segments_its_demo_image(name):
    prediction, sidecar = _shipped_prediction(name)
    truth = _read_classes(DEMOS[name].path("truth"))
    scores = dice_per_class(prediction, truth, sidecar["classes"])
    assert scores["mean"] >= 0.85, scores
    assert sidecar["heldout_dice"]["mean"] >= 0.9
    assert DEMOS[name].path("model").stat().st_size < 2_000_000


@pytest.mark.parametrize("name", ["fundus", "skin"])
def test_shipped_target_is_another_structure_where_this_one_is(name):
    truth = _read_classes(DEMOS[name].path("truth"))
    target = _read_classes(DEMOS[name].path("target"))
    classes = len(KINDS[name].classes)
    assert changed_share(truth, target) == pytest.approx(TARGET_CHANGED_SHARE, abs=0.001)  # the same task
    assert structure_iou(truth, target, classes) < 0.85  # clearly another structure
    assert set(np.unique(target)) == set(np.unique(truth))
    assert size_change(truth, target) > 0  # both demos ask the structure to grow (the cheaper direction)
    # placed where the image's own structure is (the paper's disc-centred crops): same centre
    assert np.allclose(np.argwhere(target > 0).mean(0), np.argwhere(truth > 0).mean(0), atol=3.0)


@pytest.mark.parametrize("name", ["fundus", "skin"])
def test_the_shipped_inputs_are_what_the_generator_writes(name, tmp_path):
    # image, truth and target are a pure function of the seeds and the rule: none was picked by hand
    write_demo_inputs(tmp_path, KINDS[name])
    for field in ("image", "truth", "target"):
        written, shipped = Image.open(DEMOS[name].path(field, tmp_path)), Image.open(DEMOS[name].path(field))
        assert np.array_equal(np.array(written), np.array(shipped)), field


def test_a_target_can_be_asked_to_grow_or_to_shrink_the_structure():
    kind = KINDS["skin"]
    host = sample_seed(HELDOUT_STREAM, DEMO_SAMPLE["skin"])
    truth = kind.labels_only(host)
    grown, _ = pick_target(kind, host, direction="grow")
    shrunk, _ = pick_target(kind, host, direction="shrink")
    assert size_change(truth, grown) > 0 > size_change(truth, shrunk)
    for target in (grown, shrunk):
        assert abs(changed_share(truth, target) - TARGET_CHANGED_SHARE) <= SHARE_TOLERANCE
    with pytest.raises(ValueError, match="direction"):
        pick_target(kind, host, direction="sideways")


def test_a_moved_structure_keeps_its_shape_and_goes_where_the_host_is():
    kind = KINDS["fundus"]
    host, other = [0, 1, DEMO_SAMPLE["fundus"]], [0, 2, 5]
    moved = kind.labels_moved(other, host)
    own = kind.labels_only(other)
    assert (moved == 1).sum() == pytest.approx((own == 1).sum(), rel=0.03)  # the same disc rim, moved
    assert (moved == 2).sum() == pytest.approx((own == 2).sum(), rel=0.03)
    host_disc = np.argwhere(kind.labels_only(host) > 0).mean(0)
    assert np.allclose(np.argwhere(moved > 0).mean(0), host_disc, atol=1.0)


# --------------------------------------------------------------------------- full retraining


@pytest.mark.slow
def test_full_retraining_reaches_and_reproduces_the_shipped_quality(tmp_path):
    # one thread, as the shipped models were trained (README): same seeds, same weights
    results = train_demo_models(tmp_path, num_threads=1, measure_speed=False)
    for name, result in results.items():
        dice = result["sidecar"]["heldout_dice"]
        assert dice["mean"] >= 0.9, (name, dice)
        assert all(dice[class_name] >= 0.88 for class_name in result["sidecar"]["classes"][1:]), (name, dice)
        shipped = json.loads(DEMOS[name].path("sidecar").read_text())["heldout_dice"]
        assert dice == pytest.approx(shipped, abs=0.02), (name, dice, shipped)
