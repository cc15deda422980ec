"""Known vulnerabilities: the offline advisory database and matching an image's inventory.

`model.py` is the shared vocabulary (an advisory as OSV states it, a match, the facts section);
`osv.py` parses OSV records; `store.py` keeps advisories in the same SQLite or PostgreSQL store as
scans; `fetch.py` downloads or imports OSV exports, read as streams by `exportzip.py`;
`status.py` renders `inspector db status`; `versions.py` compares versions by each
ecosystem's own rules (PEP 440, dpkg, apk); `severity.py` turns CVSS vectors and ecosystem ratings
into our severities; `match.py` matches an inventory's components against advisories.

Sits below `facts` (collecting facts matches the inventory) and above `analysers` (it reads the
inventory's components); the scan and the CLI use the store directly.
"""
