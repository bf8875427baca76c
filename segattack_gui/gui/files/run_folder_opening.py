"""Open an exported run folder in the window: its model, image, target, region and settings, to run
it again or to vary it (what ``segattack rerun`` repeats headless).

The files load in the background, in order, through the window's loader; a last job, queued behind
them, compares what the window then holds with the SHA-256 the run recorded, since a Run repeats the
run's numbers only with the files it used.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import SegAttackError
from ...io.run_folders import read_run_folder, recorded_attack, recorded_file


def open_run_folder(window, folder) -> None:
    """Load the run at ``folder`` into ``window`` (unsaved painting is asked about first)."""
    try:
        record = read_run_folder(Path(folder))
        recorded_attack(record)  # its settings must make an attack: a hand-edited summary may not
        inputs = {key: recorded_file(record, key, "open it by hand") for key in ("model_path", "image_path")}
    except SegAttackError as error:
        window.report_error(error.one_line())
        return
    if not window.mask_files.settle_before_replacing("Opening a run folder"):  # its masks replace these
        return
    summary = record.summary
    window.open_model(inputs["model_path"])
    recorded_slice = summary.get("image_slice") or {}  # the DICOM frame or NIfTI slice it attacked
    window.loader.open_image(inputs["image_path"], slice_index=recorded_slice.get("index"),
                             axis=recorded_slice.get("axis"))
    window.open_target(record.target_file)
    if record.region_file is not None:
        window.open_region(record.region_file)
    else:
        window.document.replace_region(None)  # that run could change every pixel
    if summary.get("model_overrides"):  # e.g. the tiles chosen for a large image
        window.loader.apply_model_overrides(summary["model_overrides"])
    window.panel.apply_settings(summary["method"], **summary["config"])
    window.panel.set_precision(summary.get("precision", "fp32"))
    # Queued behind the loads: then the document holds what was opened (or what a failed load left).
    window.loader.submit("check the run's files", lambda: (lambda: None),
                         lambda _: warn_if_not_the_recorded_files(window, summary))
    window.remember_recent("run", str(record.folder))
    stopped = (f"; it was stopped at iteration {summary['iterations_run']}: press Stop there, or "
               "`segattack rerun` repeats it exactly" if record.stopped_by_user else "")
    window.status.show_message(f"Opening the run in {record.folder}: {summary['method']}, "
                               f"{summary['iterations_run']} iterations recorded{stopped}")


def warn_if_not_the_recorded_files(window, summary: dict) -> None:
    """A Run repeats an opened run only with the files it recorded; say so when they are others."""
    model, image = window.document.model, window.document.image
    differing = [f"{path}: is not the {what} the run used (its SHA-256 differs)"
                 for what, path, now, key in (
                     ("model", model and model.path, model and model.sha256, "model_sha256"),
                     ("model's sidecar", model and model.sidecar_path, model and model.sidecar_sha256,
                      "sidecar_sha256"),
                     ("image", image and image.path, image and image.sha256, "image_sha256"))
                 if key in summary and summary[key] != now]
    if differing:
        window.report_error(f"{differing[0]}; a Run will not repeat its numbers")
