"""SegAttack: targeted adversarial attacks on biomedical segmentation models."""

__version__ = "0.1.0"
