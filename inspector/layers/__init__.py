"""Layers: one pass over each layer tar as a stream (stream.py decompresses and hashes, tar.py
parses headers, reader.py yields entries and captured small files: model.py), the overlay merge
with every path's history (overlay.py), and the per-layer cache keyed by diff_id (cache.py).
"""
