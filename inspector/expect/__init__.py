"""The team's own expectations: container-structure-test (CST) files, schemaVersion 2.0.0.

`format.py` is what we read of CST's format, key by key (the parser and docs/expectations.md both
come from it); `parse.py` reads one file into the frozen tests of `model.py`, or stops with one
line naming the file, the test and the field; `judge.py` decides the metadata and file tests from
what the layers hold and judges each command's result; `collect.py` is the one hook the facts
collection calls, and runs the command tests of a file in one probe container
(`inspector/probes/commands.py`). The results are the facts' `expectations` section, which the
check COR030 reads.
"""
