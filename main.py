"""Start the SegAttack GUI from a source checkout (same as the ``segattack-gui`` entry point)."""

import sys

from segattack_gui.gui.app import main

if __name__ == "__main__":
    sys.exit(main())
