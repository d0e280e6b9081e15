"""The dashboards in Chromium: every chart draws with data at phone and desktop widths, no script
errors, and the publisher's live counter fills in over its socket. Screenshots under var/ to look at."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.translation import gettext, override

from analytics.documents import Action, BehaviourLog
from tests.analytics.sales_fixture import build_shop, local
from tests.helpers.browser import log_in, watch_errors

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def some_behaviour(shop) -> None:
    """Visitors who view, open the seat map, hold, order and pay, over the three days."""
    rng = random.Random(7)
    lines = []
    for n in range(60):
        day = shop.day + timedelta(days=n % 3)
        event = shop.e1 if n % 2 else shop.e2
        steps = [Action.EVENT_VIEW, Action.SESSION_VIEW, Action.HOLD, Action.ORDER, Action.PAY][: rng.randint(1, 5)]
        for step in steps:
            lines.append(BehaviourLog(user_id=n if n % 3 else None, anon_id=f"anon{n}", action=step,
                                      event_id=event.pk, timestamp=local(day, 10 + n % 12)))
    lines += [BehaviourLog(anon_id=f"anon{n}", action=Action.SEARCH, timestamp=local(shop.day, 12),
                           details={"q": q, "results": r}) for n, (q, r) in enumerate([("爵士", 3), ("话剧", 0)] * 3)]
    BehaviourLog.objects.insert(lines)


def charts_drawn(tab) -> dict:
    """Each chart's size and whether its canvas has any painted pixel."""
    return tab.evaluate("""() => Object.fromEntries([...document.querySelectorAll('[data-chart]')].map(el => {
        const canvas = el.querySelector('canvas');
        if (!canvas) return [el.dataset.chart, null];
        const ctx = canvas.getContext('2d');
        const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        let painted = 0;
        for (let i = 3; i < data.length; i += 4 * 7) if (data[i] > 0) painted++;
        return [el.dataset.chart, {width: canvas.width, height: canvas.height, painted}];
    }))""")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_admin_dashboard_draws_every_chart(page, screenshot, behaviour, viewport):
    shop = build_shop()
    some_behaviour(shop)
    errors = watch_errors(page)
    page.set_viewport_size(viewport)
    log_in(page, shop.admin.email)
    page.goto(f"/manage/stats/?from={shop.day}&to={timezone.localdate()}")
    page.wait_for_selector("[data-chart=funnel] canvas")
    page.wait_for_timeout(1200)  # ECharts animates in
    drawn = charts_drawn(page)
    assert set(drawn) == {"days", "groups", "sessions", "heat", "users", "funnel"}
    for name, chart in drawn.items():
        assert chart and chart["width"] > 100 and chart["painted"] > 200, (name, chart)
        box = page.locator(f"[data-chart={name}]").bounding_box()
        assert box["width"] <= viewport["width"], name  # nothing wider than the screen
    assert page.locator("[data-testid=kpi-revenue]").inner_text() == "¥1160.00"
    assert "爵士" in page.locator("[data-testid=table-searches_top]").inner_text()
    assert "话剧" in page.locator("[data-testid=table-searches_empty]").inner_text()
    # The page is Chinese (zh-CN browser): the charts' labels are the catalogue's zh-hans ones.
    strings = page.evaluate("JSON.parse(document.getElementById('stats-data').textContent).strings")
    with override("zh-hans"):
        assert strings["revenue"] == gettext("Revenue") and strings["tickets"] == gettext("Tickets sold")
    assert page.evaluate("document.documentElement.lang") == "zh-hans"
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"] + 1
    screenshot(page, "admin")
    assert errors == []


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_publisher_dashboard_draws_its_charts_and_the_live_counter(page, screenshot, behaviour, viewport):
    shop = build_shop()
    some_behaviour(shop)
    errors = watch_errors(page)
    page.set_viewport_size(viewport)
    log_in(page, shop.p1.email)
    page.goto(f"/publisher/stats/?from={shop.day}&to={timezone.localdate()}")
    page.wait_for_selector("[data-chart=funnel] canvas")
    page.wait_for_selector("#live-rows tr")
    page.wait_for_timeout(1200)
    drawn = charts_drawn(page)
    assert set(drawn) == {"days", "groups", "sessions", "heat", "users", "funnel"}
    for name, chart in drawn.items():
        assert chart and chart["width"] > 100 and chart["painted"] > 200, (name, chart)
    assert page.locator("[data-testid=kpi-revenue]").inner_text() == "¥600.00"
    assert page.locator("#live-rows tr td").nth(1).inner_text() == "4"  # sold
    assert page.locator("#live-rows tr td").nth(2).inner_text() == "1"  # held now
    assert "Hamlet" not in page.content()
    screenshot(page, "publisher")
    assert errors == []
