"""The wheel holds every package of the source tree: pyproject.toml lists them by name."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib

REPOSITORY = Path(__file__).resolve().parents[2]


def test_every_package_in_the_tree_is_listed_for_the_wheel():
    pyproject = REPOSITORY / "pyproject.toml"
    if not pyproject.is_file():
        pytest.skip("not a source checkout")
    listed = set(tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["packages"])
    in_tree = {".".join(init.parent.relative_to(REPOSITORY).parts)
               for init in (REPOSITORY / "segattack_gui").rglob("__init__.py")}
    assert in_tree - listed == set(), "packages missing from pyproject.toml: a wheel would leave them out"
    assert "segattack_gui.resources" in listed  # mapped from the top-level resources/


def test_every_shipped_resource_is_named_in_the_package_data():
    """What the app needs at start (models, sidecars, images, masks, the icon) must be in the wheel."""
    import fnmatch

    pyproject = REPOSITORY / "pyproject.toml"
    if not pyproject.is_file():
        pytest.skip("not a source checkout")
    patterns = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-data"]["segattack_gui.resources"]
    shipped = [path.relative_to(REPOSITORY / "resources").as_posix()
               for path in (REPOSITORY / "resources").rglob("*") if path.is_file()
               and path.suffix not in (".py", ".pyc") and path.name != "README.md"]
    assert "icons/segattack.png" in shipped
    left_out = [name for name in shipped if not any(fnmatch.fnmatch(name, pattern) for pattern in patterns)]
    assert left_out == []
