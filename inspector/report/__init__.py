"""Reports: the audit result of one image (model.py), finding fingerprints (fingerprint.py), and
one pure renderer per format (table, json, sarif, junit, markdown; chosen by name in formats.py),
plus the JSON report's field documentation (fields.py, example.py).
"""
