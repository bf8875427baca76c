"""Shipped demo models, images, target masks and icons (installed as segattack_gui.resources)."""
