"""What the window holds, without Qt: the painted masks with their history, the frames a run
kept and the grid they are shown on. Covered by the no-Qt test, so it can be tested and reused headless.
"""
