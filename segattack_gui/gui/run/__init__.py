"""Running an attack from the window: the panel, the worker thread, the run set-up and summary."""
