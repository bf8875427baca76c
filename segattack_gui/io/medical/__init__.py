"""DICOM and NIfTI: read a frame or slice in its own units, write the adversarial one back."""
