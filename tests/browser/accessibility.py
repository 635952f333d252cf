"""axe-core (bundled by axe-playwright-python) on the page a browser test is looking at.

    assert_accessible(page)   # fails the test with one line per violation: rule, impact, targets

The whole default rule set runs (WCAG 2.0/2.1 A and AA and axe's best practices), as when the
issue measured today's public pages: no violation is allowed, none is waived.

With JavaScript off (every browser test here), Chromium runs what Playwright evaluates, but never
fires a timer: ``axe.run`` waits on ``setTimeout`` between its steps and would hang. So before axe
is injected, ``setTimeout`` of the page is replaced by a microtask (measured: a Promise resolves,
a ``setTimeout`` callback never runs). Only the page being audited is touched, and the audit
reads it as it is (computed styles, colours, landmarks); nothing is reloaded or posted again.
"""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

_AXE = Axe()
_TIMERS_AS_MICROTASKS = """() => {
    window.setTimeout = (callback, _delay, ...args) => { Promise.resolve().then(() => callback(...args)); return 0; };
    window.clearTimeout = () => {};
}"""
_OPTIONS = {"resultTypes": ["violations"]}


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (its raw result objects)."""
    page.evaluate(_TIMERS_AS_MICROTASKS)
    results = _AXE.run(page, options=_OPTIONS)
    violations: list[dict[str, Any]] = results.response["violations"]
    return violations


def describe(violations: list[dict[str, Any]]) -> str:
    """One block per violation: rule id, impact, what it means, then each element (CSS target)."""
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
        lines.extend(f"    {' > '.join(node['target'])}" for node in violation["nodes"])
    return "\n".join(lines)


def assert_accessible(page: Page) -> None:
    """Fail unless axe-core finds no violation on the page (the list says which rule, impact, element)."""
    violations = axe_violations(page)
    assert not violations, f"axe-core: {len(violations)} violation(s) on {page.url}:\n{describe(violations)}"
