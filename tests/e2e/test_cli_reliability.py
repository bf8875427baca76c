"""``segattack`` against the audit's hostile inputs: bad output folders are refused before any work,
parse errors are one line, ambiguous batch folders are refused, and huge images warn nothing."""

from __future__ import annotations

import errno
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segattack_gui.cli import attach_negative_values, build_parser, main
from segattack_gui.cli.batch import make_pairs
from segattack_gui.errors import SegAttackError
from segattack_gui.io import files as file_io
from segattack_gui.io.files import require_writable_folder
from segattack_gui.io.images import decode_image_file

from .conftest import write_case_dataset
from .test_robust_cli import RGBThreshold, one_error_line, pickled

PROC = Path("/proc")  # on Linux: a folder where nothing can be created, even by root


@pytest.fixture
def no_work(monkeypatch):
    """Loading a model or the attack inputs fails the test: the check must come first."""
    def refuse(*args, **kwargs):
        raise AssertionError("started loading before the output folder was checked")

    monkeypatch.setattr("segattack_gui.io.inputs.load_attack_inputs", refuse)
    monkeypatch.setattr("segattack_gui.io.model_files.load_model", refuse)


@pytest.fixture
def dataset(tmp_path):
    return write_case_dataset(tmp_path, count=2, size=24, seed=1, row_step=5, row_height=8, columns=(4, 18))


def attack_args(files, out, *extra):
    return ["attack", "--model", str(files["torchscript"]), "--image", str(files["image"]),
            "--target", str(files["target"]), "--out", str(out), "--quiet", *extra]


def batch_args(model, dataset, out, *extra):
    images, masks = dataset
    return ["batch", "--model", str(model), "--images", str(images), "--masks", str(masks), "--methods", "asma",
            "--iterations", "5", "--out", str(out), "--quiet", *extra]


def universal_args(files, dataset, out, *extra):
    return ["universal", "--model", str(files["torchscript"]), "--images", str(dataset[0]),
            "--target", str(dataset[1] / "case0.png"), "--iterations", "3", "--out", str(out), "--quiet", *extra]


def unwritable_outs(tmp_path) -> dict[str, tuple[Path, str]]:
    """--out values no run can be written to, with the start of the one error line each gives."""
    regular = tmp_path / "notes.txt"
    regular.write_text("kept")
    outs = {"under a file": (regular / "run", f"{regular}: is a file, not a folder, so {regular / 'run'} "
                                              "cannot be created")}
    if PROC.is_dir():
        outs["in /proc"] = (PROC / "segattack-test", f"{PROC}: cannot write here (")
    return outs


# --- the output folder is checked before any work (D2, D4, D10) ------------------------------------


@pytest.mark.parametrize("case", ["under a file", "in /proc"])
@pytest.mark.parametrize("command", ["attack", "batch", "universal"])
def test_unwritable_out_is_refused_before_any_work(files, dataset, tmp_path, capsys, no_work, command, case):
    outs = unwritable_outs(tmp_path)
    if case not in outs:
        pytest.skip("needs /proc")
    out, expected = outs[case]
    before = sorted(tmp_path.rglob("*"))
    argv = {"attack": attack_args(files, out), "batch": batch_args(files["torchscript"], dataset, out),
            "universal": universal_args(files, dataset, out)}[command]
    assert main(argv) == 2
    assert one_error_line(capsys).startswith(f"segattack: error: {expected}")
    assert sorted(tmp_path.rglob("*")) == before and (tmp_path / "notes.txt").read_text() == "kept"


def test_batch_out_that_is_a_file_is_refused_before_any_work(files, dataset, tmp_path, capsys, no_work):
    out = tmp_path / "experiment.txt"
    out.write_text("kept")
    assert main(batch_args(files["torchscript"], dataset, out)) == 2
    assert one_error_line(capsys) == f"segattack: error: {out}: is a file, not a folder"
    assert out.read_text() == "kept"


@pytest.mark.parametrize("command", ["attack", "batch", "universal"])
def test_out_name_too_long_is_one_line(files, dataset, tmp_path, capsys, no_work, command):
    out = tmp_path / ("x" * 300) / "run"
    argv = {"attack": attack_args(files, out), "batch": batch_args(files["torchscript"], dataset, out),
            "universal": universal_args(files, dataset, out)}[command]
    assert main(argv) == 2
    error = one_error_line(capsys)
    assert error.startswith(f"segattack: error: {tmp_path / ('x' * 300)}") and "(File name too long)" in error


def test_write_probe_leaves_nothing_behind(tmp_path):
    require_writable_folder(tmp_path / "new" / "run")
    require_writable_folder(tmp_path)
    assert list(tmp_path.iterdir()) == []


# --- batch: the tables and the folders it made (D4) ------------------------------------------------


def test_full_disk_while_writing_the_tables_keeps_the_old_table(files, dataset, tmp_path, capsys, monkeypatch):
    out = tmp_path / "experiment"
    assert main(batch_args(files["torchscript"], dataset, out)) == 0
    old_table = (out / "table.csv").read_bytes()
    capsys.readouterr()

    class FullDisk:
        """A file on a full disk: created empty, every write refused."""

        def __init__(self, path, mode):
            self.handle = open(path, mode)

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

    monkeypatch.setattr(file_io, "open", FullDisk, raising=False)
    assert main(batch_args(files["torchscript"], dataset, out)) == 2  # resumes: only the tables are written
    assert one_error_line(capsys) == (f"segattack: error: {out / 'table.csv'}: cannot write the file "
                                      "(No space left on device)")
    assert (out / "table.csv").read_bytes() == old_table
    assert sorted(p.name for p in out.iterdir()) == ["asma", "table.csv", "table.md"]


class FailsOnWideImages(RGBThreshold):
    """Fits every image (its size probes pass) but raises a few calls into attacking one 32 pixels wide."""

    def __init__(self):
        super().__init__()
        self.wide_calls = 0

    def forward(self, x):
        if x.shape[-1] == 32:
            self.wide_calls += 1
            if self.wide_calls > 3:
                raise ValueError("bad state")
        return super().forward(x)


def wide_and_narrow(folder: Path, wide: str) -> tuple[Path, Path]:
    """``images/{a,b}.png`` and their 0/255 masks; the one named ``wide`` is 24x32, the other 24x24."""
    images, masks = folder / "images", folder / "masks"
    images.mkdir(), masks.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        width = 32 if name == wide else 24
        Image.fromarray((rng.uniform(0.35, 0.48, (24, width, 3)) * 255).round().astype(np.uint8)).save(
            images / f"{name}.png")
        mask = np.zeros((24, width), np.uint8)
        mask[6:18, 4:20] = 255
        Image.fromarray(mask).save(masks / f"{name}.png")
    return images, masks


@pytest.mark.parametrize("wide", ["a", "b"])
def test_batch_model_failure_leaves_no_empty_folders(tmp_path, capsys, wide):
    model = pickled(FailsOnWideImages(), tmp_path)
    out = tmp_path / "new" / "experiment"
    argv = batch_args(model, wide_and_narrow(tmp_path, wide), out, "--trust-model", "--iterations", "20",
                      "--pairing", "same-name")
    assert main(argv) == 2
    error = one_error_line(capsys)
    assert error.startswith(f"segattack: error: {model}: the model raised ValueError at iteration ")
    if wide == "a":  # the first run failed: nothing at all is left
        assert error.endswith("; nothing was written")
        assert not (tmp_path / "new").exists()
    else:  # a finished and stays, for the batch to resume from
        assert error.endswith(f"; the finished runs in {out} are kept; run again to resume")
        assert sorted(p.name for p in (out / "asma").iterdir()) == ["a"]


# --- batch folders: hidden files and ambiguous names (D15) -----------------------------------------


def test_hidden_files_are_not_data(dataset):
    images, masks = dataset
    (images / "._case0.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (masks / "._case1.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    pairs = make_pairs(images, masks, None, "same-name", seed=0)
    assert [(p.image.name, p.target.name) for p in pairs] == [("case0.png", "case0.png"), ("case1.png", "case1.png")]


def test_two_masks_with_one_name_are_refused_before_any_work(files, dataset, tmp_path, capsys, no_work):
    images, masks = dataset
    Image.open(masks / "case1.png").save(masks / "case1.tif")
    assert main(batch_args(files["torchscript"], dataset, tmp_path / "experiment")) == 2
    assert one_error_line(capsys) == (f"segattack: error: {masks}: has two masks for case1.png: case1.png and "
                                      "case1.tif; keep one")
    assert not (tmp_path / "experiment").exists()


def test_two_images_with_one_name_are_refused(dataset):
    images, masks = dataset
    shutil.copy(images / "case0.png", images / "case0.bmp")
    with pytest.raises(SegAttackError, match="case0.bmp and case0.png would share the run folder case0"):
        make_pairs(images, masks, None, "same-name", seed=0)


# --- arguments (D7, D12, D14) ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["300", "-5", "255"])
@pytest.mark.parametrize("command", ["attack", "batch", "universal"])
def test_mask_threshold_out_of_range_is_one_line(files, dataset, tmp_path, capsys, no_work, command, value):
    out = tmp_path / "run"
    argv = {"attack": attack_args(files, out), "batch": batch_args(files["torchscript"], dataset, out),
            "universal": universal_args(files, dataset, out)}[command] + ["--mask-threshold", value]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert one_error_line(capsys) == (f"segattack: error: --mask-threshold: must be a grey level from 0 to 254, "
                                      f"got {int(value)} (see segattack {command} --help)")
    assert not out.exists()


def test_mask_threshold_range_ends_are_accepted():
    for value in ("0", "254"):
        arguments = build_parser().parse_args(["attack", "--demo", "fundus", "--out", "x", "--mask-threshold", value])
        assert arguments.mask_threshold == int(value)


@pytest.mark.parametrize("flag", ["--model", "--image", "--target"])
def test_demo_conflicts_with_own_inputs(files, tmp_path, capsys, no_work, flag):
    out = tmp_path / "run"
    assert main(["attack", "--demo", "fundus", flag, str(files["image"]), "--out", str(out), "--quiet"]) == 2
    assert one_error_line(capsys) == (f"segattack: error: {flag}: cannot be combined with --demo "
                                      "(the demo brings its own)")
    assert not out.exists()


@pytest.mark.parametrize("argv, line", [
    (["attack", "--demo", "fundus", "--out", "x", "--iterations", "abc"],
     "--iterations: invalid int value: 'abc' (see segattack attack --help)"),
    (["batch", "--model", "m.pt"],
     "the following arguments are required: --images, --out (see segattack batch --help)"),
    (["attack", "--demo", "fundus", "--out", "x", "--no-such-flag"],
     "unrecognized arguments: --no-such-flag (see segattack attack --help)"),
    ([], "the following arguments are required: command (see segattack --help)"),
])
def test_parse_errors_are_one_line(capsys, argv, line):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.err == f"segattack: error: {line}\n" and captured.out == ""


@pytest.mark.parametrize("value, line", [
    ("-inf", "--beta: must be a finite number, not -inf"),
    ("-1e-3", "--beta: must be >= 0.0, not -0.001"),
])
def test_negative_values_reach_the_parameter_check(tmp_path, capsys, no_work, value, line):
    assert main(["attack", "--demo", "fundus", "--beta", value, "--out", str(tmp_path / "run"), "--quiet"]) == 2
    assert one_error_line(capsys) == f"segattack: error: {line}"


def test_attach_negative_values_only_joins_numbers_after_a_flag():
    assert attach_negative_values(["--beta", "-inf", "--tau", "-1e-3", "--quiet"]) == \
        ["--beta=-inf", "--tau=-1e-3", "--quiet"]
    assert attach_negative_values(["--out", "-run"]) == ["--out", "-run"]  # not a number: argparse decides
    assert attach_negative_values(["--beta=1", "-2"]) == ["--beta=1", "-2"]
    assert attach_negative_values(["--", "-2"]) == ["--", "-2"]


def test_help_is_still_the_full_usage(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["attack", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: segattack attack") and "--mask-threshold N" in text and "0-254" in text


@pytest.mark.parametrize("command", ["attack", "batch", "universal"])
def test_help_gives_every_option_a_meaning_and_its_default(capsys, command):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--device", "--precision", "--iterations", "--epsilon"):
        assert f"{option} " in text
    assert "(default auto)" in text and "(default fp32)" in text
    if command != "universal":
        assert "(default 0.5/255; dag)" in text and "(default 1e-06; asma)" in text  # readable, and who reads it
    else:
        assert "(default 10/255)" in text


def test_budgets_may_be_written_in_8bit_steps(files, tmp_path):
    out = tmp_path / "run"
    assert main(["attack", "--model", str(files["torchscript"]), "--image", str(files["image"]), "--target",
                 str(files["target"]), "--method", "pgd", "--epsilon", "8/255", "--iterations", "2", "--quiet",
                 "--out", str(out)]) == 0
    assert json.loads((out / "summary.json").read_text())["config"]["epsilon"] == 8 / 255


def test_the_exported_png_keeps_a_budget_between_two_8bit_levels(files, tmp_path):
    out = tmp_path / "run"
    assert main(["attack", "--model", str(files["torchscript"]), "--image", str(files["image"]), "--target",
                 str(files["target"]), "--method", "pgd", "--epsilon", "0.05", "--alpha", "0.01",
                 "--iterations", "20", "--quiet", "--out", str(out)]) == 0
    png = np.asarray(Image.open(out / "adversarial.png"), np.float64)
    original = np.asarray(Image.open(files["image"]), np.float64)
    assert np.abs(png - original).max() / 255 <= 0.05  # plain rounding gave 13/255 = 0.05098
    assert json.loads((out / "summary.json").read_text())["final_quantized"]["linf"] <= 0.05 + 1e-6


# --- huge images: our own one line, no Pillow warning (D13) ----------------------------------------


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height but holds almost no data: Pillow reads the size from IHDR."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    pixels = zlib.compress(b"\0" * 16)  # far too few for the size: never decoded, the size check comes first
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def test_huge_image_gives_our_line_and_no_pillow_warning(files, tmp_path, capsys, recwarn):
    huge = tmp_path / "huge.png"
    huge.write_bytes(png_header_only(12000, 12000))  # 144 Mpx: above Pillow's warning level of ~89 Mpx
    with pytest.raises(SegAttackError, match="more than the limit of 64,000,000"):
        decode_image_file(huge, huge.read_bytes())
    argv = attack_args(files, tmp_path / "run")
    argv[argv.index("--image") + 1] = str(huge)
    assert main(argv) == 2
    assert one_error_line(capsys) == (f"segattack: error: {huge}: image is 12000x12000 = 144,000,000 pixels, "
                                      "more than the limit of 64,000,000")
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]


def test_batch_method_errors_name_the_batch_flag(files, dataset, tmp_path, capsys, no_work):
    images, masks = dataset
    common = ["batch", "--model", str(files["torchscript"]), "--images", str(images), "--masks", str(masks),
              "--out", str(tmp_path / "out")]
    assert main([*common, "--methods", "ssm,foo"]) == 2
    assert capsys.readouterr().err.startswith("segattack: error: --methods: unknown method 'foo'")
    assert main([*common, "--methods", "pgd", "--tau", "1e-3"]) == 2
    assert capsys.readouterr().err.strip() == "segattack: error: --tau: pgd takes no such parameter"


def test_a_bad_batch_input_leaves_stderr_one_line(files, dataset, tmp_path, capsys):
    images, masks = dataset
    (masks / sorted(p.name for p in masks.iterdir())[1]).unlink()
    assert main(["batch", "--model", str(files["torchscript"]), "--images", str(images), "--masks", str(masks),
                 "--iterations", "2", "--out", str(tmp_path / "out")]) == 2  # no --quiet: the bar is on
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_demo_never_overwrites_the_shipped_models_by_accident(tmp_path, capsys, monkeypatch):
    from segattack_gui import assets

    shipped = assets.resource_path("models", "fundus_unet.pt")
    before = shipped.read_bytes() if shipped.exists() else None
    assert main(["demo", "--quick", "--quiet"]) == 2
    assert capsys.readouterr().err.startswith("segattack: error: --quick: trains throw-away models: pass --out DIR")
    monkeypatch.setattr(assets, "in_source_checkout", lambda: False)  # as from an installed wheel
    assert main(["demo", "--quiet"]) == 2
    assert "--out: is required: the shipped demo models belong to the installed package" in capsys.readouterr().err
    if before is not None:
        assert shipped.read_bytes() == before


def test_a_reader_that_goes_away_gets_no_traceback(tmp_path):
    """`segattack ... | head` closes the pipe early: the command ends quietly, as Unix tools do."""
    code = ("import sys; from segattack_gui.cli import main; "
            f"sys.exit(main(['attack', '--demo', 'fundus', '--iterations', '1', '--quiet', '--out', r'{tmp_path / 'run'}']))")
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        process.stdout.close()  # nobody reads what it prints
        stderr = process.stderr.read().decode()
        assert process.wait(timeout=120) == 1
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr
