"""`inspector diff OLD NEW`: what changed between two images, as a release manager asks it.

The diff is a pure function of two facts documents and their check results (`compute`); the
driver (`run.py`) collects both with the one facts collector, so layers the two images share are
read once (the layer cache), and renderers (`table.py`, `json.py`, `markdown.py`) are pure
functions of the diff. docs/diff.md is generated from `fields.py` and `example.py`.
"""
