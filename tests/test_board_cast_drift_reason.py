"""The board shows a take's cast drift reason on its card as visible text (short, the full reason in
its title), not only in the score's hover. The project of tests/test_cast_identity.py (a take whose
cast member changes coat colour at 2 s), ranked by `dreamcut rank`, in a real browser."""

from __future__ import annotations

import pytest

from _browser import CHROMIUM, WAIT_MS, chromium, serve_board
from test_cast_identity import project_root  # noqa: F401 (the module's fixture)


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed (make chromium)")
def test_a_cast_drift_reason_is_visible_on_the_take_card(project_root, artifacts_dir):  # noqa: F811
    from conftest import run_cli

    run_cli("--project", str(project_root), "rank", check=True)
    with serve_board(project_root) as url, chromium() as browser:
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(url)
        page.wait_for_selector("#t-walk-drift")
        shown = page.eval_on_selector_all("#t-walk-drift .drift", """ps => ps.map(p => {
            const box = p.getBoundingClientRect(), card = p.closest('.take').getBoundingClientRect();
            return {text: p.innerText, title: p.title, h: box.height, w: box.width,
                    inside: box.right <= card.right + 1 && box.left >= card.left - 1,
                    visible: getComputedStyle(p).visibility === 'visible' && getComputedStyle(p).display !== 'none'};
        })""")
        assert len(shown) == 1, shown
        [d] = shown
        assert d["title"].startswith("cast drift: mia drifts from the references at 2."), d
        assert d["title"].endswith(")") and "likeness" in d["title"], d
        # visible text on the card (not a hover), within the card, at most two lines of it
        assert d["visible"] and d["h"] > 8 and d["w"] > 100 and d["inside"], d
        assert d["text"].startswith("mia drifts from the references at 2."), d
        assert d["h"] <= 2 * 11 * 1.5, d
        # the consistent takes and the shot without a cast show none
        assert page.locator("#t-walk-1 .drift").count() == 0 and page.locator("#t-wall-1 .drift").count() == 0
        page.locator("#t-walk-drift").screenshot(path=str(artifacts_dir / "board_cast_drift_reason.png"))
