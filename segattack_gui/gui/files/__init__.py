"""Files in and out of the window: background loading, dialogs, recent files, drops, export."""
