"""Secret values never appear in the facts document, only their redacted hints."""

from __future__ import annotations

import json

from inspector.facts.collect import collect
from tests.layertools import image_archive, layer

TOKEN = "pypi-AgEIcHlwaS5vcmcCJGFiY2RlZmFiLTEyMzQtNDU2Ny04OWFiLWNkZWYwMTIzNDU2NwACKlszLCJhIl0AAAYg"
PASSWORD = "hunter2-correct-horse-battery"


def test_secrets_in_env_build_args_and_commands_are_redacted(tmp_path, monkeypatch):
    """A token in a build argument and a password in env and CMD show up only as hints."""
    monkeypatch.setenv("INSPECTOR_CACHE_DIR", str(tmp_path / "cache"))
    archive = tmp_path / "image.tar"
    archive.write_bytes(
        image_archive(
            [layer(("app/main.py", b"print(1)\n"))],
            history=[{"created_by": f"|1 PYPI_TOKEN={TOKEN} /bin/sh -c pip install app"}],
            config={
                "Env": [f"DB_PASSWORD={PASSWORD}", "PATH=/usr/bin"],
                "Cmd": ["app", f"--password={PASSWORD}"],
            },
        )
    )
    doc = collect(f"docker-archive:{archive}").to_json()
    text = json.dumps(doc)
    assert TOKEN not in text
    assert PASSWORD not in text
    assert doc["config"]["env"]["PATH"] == "/usr/bin"
    assert doc["config"]["env"]["DB_PASSWORD"].startswith("<redacted")
    kinds = {(s["where"], s["kind"]) for s in doc["secrets"]}
    assert ("history", "pypi-token") in kinds
    assert any(where == "env" for where, _ in kinds)
