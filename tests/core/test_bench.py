"""``segattack bench`` on a tiny model: every measurement runs and reports a rate (no timing asserts)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from segattack_gui import bench
from segattack_gui.cli import main
from segattack_gui.core.architectures import PaddedUNet
from segattack_gui.core.models import ModelSpec


def tiny_model(seed: int = 0) -> bench.BenchModel:
    image = np.random.default_rng(seed).uniform(0, 1, (16, 16, 3)).astype(np.float32)
    target = np.zeros((16, 16), np.int64)
    target[4:12, 4:12] = 1
    return bench.module_bench_model("tiny", "tiny U-Net", lambda: PaddedUNet(widths=(2, 4), num_classes=2),
                                    ModelSpec(), image, target, seed)


@pytest.fixture(scope="module")
def report() -> bench.BenchReport:
    return bench.run_bench(tiny_model(), torch.device("cpu"), precisions=["fp32"], iterations=2, batch_size=2,
                           rounds=2, warmup_iterations=1)


def test_every_measurement_reports_a_positive_rate(report):
    keys = {(m.measure, m.precision, m.batch) for m in report.measurements}
    assert keys == {("published", "fp32", 1), ("engine", "fp32", 1), ("floor", "fp32", 1),
                    ("engine", "fp32", 2), ("floor", "fp32", 2), ("snapshots", "fp32", 1)}
    for measurement in report.measurements:
        assert len(measurement.rates) == 2
        assert math.isfinite(measurement.rate) and measurement.rate > 0
        assert measurement.settings["device"] == "cpu" and measurement.settings["autocast"] == "off"
    assert report.find("snapshots", "fp32").snapshots >= 1  # at least the final snapshot reached the callback


def test_ratios_are_medians_of_per_round_ratios(report):
    (row,) = report.ratios()
    assert set(row) == {"precision", "engine_over_floor", "engine_over_floor_b2", "engine_over_published",
                        "engine_b2_over_engine_b1", "snapshots_over_engine"}
    engine, floor = report.find("engine", "fp32"), report.find("floor", "fp32")
    per_round = [e / f for e, f in zip(engine.rates, floor.rates)]
    assert row["engine_over_floor"] == pytest.approx(float(np.median(per_round)))
    batched, batched_floor = report.find("engine", "fp32", 2), report.find("floor", "fp32", 2)
    assert row["engine_over_floor_b2"] == pytest.approx(
        float(np.median([e / f for e, f in zip(batched.rates, batched_floor.rates)])))


def test_report_as_text_and_json(report):
    text = report.text()
    for measure in ("published", "engine", "floor", "snapshots"):
        assert measure in text
    assert torch.__version__ in text and "threads=" in text
    document = json.loads(json.dumps(report.as_dict()))
    assert document["torch"] == torch.__version__
    assert {m["measure"] for m in document["measurements"]} == {"published", "engine", "floor", "snapshots"}
    assert all(m["rate"] > 0 for m in document["measurements"])


def test_each_timer_runs_on_its_own():
    model = tiny_model()
    adapter = model.make_adapter(torch.device("cpu"), "fp32")
    assert bench.time_published(adapter, model.image, model.target, 2) > 0
    assert bench.time_engine(adapter, [model.image] * 2, [model.target] * 2, 2) > 0
    assert bench.time_floor(adapter, model.image, 3, 2) > 0
    assert not any(p.requires_grad for p in adapter.model.parameters())  # the published loop restored them


def test_precision_names_are_checked():
    assert bench.parse_precisions(None) is None
    assert bench.parse_precisions("all") is None
    assert bench.parse_precisions("FP32, bf16") == ["fp32", "bf16"]
    with pytest.raises(ValueError, match="fp16"):
        bench.parse_precisions("fp16")
    assert "fp32" in bench.available_precisions(torch.device("cpu"))
    with pytest.raises(ValueError, match="none of the precisions"):
        bench.run_bench(tiny_model(), torch.device("cpu"), precisions=["tf32"], iterations=1, rounds=1)


def test_cli_json_parses(monkeypatch, capsys):
    monkeypatch.setitem(bench.BENCH_MODELS, "demo", tiny_model)
    code = main(["bench", "--device", "cpu", "--model", "demo", "--precision", "fp32", "--iterations", "1",
                 "--rounds", "1", "--batch-size", "2", "--json", "--quiet"])
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert document["model"] == "tiny" and document["device"] == "cpu" and document["batch_size"] == 2
    assert document["ratios"][0]["precision"] == "fp32"
    assert any(note.startswith("host memory: ") for note in document["notes"])  # what malloc was told


def test_cli_table_and_bad_flags(monkeypatch, capsys):
    monkeypatch.setitem(bench.BENCH_MODELS, "demo", tiny_model)
    assert main(["bench", "--device", "cpu", "--precision", "fp32", "--iterations", "1", "--rounds", "1",
                 "--batch-size", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "engine/floor" in out and "image-it/s" not in out  # batch 1: no batched lines
    assert main(["bench", "--device", "cpu", "--precision", "fp16", "--quiet"]) == 2
    assert "--precision" in capsys.readouterr().err
    assert main(["bench", "--device", "cpu", "--iterations", "0", "--quiet"]) == 2


def test_cli_table_with_the_json_saved_beside_it(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(bench.BENCH_MODELS, "demo", tiny_model)
    saved = tmp_path / "bench.json"
    assert main(["bench", "--device", "cpu", "--precision", "fp32", "--iterations", "1", "--rounds", "1",
                 "--batch-size", "1", "--quiet", "--save-json", str(saved)]) == 0
    assert "engine/floor" in capsys.readouterr().out  # the table on stdout
    document = json.loads(saved.read_text())
    assert document["model"] == "tiny" and document["ratios"][0]["precision"] == "fp32"
    assert main(["bench", "--device", "cpu", "--precision", "fp32", "--iterations", "1", "--rounds", "1",
                 "--quiet", "--save-json", str(tmp_path / "missing" / "bench.json")]) == 2
    assert "missing/bench.json" in capsys.readouterr().err


# ------------------------------------------------------------------ adv-lib baseline
class StandInAsma:
    """Takes adv-lib's ``asma`` signature and cost shape (a forward and an input backward per step)."""

    def __init__(self):
        self.calls = []

    def __call__(self, model, inputs, labels, masks=None, targeted=False, num_steps=1000, **kwargs):
        self.calls.append({"inputs": tuple(inputs.shape), "labels": labels.clone(), "targeted": targeted,
                           "num_steps": num_steps})
        delta = torch.zeros_like(inputs, requires_grad=True)
        for _ in range(num_steps):
            logits = model(inputs + delta)
            loss = logits.gather(1, labels.unsqueeze(1)).sum()
            (gradient,) = torch.autograd.grad(loss, delta)
            delta.data.add_(gradient, alpha=1e-7)
        return inputs + delta.detach()


def install_stand_in_adv_lib(monkeypatch, asma) -> None:
    """``adv_lib.attacks.segmentation.asma`` importable for this test only."""
    import sys
    import types

    for name in ("adv_lib", "adv_lib.attacks", "adv_lib.attacks.segmentation"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    sys.modules["adv_lib.attacks.segmentation"].asma = asma


def test_adv_lib_is_timed_beside_the_engine_at_every_batch():
    asma = StandInAsma()
    report = bench.run_bench(tiny_model(), torch.device("cpu"), precisions=["fp32"], iterations=3, batch_size=2,
                             rounds=2, warmup_iterations=1, published=False, snapshots=False, adv_lib=asma)
    measured = {(m.measure, m.batch) for m in report.measurements}
    assert measured == {("engine", 1), ("floor", 1), ("adv-lib", 1), ("engine", 2), ("floor", 2), ("adv-lib", 2)}
    assert all(len(m.rates) == 2 and m.rate > 0 for m in report.measurements)
    # a warm-up and two timed runs per batch size, targeted, with the asked number of steps
    assert [(call["inputs"][0], call["num_steps"]) for call in asma.calls] == [(1, 1), (2, 1), (1, 3), (2, 3), (2, 3), (1, 3)]  # odd rounds backwards
    assert all(call["targeted"] for call in asma.calls)
    (row,) = report.ratios()
    engine, adv_lib = report.find("engine", "fp32", 2), report.find("adv-lib", "fp32", 2)
    assert row["engine_over_adv_lib_b2"] == pytest.approx(
        float(np.median([e / a for e, a in zip(engine.rates, adv_lib.rates)])))
    assert "engine/adv-lib" in report.text() and "engine/adv-lib b2" in report.text()
    assert sum("ahead of adv-lib" in check for check in report.target_checks()) == 2


def test_adv_lib_gets_the_target_on_the_output_grid():
    """A valid convolution shrinks 16 x 16 to 12 x 12: adv-lib's labels are the centred crop, as the engine's."""
    model = bench.module_bench_model("valid", "valid conv", lambda: torch.nn.Conv2d(3, 2, 5), ModelSpec(),
                                     tiny_model().image, tiny_model().target)
    adapter = model.make_adapter(torch.device("cpu"), "fp32")
    asma = StandInAsma()
    assert bench.time_adv_lib(asma, adapter, [model.image] * 2, [model.target] * 2, 2) > 0
    labels = asma.calls[0]["labels"]
    assert labels.shape == (2, 12, 12) and labels.dtype == torch.int64
    assert torch.equal(labels[1], torch.as_tensor(model.target[2:14, 2:14]))


def test_cli_times_adv_lib_when_installed_and_says_so_when_not(monkeypatch, capsys):
    from segattack_gui.bench import adv_lib

    monkeypatch.setitem(bench.BENCH_MODELS, "demo", tiny_model)
    flags = ["bench", "--device", "cpu", "--precision", "fp32", "--iterations", "1", "--rounds", "1",
             "--batch-size", "1", "--json", "--quiet"]
    monkeypatch.setattr(adv_lib, "import_module", lambda name: (_ for _ in ()).throw(ImportError("gone")))
    assert main(flags) == 0
    document = json.loads(capsys.readouterr().out)
    assert "adv-lib" not in {m["measure"] for m in document["measurements"]}
    assert any("scripts/adv_lib_env.sh" in note for note in document["notes"])

    monkeypatch.undo()
    monkeypatch.setitem(bench.BENCH_MODELS, "demo", tiny_model)
    install_stand_in_adv_lib(monkeypatch, StandInAsma())
    assert main(flags) == 0
    document = json.loads(capsys.readouterr().out)
    assert "adv-lib" in {m["measure"] for m in document["measurements"]}
    assert "engine_over_adv_lib" in document["ratios"][0]
    assert main(flags + ["--no-adv-lib"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert "adv-lib" not in {m["measure"] for m in document["measurements"]}
    assert any("--no-adv-lib" in note for note in document["notes"])


def test_the_bench_models_build_and_run():
    """Both demos (shipped, or a seeded stand-in) and the paper's U-Net at 572 give adapters that score their target."""
    for name in ("demo", "skin"):
        demo = bench.BENCH_MODELS[name](0)
        assert demo.name == name
        adapter = demo.make_adapter(torch.device("cpu"), "fp32")
        assert demo.image.shape[:2] == demo.target.shape and demo.image.dtype == np.float32
        assert bench.time_engine(adapter, [demo.image], [demo.target], 1) > 0
    unet = bench.unet_bench_model()
    assert unet.image.shape == (572, 572, 3) and unet.target.shape == (572, 572)
    assert unet.make_adapter(torch.device("cpu"), "fp32").output_grid(572, 572).height == 388


def test_the_demo_rate_target_names_the_demo():
    for name, demo in (("demo", "fundus"), ("skin", "skin"), ("tiny", None)):
        model = tiny_model()
        model = bench.BenchModel(name, model.description, model.make_adapter, model.image, model.target)
        report = bench.run_bench(model, torch.device("cpu"), precisions=["fp32"], iterations=1, batch_size=1,
                                 rounds=1, warmup_iterations=1, published=False, snapshots=False)
        lines = [line for line in report.target_checks() if "demo model" in line]
        if demo is None:
            assert lines == []  # not a demo: no demo-rate target
        else:
            assert len(lines) == 1 and f"on the {demo} demo model" in lines[0]


def test_emulated_bf16_is_left_out_by_default_and_said(monkeypatch):
    from segattack_gui.bench import environment
    from segattack_gui.core import models

    monkeypatch.setattr(environment, "_bf16_runs", lambda device: True)
    monkeypatch.setattr(models, "cpu_has_native_bf16", lambda: False)
    report = bench.run_bench(tiny_model(), torch.device("cpu"), iterations=1, batch_size=1, rounds=1,
                             warmup_iterations=1, published=False, snapshots=False)
    assert {m.precision for m in report.measurements} == {"fp32"}
    assert any("emulated" in note and "--precision fp32,bf16" in note for note in report.notes)
    monkeypatch.setattr(models, "cpu_has_native_bf16", lambda: True)
    report = bench.run_bench(tiny_model(), torch.device("cpu"), iterations=1, batch_size=1, rounds=1,
                             warmup_iterations=1, published=False, snapshots=False)
    assert {m.precision for m in report.measurements} == {"fp32", "bf16"} and not report.notes
