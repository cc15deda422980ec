"""The secrets-content fixture's generator, imported as a module: the credentials it plants (same
seed, same values) and where, for the tests that must find each one and print none."""

from __future__ import annotations

import importlib.util

from tests.conftest import FIXTURES

_SPEC = importlib.util.spec_from_file_location(
    "secrets_content_generate", FIXTURES / "secrets-content" / "generate.py")  # fmt: skip
assert _SPEC is not None
assert _SPEC.loader is not None
generate = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(generate)
