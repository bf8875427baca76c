"""``--tau auto`` on the command line: recorded as "auto" and as the value used; a rerun repeats it."""

from __future__ import annotations

import json

import pytest

from segattack_gui.cli import main


def _attack(files, out, *extra):
    return main(["attack", "--model", str(files["torchscript"]), "--image", str(files["image"]),
                 "--target", str(files["target"]), "--out", str(out), "--quiet", *extra])


def test_tau_auto_records_the_rule_and_the_values_and_reruns(files, tmp_path, capsys):
    out = tmp_path / "run"
    assert _attack(files, out, "--tau", "auto", "--first-step", "2/255", "--iterations", "5") == 0
    summary = json.loads((out / "summary.json").read_text())
    rule, config = summary["step_size"], summary["config"]
    assert rule["tau"] == "auto" and rule["first_step"] == 2 / 255
    assert config["tau"] == rule["tau_used"] > 0 and config["beta"] == rule["beta_used"] == 10 * config["tau"]
    # the rule's promise, read from the exported arrays: the first step moved no pixel more than 2/255
    # (the recorded history's L-inf of iterate 1), and some pixel by exactly that
    linf = [float(row.split(",")[5]) for row in (out / "metrics.csv").read_text().splitlines()[1:]]
    assert abs(linf[1] - 2 / 255) < 1e-6
    capsys.readouterr()
    assert main(["rerun", str(out), "--quiet"]) == 0
    assert "reproduced" in capsys.readouterr().out


def test_tau_auto_conflicts_are_one_line(files, tmp_path, capsys):
    assert _attack(files, tmp_path / "a", "--tau", "auto", "--beta", "1e-6") == 2
    assert "--beta" in capsys.readouterr().err
    with pytest.raises(SystemExit) as raised:  # argparse's own exit for a value of the wrong kind
        _attack(files, tmp_path / "b", "--tau", "soon")
    assert raised.value.code == 2
    assert "--tau: invalid number: 'soon' (a number or auto)" in capsys.readouterr().err
    assert _attack(files, tmp_path / "c", "--method", "pgd", "--tau", "auto") == 2
    assert "--tau" in capsys.readouterr().err
    assert not any((tmp_path / name).exists() for name in "abc")


def test_batch_picks_the_same_tau_as_attack_for_the_same_image(files, tmp_path, capsys):
    images, targets = files["folder"] / "images", files["folder"] / "targets"
    images.mkdir()
    targets.mkdir()
    (images / "image.png").write_bytes(files["image"].read_bytes())
    (targets / "image.png").write_bytes(files["target"].read_bytes())
    assert main(["batch", "--model", str(files["torchscript"]), "--images", str(images), "--targets", str(targets),
                 "--methods", "asma", "--tau", "auto", "--iterations", "5", "--out", str(tmp_path / "batch"),
                 "--quiet"]) == 0
    assert _attack(files, tmp_path / "single", "--tau", "auto", "--iterations", "5") == 0
    batch = json.loads((tmp_path / "batch" / "asma" / "image" / "summary.json").read_text())["step_size"]
    single = json.loads((tmp_path / "single" / "summary.json").read_text())["step_size"]
    assert batch == single