"""The live results: adversarial, prediction and heatmap views, curves, replay, status bar."""
