"""The shipped, honestly synthetic demo: generators, training, and where its files live."""

from segattack_gui.demo.catalog import DEMOS, DemoFiles
from segattack_gui.demo.training import train_demo_models

__all__ = ["DEMOS", "DemoFiles", "train_demo_models"]
