"""Where target masks come from and go to: predictions, transforms, mask files, autosave."""
