"""Facts: everything checks may know about one image, as one frozen, versioned JSON model
(model.py), collected once (collect.py), documented path by path (schema.py, fields.py,
fielddoc.py) and summarised for a terminal (text.py).
"""
