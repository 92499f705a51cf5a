"""A watch on Streamlit's stale elements, for browser tests (issue 19, point 2).

Streamlit marks an element that an earlier run drew and the current run has not (yet) drawn
over with `data-stale="true"` at once, and fades it after 0.5 s while a run is in progress
(`stElementContainer` in its frontend). A user sees a ghost when such an element is on screen
for that long. `watch_stale(page)` installs, before any page of the tab loads, a
`MutationObserver` that keeps, with `performance.now()` taken in the page, every element that
became stale: when, when it stopped being stale or left the DOM, and the last frame it was on
screen in (non-zero size, not hidden; sampled before every paint). Streamlit keeps some elements
mounted and stale but hidden until the run ends (a widget the run dropped, the old content of a
place emptied with `st.empty()`), so what counts is the time from going stale to the last frame
seen. `ghosts(page)` lists those on screen while stale for 500 ms or more (or still so);
`assert_no_ghosts` fails listing them.

A reload or a new page starts the record afresh: check before leaving a page.
"""

from __future__ import annotations

from typing import Any

FADE_MS = 500  # Streamlit's delay before it fades a stale element

STALE_WATCH = """
(() => {
  if (window.parleyStale) return;
  const records = [];
  const live = new Map();  // element -> its open record
  window.parleyStale = { records };

  const visible = (el) => {
    if (!el.isConnected) return false;
    const box = el.getBoundingClientRect();
    if (box.width <= 0 || box.height <= 0) return false;
    return el.checkVisibility({ visibilityProperty: true, contentVisibilityAuto: true });
  };
  const describe = (el) => {
    const inner = el.querySelector("[data-testid]:not([data-testid='stElementContainer'])");
    const text = (el.innerText || el.textContent || "").replace(/\\s+/g, " ").trim();
    return {
      testid: el.getAttribute("data-testid") || el.tagName.toLowerCase(),
      inner: inner ? inner.getAttribute("data-testid") : null,
      text: text.slice(0, 80),
    };
  };
  const sample = (now, skip = new Set()) => {
    for (const [el, record] of live) {
      if (!skip.has(el) && visible(el)) {
        record.visible = true;
        record.lastVisible = now;
        const { inner, text } = describe(el);
        record.innerLast = inner;  // React may put another element in the same container
        record.textLast = text;
      }
    }
  };
  const open = (el, now) => {
    if (live.has(el)) return;
    const first = describe(el);
    const record = {
      ...first, innerLast: first.inner, textLast: first.text, start: now, end: null, visible: false, lastVisible: null,
    };
    records.push(record);
    live.set(el, record);
    if (visible(el)) {
      record.visible = true;
      record.lastVisible = now;
    }
  };
  const close = (el, now) => {
    const record = live.get(el);
    if (!record) return;
    record.end = now;
    live.delete(el);
  };
  const scan = (node, now) => {
    if (node.nodeType !== 1) return;
    if (node.getAttribute("data-stale") === "true") open(node, now);
    for (const el of node.querySelectorAll("[data-stale='true']")) open(el, now);
  };

  new MutationObserver((mutations) => {
    const now = performance.now();
    // What was on screen until now, for the elements still stale after this batch. One that
    // stops being stale in it is not sampled: React may fill it and clear its mark in one
    // commit, and no frame ever showed the new content stale (every frame was sampled by
    // the rAF tick before it was painted).
    const closing = new Set(mutations
      .filter((m) => m.type === "attributes" && m.target.getAttribute("data-stale") !== "true")
      .map((m) => m.target));
    for (const el of live.keys()) if (!el.isConnected) closing.add(el);
    sample(now, closing);
    for (const mutation of mutations) {
      if (mutation.type === "attributes") {
        const el = mutation.target;
        if (el.getAttribute("data-stale") === "true") open(el, now);
        else close(el, now);
      } else {
        for (const node of mutation.addedNodes) scan(node, now);
      }
    }
    for (const el of [...live.keys()]) {
      if (!el.isConnected || el.getAttribute("data-stale") !== "true") close(el, now);
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-stale"] });

  const tick = () => {
    sample(performance.now());
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  setInterval(() => sample(performance.now()), 50);  // rAF pauses when nothing paints
})();
"""

# The records with their stale time so far, counted from `since` (a time in the page) for
# those already stale then; those still stale count up to now.
READ = """([minimum, since]) => {
  const now = performance.now();
  return window.parleyStale.records
    .filter((r) => (r.end ?? now) > since)
    .map((r) => ({
      ...r,
      visible: r.visible && r.lastVisible >= since,  // on screen after `since`
      ms: Math.round((r.end ?? now) - Math.max(r.start, since)),
      // From when it went stale to the last frame it was seen in: an element Streamlit keeps
      // mounted but hidden (a widget it retains) is not on screen for the rest of its stale time.
      shownMs: r.visible ? Math.round(r.lastVisible - Math.max(r.start, since)) : 0,
      still: r.end === null,
    }))
    .filter((r) => r.ms >= minimum);
}"""


def watch_stale(page) -> None:  # type: ignore[no-untyped-def]
    """Record stale elements in every document this page loads from now on."""
    page.add_init_script(STALE_WATCH)


def page_now(page) -> float:  # type: ignore[no-untyped-def]
    """The page's clock (`performance.now()`), to count staleness from a moment on."""
    return float(page.evaluate("performance.now()"))


def stale_records(page, at_least_ms: float = 0, since: float = 0) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Every element stale for `at_least_ms` or more (after `since`, the page's clock), visible or not."""
    return list(page.evaluate(READ, [at_least_ms, since]))


def ghosts(page, at_least_ms: float = FADE_MS, since: float = 0) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """The elements on screen while stale for `at_least_ms` or more after `since` (or still so),
    counted from when each went stale to the last frame it was seen in."""
    return [r for r in stale_records(page, at_least_ms, since) if r["visible"] and r["shownMs"] >= at_least_ms]


def describe(record: dict[str, Any]) -> str:
    """What the element showed when it became stale (and later, if it changed), and for how long."""
    kind = record["testid"] + (f" > {record['inner']}" if record["inner"] else "")
    shown = f"{kind} {record['text']!r}"
    if (record["innerLast"], record["textLast"]) != (record["inner"], record["text"]):
        shown += f", later {record['innerLast']} {record['textLast']!r}"
    still = ", still stale" if record["still"] else ""
    return f"{shown}: stale {record['ms']} ms, on screen for {record['shownMs']} ms of it{still}"


def assert_no_ghosts(page, when: str, at_least_ms: float = FADE_MS, since: float = 0) -> None:  # type: ignore[no-untyped-def]
    """Fails listing every visible element stale for `at_least_ms` or more after `since`."""
    found = ghosts(page, at_least_ms, since)
    assert not found, f"{when}: {len(found)} visible element(s) stale >= {at_least_ms:g} ms:\n" + "\n".join(
        describe(record) for record in found
    )
