"""axe-core, the accessibility checker, in a browser test's page: the npm package pinned in
tests/a11y/ (`make test` installs it with `npm ci`), injected through DevTools, so the page's own
Content-Security-Policy, which refuses inline scripts, does not stand in its way."""

from __future__ import annotations

from typing import Any

from tests.conftest import ROOT, require

AXE = ROOT / "tests" / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def audit(page) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """axe's results for the page as it is now, against WCAG 2.1 A and AA: `violations` (each with
    its id, impact, help and up to five nodes) and `passes` (the ids of the rules that passed)."""
    require(AXE.exists(), "axe-core is not installed: `make test` installs it (npm ci in tests/a11y)")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    return dict(
        page.evaluate(
            """async (tags) => {
                const results = await axe.run(document, { runOnly: { type: "tag", values: tags } });
                return {
                    violations: results.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + " :: " + n.failureSummary) })),
                    passes: results.passes.map((p) => p.id),
                };
            }""",
            WCAG_AA,
        )
    )


def serious(page) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """The page's serious and critical violations."""
    return [v for v in audit(page)["violations"] if v["impact"] in ("serious", "critical")]
