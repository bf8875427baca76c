"""``segattack``: the headless command line over the same runner the window uses.

``commands`` holds the subcommands, ``parser`` their flags, ``single_run`` one attack with a progress
bar, ``batch``/``universal`` the dataset runs, ``rerun`` the reproducibility check.
"""

from .commands import main
from .parser import attach_negative_values, build_parser

__all__ = ["attach_negative_values", "build_parser", "main"]
