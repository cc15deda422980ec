"""The command line: `inspector facts|audit|baseline|checks|explain` (commands.py) and its help
text as one document for the README (usage.py). Thin: parse, call, render, exit.
"""
