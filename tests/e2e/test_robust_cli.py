"""``segattack`` under unusual inputs and faults: it works, or says why in one line and writes nothing."""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from segattack_gui.cli import main
from segattack_gui.io import export
from segattack_gui.io import files as file_io
from tests.core.tiny_models import ThresholdModel

from .test_cli_attack import RUN_FOLDER_FILES


def attack(model, image, target, out, *extra):
    return main(["attack", "--model", str(model), "--image", str(image), "--target", str(target),
                 "--out", str(out), "--quiet", *extra])


def one_error_line(capsys) -> str:
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0, error
    return error


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- models that misbehave (module level, so pickles of them load with --trust-model) -----------


class RGBThreshold(torch.nn.Module):
    def forward(self, x):
        gap = 30 * (x.mean(1, keepdim=True) - 0.5)
        return torch.cat([-gap, gap], 1)


class RaisesOnCall(RGBThreshold):
    """Forward call ``fail_at`` raises ``error`` (without a sidecar: call 1 counts the classes, call 2
    is the size probe, call 3 evaluates iterate 0)."""

    def __init__(self, fail_at: int, error: Exception):
        super().__init__()
        self.calls = 0
        self.fail_at = fail_at
        self.error = error

    def forward(self, x):
        self.calls += 1
        if self.calls == self.fail_at:
            raise self.error
        return super().forward(x)


class AlwaysNaN(RGBThreshold):
    def forward(self, x):
        return super().forward(x) * float("nan")


class NaNWhenBright(RGBThreshold):
    """Logits turn NaN once the attack has brightened some pixel past a level."""

    def forward(self, x):
        logits = super().forward(x)
        return logits * float("nan") if float(x.detach().max()) > 0.53 else logits


def pickled(model, folder, name="model.pt"):
    path = folder / name
    torch.save(model, path)
    return path


# --- inputs ---------------------------------------------------------------------------------------


def test_non_ascii_and_space_paths_end_to_end(files, tmp_path, capsys):
    folder = tmp_path / "Ordner mit Leerzeichen" / "бумаги"
    folder.mkdir(parents=True)
    model = folder / "модель v1.ts"
    shutil.copy(files["torchscript"], model)
    (folder / "модель v1.json").write_text(files["torchscript"].with_suffix(".json").read_text())
    image, target = folder / "Bild 1 – Auge ü.png", folder / "Ziel (ö) 目标.png"
    shutil.copy(files["image"], image)
    shutil.copy(files["target"], target)
    out = folder / "Ergebnis 結果"
    assert attack(model, image, target, out, "--iterations", "5", "--gif") == 0
    assert RUN_FOLDER_FILES | {"iterations.gif"} <= set(leftovers(out))
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["image_path"] == str(image) and summary["model_path"] == str(model)
    assert str(out) in capsys.readouterr().out


def test_non_ascii_paths_through_a_real_process(files, tmp_path):
    """argv and stdout encodings of a separate process, in a C locale (Python then uses UTF-8)."""
    folder = tmp_path / "Ordner mit Leerzeichen" / "бумаги"
    folder.mkdir(parents=True)
    for key in ("torchscript", "image", "target"):
        shutil.copy(files[key], folder / ("ü " + files[key].name))
    shutil.copy(files["torchscript"].with_suffix(".json"), folder / "ü threshold.json")
    out = folder / "вывод"
    completed = subprocess.run(
        [sys.executable, "-m", "segattack_gui.cli", "attack", "--model", str(folder / "ü threshold.ts"),
         "--image", str(folder / "ü image.png"), "--target", str(folder / "ü target.png"), "--out", str(out),
         "--iterations", "3", "--quiet"],
        capture_output=True, timeout=300, env={**os.environ, "LC_ALL": "C", "LANG": "C"},
    )
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")
    assert RUN_FOLDER_FILES <= set(leftovers(out))
    assert str(out) in completed.stdout.decode("utf-8")


def _grey(rng):
    return Image.fromarray((rng.uniform(0.35, 0.48, (32, 40)) * 255).round().astype(np.uint8)), ".png"


def _rgba(rng):
    pixels = (rng.uniform(0.35, 0.48, (32, 40, 4)) * 255).round().astype(np.uint8)
    pixels[..., 3] = 200
    return Image.fromarray(pixels, "RGBA"), ".png"


def _grey16(rng):
    return (rng.uniform(0.35, 0.48, (32, 40)) * 65535).round().astype(np.uint16), ".png"


def _float_rgb_tiff(rng):
    return rng.uniform(0.35, 0.48, (32, 40, 3)).astype(np.float32), ".tif"


def _exif_rotated_jpeg(rng):
    stored = Image.fromarray((rng.uniform(0.35, 0.48, (40, 32, 3)) * 255).round().astype(np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: the viewer rotates 90° clockwise, giving 32 x 40
    return (stored, exif), ".jpg"


@pytest.mark.parametrize("make, channels, words", [
    (_grey, 1, "8-bit greyscale PNG scaled by 1/255"),
    (_rgba, 3, "8-bit RGBA PNG scaled by 1/255; alpha dropped (composited on black)"),
    (_grey16, 1, "16-bit greyscale PNG scaled by 1/65535"),
    (_float_rgb_tiff, 3, "32-bit float RGB TIFF already in [0, 1], kept"),
    (_exif_rotated_jpeg, 3, "EXIF orientation 6 applied (rotated 90° clockwise)"),
])
def test_image_conversion_is_recorded_in_the_summary(files, tmp_path, make, channels, words):
    picture, suffix = make(np.random.default_rng(0))
    path = tmp_path / f"picture{suffix}"
    if isinstance(picture, tuple):
        picture[0].save(path, exif=picture[1])
    elif isinstance(picture, Image.Image):
        picture.save(path)
    else:
        data = picture if picture.ndim == 2 else picture[..., ::-1]  # OpenCV writes BGR
        assert cv2.imwrite(str(path), data)
    out = tmp_path / "run"
    assert attack(files["torchscript"], path, files["target"], out, "--iterations", "3") == 0
    summary = json.loads((out / "summary.json").read_text())
    assert words in summary["image_conversion"]
    assert np.load(out / "adversarial.npy").shape == (32, 40, channels)


def test_image_larger_than_the_model_input(files, tmp_path, capsys):
    """Pad policy: a one-line error that says what to do. Resize and tile policies: the attack runs end to end."""
    sidecar = files["torchscript"].with_suffix(".json")
    sidecar.write_text(json.dumps({"classes": ["background", "lesion"], "input_size": [16, 20]}))
    assert attack(files["torchscript"], files["image"], files["target"], tmp_path / "padded", "--iterations", "3") == 2
    error = one_error_line(capsys)
    assert error.startswith(f"segattack: error: {files['torchscript']}: the image (32x40, height x width) is larger than the model "
                            "input (16x20)")
    assert "crop or downscale the image to at most 16x20" in error and '"input_policy": "resize"' in error
    assert '"input_policy": "tile"' in error
    assert not (tmp_path / "padded").exists()

    for policy in ("resize", "tile"):
        sidecar.write_text(json.dumps({"classes": ["background", "lesion"], "input_size": [16, 20],
                                       "input_policy": policy}))
        out = tmp_path / policy
        assert attack(files["torchscript"], files["image"], files["target"], out, "--iterations", "100",
                      "--tau", "2e-4", "--beta", "2e-3") == 0
        summary = json.loads((out / "summary.json").read_text())
        assert summary["output_grid"] == {"top": 0, "left": 0, "height": 32, "width": 40}
        assert np.load(out / "adversarial.npy").shape == (32, 40, 3)
        assert np.asarray(Image.open(out / "adversarial.png")).shape[:2] == (32, 40)
        assert np.asarray(Image.open(out / "prediction_adversarial.png")).shape == (32, 40)
        # the gradient reaches every pixel through the resize (both directions) or through every window
        assert summary["final"]["iou"] > 0.8


# --- faults ---------------------------------------------------------------------------------------


def test_nan_gradient_still_exports_with_the_error_recorded(files, tmp_path, capsys):
    model = pickled(NaNWhenBright(), tmp_path)
    out = tmp_path / "run"
    assert attack(model, files["image"], files["target"], out, "--iterations", "200", "--tau", "2e-4",
                  "--beta", "2e-3", "--trust-model") == 0
    assert RUN_FOLDER_FILES <= set(leftovers(out))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stop_reason"] == "non-finite"
    assert f"iteration {summary['iterations_run']}" in summary["error"]
    assert 0 < summary["iterations_run"] < 200
    assert np.isfinite(np.load(out / "adversarial.npy")).all()
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("segattack: warning: ")]
    assert warnings == [f"segattack: warning: {summary['error']}"]


def test_a_model_that_is_nan_from_the_start_is_an_error(files, tmp_path, capsys):
    """No finite iterate to keep: metrics of argmax(NaN) would only mislead."""
    model = pickled(AlwaysNaN(), tmp_path)
    out = tmp_path / "runs" / "run"
    assert attack(model, files["image"], files["target"], out, "--iterations", "20", "--trust-model") == 2
    assert one_error_line(capsys) == (f"segattack: error: {model}: the model's output or its gradient is NaN or "
                                      "infinite on the clean image: nothing to attack; nothing was written")
    assert not (tmp_path / "runs").exists()


def test_model_that_raises_mid_run_writes_nothing(files, tmp_path, capsys):
    model = pickled(RaisesOnCall(fail_at=9, error=RuntimeError("illegal memory access\nsecond line")), tmp_path)
    out = tmp_path / "runs" / "run"
    assert attack(model, files["image"], files["target"], out, "--iterations", "50", "--trust-model") == 2
    error = one_error_line(capsys)
    # Call 1 counts the classes (no sidecar names them), call 2 probes the image size, and
    # call k + 3 is the forward pass of iteration k: call 9 is iteration 6's.
    assert error == (f"segattack: error: {model}: the model raised RuntimeError at iteration 6 "
                     "(illegal memory access); nothing was written")
    assert not (tmp_path / "runs").exists()


def test_batch_names_the_model_when_it_raises(files, tmp_path, capsys):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir(), masks.mkdir()
    for name in ("a", "b"):
        shutil.copy(files["image"], images / f"{name}.png")
        shutil.copy(files["target"], masks / f"{name}.png")
    model = pickled(RaisesOnCall(fail_at=12, error=ValueError("bad state")), tmp_path)
    code = main(["batch", "--model", str(model), "--images", str(images), "--masks", str(masks), "--methods", "asma",
                 "--iterations", "20", "--out", str(tmp_path / "experiment"), "--quiet", "--trust-model"])
    assert code == 2
    assert one_error_line(capsys).startswith(f"segattack: error: {model}: the model raised ValueError at iteration ")
    assert not any(p.name.startswith(".segattack-tmp") for p in (tmp_path / "experiment").rglob("*"))


def test_out_of_memory_moves_the_attack_to_the_cpu(files, tmp_path, capsys):
    oom = torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
    model = pickled(RaisesOnCall(fail_at=5, error=oom), tmp_path)  # mid-run, on iterate 3
    out = tmp_path / "run"
    assert attack(model, files["image"], files["target"], out, "--iterations", "10", "--trust-model") == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["device"] == "cpu" and summary["iterations_run"] == 10 and summary["error"] is None
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("segattack: warning:")]
    assert len(warnings) == 1 and "out of memory" in warnings[0] and "continuing on the CPU" in warnings[0]


def test_full_disk_during_export(files, tmp_path, capsys, monkeypatch):
    def full(path, *args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(export, "_write_metrics_csv", full)
    out = tmp_path / "run"
    assert attack(files["torchscript"], files["image"], files["target"], out, "--iterations", "3") == 2
    assert one_error_line(capsys) == (f"segattack: error: {out}: export failed, nothing was written "
                                      "(No space left on device)")
    assert leftovers(tmp_path) == ["inputs"]


def test_read_only_output_folder(files, tmp_path, capsys, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    if os.geteuid() == 0:  # root ignores permissions (CI runs as root): simulate the OS's refusal
        def refuse(*args, **kwargs):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        monkeypatch.setattr(file_io.tempfile, "mkdtemp", refuse)
    else:
        locked.chmod(0o555)
    try:
        assert attack(files["torchscript"], files["image"], files["target"], locked / "run", "--iterations", "3") == 2
    finally:
        locked.chmod(0o755)
    assert one_error_line(capsys) == (f"segattack: error: {locked}: cannot write here (Permission denied); "
                                      "nothing was written")
    assert leftovers(locked) == []


# --- security -------------------------------------------------------------------------------------


class Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_malicious_pickle_does_not_run_without_trust_model(files, tmp_path, capsys):
    marker = tmp_path / "pwned"
    model = tmp_path / "model.pt"
    torch.save({"model": ThresholdModel(), "hook": Payload(marker)}, model)
    out = tmp_path / "run"
    assert attack(model, files["image"], files["target"], out, "--iterations", "2") == 2
    assert "--trust-model" in one_error_line(capsys)
    assert not marker.exists() and not out.exists()


def test_a_full_attack_makes_no_network_access(files, tmp_path, monkeypatch):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    for key in ("state_dict", "torchscript"):
        assert attack(files[key], files["image"], files["target"], tmp_path / key, "--iterations", "5", "--gif") == 0
    assert attempts == []
