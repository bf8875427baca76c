"""Export the document's last run to a folder (docs/design.md, Run folders) off the GUI thread.

The files are exactly the CLI's (``io.export.export_run``, atomic: a temporary folder
renamed at the end), plus ``iterations.gif`` from the frames the GUI kept. Writing PNGs,
arrays and a GIF takes seconds for large images, so it runs as a background job; the
run record is only read, and nothing in it changes once the run has finished.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from ...errors import SegAttackError
from ...io.export import export_run
from ...io.source_outputs import source_outputs
from ..background import JobFailed, TaskQueue
from ...io.figures import GifFrame
from ...io.heatmaps import HeatmapStyle
from ..document import RunRecord

GIF_FRAMES = 80

log = logging.getLogger(__name__)


def default_run_folder(parent: Path, record: RunRecord) -> Path:
    """``<parent>/<the run's image>-<method>-<date>-<time of the run>``, numbered if it exists already.

    Named after the run's own inputs, never the window's: the image may have changed since."""
    stem = re.sub(r"[^\w.-]+", "_", Path(record.image_name).stem) or "run"
    base = f"{stem}-{record.method}-{time.strftime('%Y%m%d-%H%M%S', time.localtime(record.started_at))}"
    candidate = Path(parent) / base
    number = 2
    while candidate.exists():
        candidate = Path(parent) / f"{base}-{number}"
        number += 1
    return candidate


class RunExporter(QObject):
    """Queue exports; ``exported(path)`` or ``failed(message)`` when each is done."""

    exported = Signal(str)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.tasks = TaskQueue("export", self)

    @property
    def busy(self) -> bool:
        return self.tasks.busy

    def export(self, record: RunRecord, folder: Path, heatmap: HeatmapStyle = HeatmapStyle(), image=None,
               adapter=None) -> None:
        """Write ``record``'s run (never the window's current inputs) to ``folder``; the heatmap drawn
        as ``heatmap`` says (the view's mode and amplification). ``image`` and ``adapter``: the run's own
        image and model (the caller checks they are), for what the image's format adds (raw norms; for
        DICOM/NIfTI the adversarial file read back and scored, see source_outputs.py)."""
        if record.result is None:
            raise SegAttackError(None, "there is no finished run to export yet")
        result, provenance, colors, store = record.result, record.provenance_to_export(), record.colors, record.store
        display_target = record.display_target
        folder = Path(folder)

        def prepare():
            frames = store.frames

            def job():
                gif = [GifFrame(frame.iteration, frame.adversarial, frame.prediction, frame.metrics.get("iou"))
                       for frame in _spread(frames, GIF_FRAMES)]
                finished, files = (result, {}) if image is None else source_outputs(result, image, adapter)
                return export_run(finished, folder, provenance, colors, frames=gif or None, heatmap=heatmap,
                                  frames_target=display_target, extra_files=files)

            return job

        def done(path) -> None:  # in the GUI thread: the record learns where it went
            record.exported_to.append(str(path))
            self.exported.emit(str(path))

        self.tasks.submit("export", prepare, done, self._on_failed)

    def _on_failed(self, failure: JobFailed) -> None:
        self.failed.emit(failure.one_line("export failed ({error}); nothing was written"))

    def shutdown(self) -> None:
        """Let a running export finish (it is atomic either way): a half-written run is never left."""
        self.tasks.shutdown(timeout_ms=60_000)


def _spread(items: list, count: int) -> list:
    if len(items) <= count:
        return list(items)
    step = (len(items) - 1) / (count - 1)
    return [items[round(index * step)] for index in range(count)]
