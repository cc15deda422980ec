"""Every secret value planted in a fixture, in one place: what no output of inspector may print.

Each secret-bearing fixture is listed with the values its Dockerfile or its generate.py plants
(generators are imported, so the values are the ones the build wrote: same seeds). A new fixture
that plants a secret adds its values here; tests/test_no_secret_printed.py greps every output of
every listed fixture for every value.
"""

from __future__ import annotations

import importlib.util
import re
from types import ModuleType

from tests.conftest import FIXTURES


def _generator(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"{name.replace('-', '_')}_planted",
                                                  FIXTURES / name / "generate.py")  # fmt: skip
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _key_lines(block: str) -> list[str]:
    """A key block's body lines: any of them printed is a part of the key."""
    return [line for line in block.splitlines() if line and not line.startswith("-----")]


def _dockerfile_values(name: str, pattern: str) -> list[str]:
    """The values a fixture's Dockerfile spells out (read from the file, not copied here)."""
    return re.findall(pattern, (FIXTURES / name / "Dockerfile").read_text())


def planted() -> dict[str, list[str]]:
    """fixture name -> the values planted in it."""
    return {
        "secrets-leaked": [
            *re.findall(r"password (\S+)", (FIXTURES / "secrets-leaked" / "netrc").read_text()),
            *_dockerfile_values("secrets-leaked", r"ARG API_TOKEN=(\S+)"),
        ],
        "secrets-content": _generator("secrets-content").planted_values(),
        "ts-thirdparty": _generator("ts-thirdparty").planted_values(),
        "sd-chown-env": _generator("sd-chown-env").planted_values(),
        "real-django-celery": [_generator("real-django-celery").stripe_key()],
        "real-fastapi-uv": [_generator("real-fastapi-uv").openai_key()],
        "real-flask-boot": _key_lines(_generator("real-flask-boot").deploy_key()),
        "dd-one-cause": _dockerfile_values("dd-one-cause", r"ENV SERVICE_API_TOKEN=(\S+)"),
        "tr-import-secret": re.findall(r"postgresql://app:([^@]+)@",
                                       (FIXTURES / "tr-import-secret" / "settings.py").read_text()),
        "tr-command-forms": _dockerfile_values(
            "tr-command-forms",
            r"https://ci:([^@]+)@|-p(TrMysql\w+)|Bearer (\w+)|echo (TrLogin\w+)|"
            r"SERVICE_PASSWORD=\"([^\"]+)\"|\"--(?:api-key|password)\", \"([^\"]+)\"",
        ),
    }  # fmt: skip


def values(name: str) -> list[str]:
    """One fixture's planted values, flattened (regex groups that did not take part dropped)."""
    found: list[str] = []
    for value in planted()[name]:
        parts = value if isinstance(value, tuple) else (value,)
        found += [part for part in parts if part]
    assert found, f"{name}: no planted value found; the fixture or this list changed"
    return found
