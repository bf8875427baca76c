"""Locate shipped resources both from an installed wheel and from a source checkout."""

from __future__ import annotations

import importlib.resources
from pathlib import Path


def resource_root() -> Path:
    """Folder holding models/, images/, masks/ and icons/.

    Installed, ``resources/`` is the package ``segattack_gui.resources``; run from a
    checkout without installing, it is the top-level ``resources/`` folder.
    """
    try:
        root = importlib.resources.files("segattack_gui.resources")
        return Path(str(root))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "resources"


def in_source_checkout() -> bool:
    """True when the resources are a checkout's top-level ``resources/`` (editable install or
    no install), False when they are files of an installed wheel, which nothing should rewrite."""
    return (resource_root().parent / "pyproject.toml").is_file()


def resource_path(*parts: str) -> Path:
    return resource_root().joinpath(*parts)
