"""Autosave the painted target and region, and offer them back after a crash (docs/design.md, Target masks and the canvas).

Every edit (a stroke, a transform, a predicted target) schedules a save a few seconds
later; the save itself (``io.autosave``: compressed, atomic) runs off the GUI thread.
Each window keeps its own slot, guarded by a ``QLockFile`` that lives as long as the
window: a slot whose lock nobody holds was left by a window that did not close, i.e. a
crash or a kill. At start the newest such slot is offered for restore; a clean close
removes the window's own slot, so nothing is offered after a normal exit.
"""

from __future__ import annotations

import datetime
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QLockFile, QObject, QStandardPaths, QTimer, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

from ...errors import SegAttackError
from ...io.autosave import AutosaveRecord, MaskAutosave, saved_slots, slot_name
from ..background import JobFailed, TaskQueue
from ..document import AttackDocument
from ..files.loading import DocumentLoader

log = logging.getLogger(__name__)

SAVE_DELAY_MS = 2000
RESTORED_ORIGIN = "restored from autosave"


def default_autosave_folder() -> Path:
    """``<the application's data folder>/autosave`` (e.g. ``~/.local/share/SegAttack/SegAttack``)."""
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppLocalDataLocation)
    return Path(location) / "autosave"


def _lock_path(slot: Path) -> str:
    return str(slot.with_suffix(".lock"))


@dataclass
class OrphanedSlot:
    """A slot a crashed window left behind; its lock is held while the user decides."""

    path: Path
    record: AutosaveRecord
    lock: QLockFile

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)
        self.lock.unlock()


def find_orphaned_slots(folder: Path, own: Path) -> list[OrphanedSlot]:
    """Slots in ``folder`` whose window is gone, newest first (unreadable ones are removed)."""
    orphans = []
    for path in saved_slots(folder):
        if path == own:
            continue
        lock = QLockFile(_lock_path(path))
        lock.setStaleLockTime(0)  # only a dead owner makes a lock stale, never its age
        if not lock.tryLock(0):
            continue  # another window is open and owns it
        record = MaskAutosave(folder, path.name).load()
        if record is None:
            log.info("removing an unreadable autosave %s", path)
            path.unlink(missing_ok=True)
            lock.unlock()
            continue
        orphans.append(OrphanedSlot(path, record, lock))
    return orphans


class MaskAutosaver(QObject):
    """Keeps the document's painted masks in this window's autosave slot."""

    saved = Signal(str)  # the slot's path, after each write
    restored = Signal()

    def __init__(self, document: AttackDocument, loader: DocumentLoader, folder: Path | None = None,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.document = document
        self.loader = loader
        self.folder = Path(folder) if folder is not None else default_autosave_folder()
        self.store = MaskAutosave(self.folder, slot_name(str(os.getpid())))
        self.tasks = TaskQueue("autosave", self)
        self.dialog: QMessageBox | None = None
        self._offered: OrphanedSlot | None = None
        self._lock = self._claim_slot()
        self._timer = QTimer(self)
        self._timer.setObjectName("autosaveTimer")
        self._timer.setSingleShot(True)
        self._timer.setInterval(SAVE_DELAY_MS)
        self._timer.timeout.connect(self.save_now)
        for signal in (document.targetChanged, document.regionChanged, document.imageChanged,
                       document.modelChanged):
            signal.connect(self.schedule)

    @property
    def path(self) -> Path:
        return self.store.path

    def _claim_slot(self) -> QLockFile | None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            log.warning("autosave is off: cannot create %s (%s)", self.folder, error)
            return None
        lock = QLockFile(_lock_path(self.store.path))
        lock.setStaleLockTime(0)
        if not lock.tryLock(0):
            log.warning("autosave is off: %s is locked by another process", lock.fileName())
            return None
        return lock

    # ------------------------------------------------------------------ saving
    @Slot()
    def schedule(self) -> None:
        """Save a little after the last edit (strokes come in bursts)."""
        if self._lock is not None:
            self._timer.start()

    @Slot()
    def save_now(self) -> None:
        """Write the current masks (off the GUI thread), or drop the slot when nothing needs keeping."""
        self._timer.stop()
        if self._lock is None:
            return
        document = self.document
        if not document.masks_worth_keeping:
            self.tasks.submit("drop autosave", lambda: self.store.clear, lambda _: None, self._report)
            return
        target = document.target.copy()
        region = np.ones(target.shape, bool) if document.region is None else document.region.copy()
        image_path = str(document.image.path)
        model_path = str(document.model.path) if document.model is not None else None
        sha256 = document.image_sha256 or ""

        def job():
            self.store.save(target, region, sha256, image_path=image_path, model_path=model_path)
            return str(self.store.path)

        self.tasks.submit("autosave", lambda: job, self.saved.emit, self._report)

    def _report(self, failure: JobFailed) -> None:
        log.warning("autosave failed (the masks are still in the window): %s", failure.error)

    def shutdown(self) -> None:
        """A clean close: finish a running write, then remove this window's slot and its lock."""
        self._timer.stop()
        self.tasks.shutdown()
        offered, self._offered = self._offered, None
        if offered is not None:  # undecided: leave it for the next start
            offered.lock.unlock()
        if self.dialog is not None:
            self.dialog.close()
        if self._lock is not None:
            self.store.clear()
            self._lock.unlock()
            self._lock = None

    # ------------------------------------------------------------------ restoring
    def offer_restore(self, parent: QWidget) -> bool:
        """Ask (without blocking) whether to restore what a crashed window left; False if nothing."""
        orphans = find_orphaned_slots(self.folder, self.store.path)
        if not orphans:
            return False
        newest, older = orphans[0], orphans[1:]
        for orphan in older:  # one question per start: the older ones are offered at the next starts
            orphan.lock.unlock()
        self._offered = newest
        record = newest.record
        when = datetime.datetime.fromtimestamp(record.saved_at).strftime("%Y-%m-%d %H:%M")
        image = Path(record.image_path).name if record.image_path else "an image"
        self.dialog = QMessageBox(QMessageBox.Icon.Question, "Restore painted masks?",
                                  f"SegAttack did not close properly last time. Restore the target and "
                                  f"region painted on {image} (saved {when})?",
                                  QMessageBox.StandardButton.NoButton, parent)
        self.dialog.setObjectName("restoreDialog")
        self.dialog.addButton("Restore", QMessageBox.ButtonRole.AcceptRole).setObjectName("restoreButton")
        # Destructive, not Reject: Esc or closing the dialog must not throw the masks away.
        self.dialog.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole).setObjectName("discardButton")
        self.dialog.finished.connect(self._on_answer)
        self.dialog.open()
        return True

    @Slot(int)
    def _on_answer(self, _code: int) -> None:
        dialog, orphan, self._offered = self.dialog, self._offered, None
        if orphan is None or dialog is None:
            return
        clicked = dialog.clickedButton()
        answer = clicked.objectName() if clicked is not None else ""
        if answer == "restoreButton":
            self.restore(orphan.record)  # this window's own slot takes the masks over
            orphan.discard()
        elif answer == "discardButton":
            orphan.discard()
        else:  # dismissed without an answer: ask again at the next start
            orphan.lock.unlock()

    def restore(self, record: AutosaveRecord) -> None:
        """Reopen the record's image (and model) unless they are open, then put the masks back.

        The loads and the restore go through the loader's queue, in order, so the masks land
        on the image they were painted on; a changed or missing image file is reported, and
        the masks are not applied to another image.
        """
        document = self.document

        def reopen():
            """In the queue's turn (after the loads already asked for, e.g. the demo's)."""
            open_path = document.image.path.resolve() if document.image is not None else None
            same_file = bool(record.image_path) and Path(record.image_path).resolve() == open_path
            if document.image_sha256 != record.image_sha256 and not same_file:  # a changed file is refused below
                if not record.image_path or not Path(record.image_path).is_file():
                    where = record.image_path or "the autosaved masks"
                    raise SegAttackError(where, "the image the masks were painted on is missing; "
                                                "they were not restored")
                self.loader.open_image(record.image_path)
            if record.model_path and (document.model is None or str(document.model.path) != record.model_path):
                if Path(record.model_path).exists():
                    self.loader.open_model(record.model_path)
            self.loader.submit("restore autosaved masks", prepare, done)
            return None

        def prepare():
            if document.image_sha256 != record.image_sha256:
                path = record.image_path or "the image"
                raise SegAttackError(path, "has changed since the masks were painted on it (SHA-256 differs); "
                                           "the autosaved masks were not restored")
            if document.image_shape != record.target.shape:
                raise SegAttackError(record.image_path, "is not the size the masks were painted at")
            return lambda: None

        def done(_) -> None:
            region = None if bool(record.region.all()) else record.region
            num_classes = len(document.class_names)
            target = np.where(record.target < num_classes, record.target, 0).astype(np.uint8)
            document.replace_target(target, RESTORED_ORIGIN)
            document.replace_region(region, origin=RESTORED_ORIGIN)
            self.restored.emit()

        self.loader.submit("reopen the autosaved masks' image", reopen, lambda _: None)
