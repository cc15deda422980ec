"""A Dockerfile given with `--dockerfile`: parsed (parse.py), matched against the image's history
(history.py), so that layer findings can point at the instruction that made them (locate.py).
"""
