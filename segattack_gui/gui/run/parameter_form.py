"""A form generated from an attack's configuration dataclass.

Every method's config is a frozen dataclass whose fields carry ``help``, ``minimum``,
``maximum`` and ``choices`` metadata (:func:`core.attacks.base.parameter`). Building the
form from them means a method added to ``METHODS`` appears in the GUI with its
parameters and tooltips, with no GUI change. Floats are typed as text so 1e-7 reads
as 1e-7; they are checked when the attack starts. A field whose ``applies_when`` does
not hold (beta on ASM, the L2 radius under norm linf), or whose ``applies_unless`` does
(beta while tau reads auto, which sets it), has no effect, so its row is hidden; it keeps its
value, which the run still records.
"""

from __future__ import annotations

import dataclasses
import math

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from ...core.attacks.base import field_type, format_value, parse_number
from ...core.attacks.step_size import AUTO, is_auto
from ...errors import SegAttackError

OWN_WIDGETS = ("iterations", "stop_iou")
"""Fields that have their own widgets in the attack panel, outside the generated form."""

COMMON_LAST = ("quantize", "quantize_fraction", "seed")
"""Fields every method shares: shown after the method's own parameters."""


def tooltip(field: dataclasses.Field) -> str:
    meta = field.metadata
    parts = [meta.get("help", field.name)]
    limits = []
    if meta.get("minimum") is not None:
        limits.append(f"≥ {meta['minimum']:g}")
    if meta.get("maximum") is not None:
        limits.append(f"≤ {meta['maximum']:g}")
    if limits:
        parts.append("Range: " + ", ".join(limits) + ".")
    default = "empty (off)" if field.default is None else format_value(field.default)
    parts.append(f"Default: {default}.")
    return "\n".join(parts)


def applies(field: dataclasses.Field, settings: dict) -> bool:
    """Whether the field has an effect under ``settings`` (the method and the other fields' values)."""
    def holds(name: str, wanted) -> bool:
        return name in settings and settings[name] in (wanted if isinstance(wanted, tuple) else (wanted,))

    needed = field.metadata.get("applies_when") or {}
    overridden = field.metadata.get("applies_unless") or {}
    return all(holds(*item) for item in needed.items()) and not any(holds(*item) for item in overridden.items())


def ordered_fields(config_type: type) -> list[dataclasses.Field]:
    fields = [f for f in dataclasses.fields(config_type) if f.name not in OWN_WIDGETS]
    own = [f for f in fields if f.name not in COMMON_LAST]
    common = [f for f in fields if f.name in COMMON_LAST]
    return own + common


class ParameterForm(QWidget):
    """Editors for one config type; remembers what the user typed per field name across methods."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._layout = QFormLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._editors: dict[str, QWidget] = {}
        self._fields: dict[str, dataclasses.Field] = {}
        self._types: dict[str, type] = {}
        self._typed: dict[str, object] = {}
        self.config_type: type | None = None
        self.method: str | None = None

    def editor(self, name: str) -> QWidget:
        return self._editors[name]

    def shown_fields(self) -> list[str]:
        """The fields whose rows are on screen: those that apply to the current settings."""
        return [name for name, editor in self._editors.items() if self._layout.isRowVisible(editor)]

    def set_config_type(self, config_type: type, method: str | None = None) -> None:
        """Editors for ``config_type``; ``method`` decides the fields that apply only to some methods."""
        self._remember()
        while self._layout.rowCount():
            self._layout.removeRow(0)
        self._editors.clear()
        self._fields.clear()
        self.config_type = config_type
        self.method = method
        for field in ordered_fields(config_type):
            kind = field_type(config_type, field)
            editor = self._make_editor(field, kind)
            editor.setObjectName(f"param_{field.name}")
            editor.setToolTip(tooltip(field))
            self._editors[field.name] = editor
            self._fields[field.name] = field
            self._types[field.name] = kind
            self._write(field.name, self._typed.get(field.name, field.default))
            self._layout.addRow(field.name.replace("_", " "), editor)
            label = self._layout.labelForField(editor)
            if label is not None:
                label.setToolTip(editor.toolTip())
        for name, editor in self._editors.items():
            if isinstance(editor, QComboBox):
                editor.currentTextChanged.connect(self._show_applicable)
            elif isinstance(editor, QCheckBox):
                editor.toggled.connect(self._show_applicable)
            elif self._fields[name].metadata.get("auto"):  # "auto" shows the rows that only it uses
                editor.textChanged.connect(self._show_applicable)
        self._show_applicable()

    @Slot()
    def _show_applicable(self) -> None:
        """Hide the rows of fields that do nothing under the current method and choices."""
        settings = {"method": self.method, **self._readable_values()}
        for name, field in self._fields.items():
            self._layout.setRowVisible(self._editors[name], applies(field, settings))

    def _make_editor(self, field: dataclasses.Field, kind: type) -> QWidget:
        meta = field.metadata
        if meta.get("choices"):
            combo = QComboBox()
            combo.addItems([str(choice) for choice in meta["choices"]])
            return combo
        if kind is bool:
            return QCheckBox()
        if kind is int:
            spin = QSpinBox()
            spin.setRange(int(meta.get("minimum") or 0) if meta.get("minimum") is not None else -2**31 + 1,
                          int(meta["maximum"]) if meta.get("maximum") is not None else 2**31 - 1)
            return spin
        line = QLineEdit()
        line.setPlaceholderText("empty: off" if field.default is None else ("a number or auto" if meta.get("auto") else ""))
        return line

    def _write(self, name: str, value) -> None:
        editor = self._editors[name]
        if isinstance(editor, QComboBox):
            editor.setCurrentText(str(value))
        elif isinstance(editor, QCheckBox):
            editor.setChecked(bool(value))
        elif isinstance(editor, QSpinBox):
            editor.setValue(int(value))
        else:
            editor.setText("" if value is None else format_value(value))

    def _read(self, name: str):
        editor = self._editors[name]
        field, kind = self._fields[name], self._types[name]
        if isinstance(editor, QComboBox):
            return editor.currentText()
        if isinstance(editor, QCheckBox):
            return editor.isChecked()
        if isinstance(editor, QSpinBox):
            return editor.value()
        text = editor.text().strip()
        if field.metadata.get("auto") and is_auto(text):
            return AUTO
        if not text:
            if field.default is None:
                return None
            raise SegAttackError(None, f"{name}: enter a number (default {format_value(field.default)})")
        try:
            value = parse_number(text, kind)
        except (ValueError, ZeroDivisionError):
            raise SegAttackError(None, f"{name}: {text!r} is not a number") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise SegAttackError(None, f"{name}: must be a finite number")
        return value

    def _remember(self) -> None:
        self._typed.update(self._readable_values())

    def _readable_values(self) -> dict:
        """The fields whose text reads as a value now (an unfinished number is left out)."""
        readable = {}
        for name in self._editors:
            try:
                readable[name] = self._read(name)
            except SegAttackError:
                pass
        return readable

    def values(self) -> dict:
        """Every parameter, hidden ones included; raises SegAttackError naming the first bad shown field."""
        return {name: self._value(name) for name in self._editors}

    def _value(self, name: str):
        """As typed; a hidden field with bad text falls back to its remembered or default value (it has no effect)."""
        try:
            return self._read(name)
        except SegAttackError:
            if self._layout.isRowVisible(self._editors[name]):
                raise
            return self._typed.get(name, self._fields[name].default)

    def reset_defaults(self) -> None:
        """Every field of the current method back to its default (the settings its authors published)."""
        for name, field in self._fields.items():
            self._write(name, field.default)
            self._typed.pop(name, None)
        self._show_applicable()

    def set_values(self, values: dict) -> None:
        for name, value in values.items():
            if name in self._editors:
                self._write(name, value)
            self._typed[name] = value
