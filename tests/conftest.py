"""Shared test set-up: Qt runs offscreen unless the caller chose a platform (QT_QPA_PLATFORM=xcb to watch)."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
