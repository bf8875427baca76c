"""Random sequences of what a user does, with real mouse strokes, and what must hold after every step:

* a replacement of unsaved painting that cannot be undone (another image, a demo, a run folder)
  asked first, and a "cancel" changed nothing;
* the results pane names the run it shows, and Export writes that run, named after its image;
* every exported folder repeats: ``segattack rerun`` says ``identical``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from segattack_gui.cli import main as segattack
from tests.gui.conftest import CanvasMouse
from tests.gui.window_fixtures import wait_until_idle

ACTIONS = ("demo", "image", "run_folder", "paint_target", "paint_region", "run", "run_and_stop", "export")
REPLACING = {"demo", "image", "run_folder"}


class Session:
    """Drives one window; remembers what it exported and checks the rules after each step."""

    def __init__(self, qtbot, window, folder: Path, rng: random.Random):
        self.qtbot, self.window, self.folder, self.rng = qtbot, window, folder, rng
        self.exports: list[Path] = []
        self.log: list[str] = []
        pixels = (window.document.image.pixels * 255).round().astype(np.uint8)
        self.other_image = folder / "other size.png"
        Image.fromarray(cv2.resize(pixels, (192, 160), interpolation=cv2.INTER_AREA)).save(self.other_image)

    # ------------------------------------------------------------------ actions
    def step(self, action: str) -> None:
        window = self.window
        unsaved = list(window.document.unsaved_layers)
        asked_before = len(window.unsaved_question.asked)
        image_before = window.document.image_sha256
        answer = self.rng.choice(("discard", "discard", "cancel"))
        window.unsaved_question.answer = answer
        self.log.append(f"{action} (unsaved {unsaved}, answer {answer})")
        getattr(self, action)()
        wait_until_idle(self.qtbot, window)
        if action in REPLACING and (action != "run_folder" or self.exports):
            asked = window.unsaved_question.asked[asked_before:]
            assert asked == ([unsaved] if unsaved else []), self.log
            if unsaved and answer == "cancel":
                assert window.document.image_sha256 == image_before, self.log
        self.check_results_pane()

    def demo(self) -> None:
        self.window.open_demo(self.rng.choice(("fundus", "skin")))

    def image(self) -> None:
        self.window.open_image(self.other_image)

    def run_folder(self) -> None:
        if self.exports:
            self.window.open_run_folder(self.rng.choice(self.exports))

    def paint_target(self) -> None:
        self._stroke("target")

    def paint_region(self) -> None:
        self._stroke("region")

    def _stroke(self, layer: str) -> None:
        canvas = self.window.canvas
        height, width = self.window.document.image_shape
        canvas.set_active_layer(layer)
        canvas.set_tool("brush")
        canvas.set_brush_size(self.rng.randint(5, 25))
        if layer == "target":
            canvas.set_current_label(1)
        row = self.rng.randint(height // 4, 3 * height // 4)
        CanvasMouse(canvas).drag([(width // 5, row), (width // 2, row + 7), (4 * width // 5, row)])

    def run(self) -> None:
        window = self.window
        window.panel.apply_settings(iterations=2, stop_iou=None)
        if window.document.missing_inputs() is None:
            with self.qtbot.waitSignal(window.attack_finished, timeout=60_000):
                assert window.start_attack(), self.log

    def run_and_stop(self) -> None:
        window = self.window
        window.panel.apply_settings(iterations=5000, stop_iou=None)
        if window.document.missing_inputs() is None:
            with self.qtbot.waitSignal(window.document.snapshotAdded, timeout=60_000):
                assert window.start_attack(), self.log
            with self.qtbot.waitSignal(window.attack_finished, timeout=60_000):
                window.stop_attack()

    def export(self) -> None:
        window, run = self.window, self.window.document.run
        if run is None or run.result is None:
            return
        with self.qtbot.waitSignal(window.export_finished, timeout=60_000) as exported:
            window.choose_export_parent(self.folder)
        folder = Path(exported.args[0])
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["image_sha256"] == run.inputs.image_sha256, self.log  # the run's image, not the window's
        assert summary["model_sha256"] == run.inputs.model_sha256, self.log
        assert folder.name.startswith(Path(run.image_name).stem.replace(" ", "_")), self.log
        assert (folder / "region.png").exists() == (run.region is not None), self.log
        self.exports.append(folder)

    # ------------------------------------------------------------------ rules
    def check_results_pane(self) -> None:
        window, run = self.window, self.window.document.run
        caption = window.run_caption.text()
        if run is None:
            assert caption.startswith("No run yet"), self.log
            return
        assert f"{run.method} on {run.image_name}" in caption, self.log
        differs = window.document.run_differences()
        assert ("now holds" in caption) == bool(differs), self.log

    def check_exports_repeat(self, capsys) -> None:
        for folder in self.exports:
            capsys.readouterr()
            assert segattack(["rerun", str(folder), "--quiet"]) == 0, (folder, self.log)
            assert "reproduced: identical" in capsys.readouterr().out, (folder, self.log)


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_random_user_sequences_keep_work_and_evidence_straight(qtbot, window, tmp_path, capsys, seed):
    rng = random.Random(seed)
    session = Session(qtbot, window, tmp_path, rng)
    steps = [rng.choice(ACTIONS) for _ in range(9)]
    steps += ["paint_target", "paint_region", "run", "export", "demo", "export"]  # every rule at least once
    for action in steps:
        session.step(action)
    assert session.exports, session.log
    session.check_exports_repeat(capsys)
    print("\n".join(session.log))
