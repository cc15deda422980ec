"""The suite judges dates at one pinned clock: no test's verdict moves with the calendar.

Which checks read the clock is known (DATE_DEPENDENT, proven against the catalog's code); every
other check's verdict on every fixture is the same years apart (tests/test_audit.py), and the
date-dependent ones judge at tests/probed.py's CLOCK in every test, CLI runs in-process included.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable

from checks import catalog
from checks.model import Context
from inspector.policy.gate import Gate
from tests.probed import CLOCK

# The checks whose verdict depends on the date they judge at: an image's age, an OS's or a
# Python's end of life, how stale the OS packages are.
DATE_DEPENDENT = frozenset({"META002", "META004", "META005", "PY006", "SEC025"})


def _reads_the_clock(function: Callable[..., object], depth: int = 3) -> bool:
    """The function reads `ctx.now`, or hands the context to a helper of its module that does."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    module = inspect.getmodule(function)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr == "now"
                and isinstance(node.value, ast.Name) and node.value.id == "ctx"):  # fmt: skip
            return True
        passes_ctx = isinstance(node, ast.Call) and any(
            isinstance(arg, ast.Name) and arg.id == "ctx"
            for arg in [*node.args, *(k.value for k in node.keywords)]
        )
        if passes_ctx:
            name = node.func.id if isinstance(node.func, ast.Name) else None
            helper = getattr(module, name, None) if name else None
            if helper is None or not depth or _reads_the_clock(helper, depth - 1):
                return True  # an unknown callee might read it: count it, to be safe
    return False


def test_the_date_dependent_checks_are_exactly_those_that_read_the_clock():
    """DATE_DEPENDENT lists every check whose code reads the context's clock, and no other: a
    new date-based check must be added to it (and so to the two-clock golden test)."""
    reading = {check_id for check_id, check in catalog().items() if _reads_the_clock(check.run)}
    assert reading == DATE_DEPENDENT


def test_the_suite_pins_the_catalogs_and_the_gates_clock():
    """A Context or a Gate made without a date (as the CLI makes them) judges at the suite's
    CLOCK, not today: an ignore's expiry and PY006's end of life cannot move a verdict in May."""
    assert Context().now == CLOCK
    assert Gate().today == CLOCK.astimezone().date()
