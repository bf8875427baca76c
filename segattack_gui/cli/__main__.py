"""``python -m segattack_gui.cli`` is ``segattack``."""

import sys

from .commands import main

sys.exit(main())
