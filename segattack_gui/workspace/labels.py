"""The labels a target is painted with: names, colours, and which are hidden (no Qt).

They start as the model's classes (its sidecar's names and colours) and the user may add,
rename, recolour and hide them, as napari and ITK-SNAP allow. A label beyond the model's
classes can be painted (a target drafted before the model is chosen, say), but an attack
refuses it, naming it: the model cannot be asked to predict a class it does not have.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

__all__ = ["LabelTable"]

Colour = tuple[int, int, int]

ADDED_COLOURS = ((0, 114, 178), (230, 159, 0), (0, 158, 115), (204, 121, 167), (86, 180, 233), (213, 94, 0))
"""Colour-blind-safe colours (Okabe and Ito) handed to added labels in turn."""


@dataclass(frozen=True)
class LabelTable:
    """Names and colours by class id (0 is background), and the ids drawn transparent."""

    names: tuple[str, ...]
    colors: tuple[Colour, ...]
    hidden: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self):
        if len(self.names) != len(self.colors):
            raise ValueError(f"{len(self.names)} label names but {len(self.colors)} colours")
        if not 1 <= len(self.names) <= 255:
            raise ValueError("between 1 and 255 labels are supported")

    @classmethod
    def of(cls, names, colors) -> LabelTable:
        return cls(tuple(str(name) for name in names), tuple(tuple(int(c) for c in colour) for colour in colors))

    def __len__(self) -> int:
        return len(self.names)

    def added(self, name: str | None = None, colour: Colour | None = None) -> LabelTable:
        """A new label at the next id, named ``label N`` unless named."""
        new_id = len(self.names)
        colour = colour or ADDED_COLOURS[new_id % len(ADDED_COLOURS)]
        return replace(self, names=self.names + (name or f"label {new_id}",), colors=self.colors + (tuple(colour),))

    def renamed(self, class_id: int, name: str) -> LabelTable:
        name = name.strip()
        if not name:
            raise ValueError("a label needs a name")
        self._check(class_id)
        return replace(self, names=self.names[:class_id] + (name,) + self.names[class_id + 1 :])

    def recoloured(self, class_id: int, colour: Colour) -> LabelTable:
        self._check(class_id)
        return replace(self, colors=self.colors[:class_id] + (tuple(int(c) for c in colour),)
                       + self.colors[class_id + 1 :])

    def with_hidden(self, class_id: int, hidden: bool) -> LabelTable:
        self._check(class_id)
        return replace(self, hidden=self.hidden | {class_id} if hidden else self.hidden - {class_id})

    def _check(self, class_id: int) -> None:
        if not 0 <= class_id < len(self.names):
            raise ValueError(f"label {class_id} is not one of 0..{len(self.names) - 1}")
