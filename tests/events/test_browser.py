"""A publisher submits, an admin approves, the publisher's bell rings live, the event is searchable."""

from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import Category, Event, EventStatus
from tests.factories import UserFactory
from tests.helpers.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("eager_celery")]


def test_publisher_submits_admin_approves_bell_rings_and_search_finds_it(browser, asgi_server, screenshot):
    root = Category.objects.add_root({"slug": "show", "name_zh": "演出", "name_en": "Shows"})
    concert = Category.objects.add_child(root, {"slug": "concert", "name_zh": "演唱会", "name_en": "Concerts"})
    UserFactory(email="pub@example.com", role="publisher")
    UserFactory(email="boss@example.com", role="admin", is_staff=True)

    pub_ctx = browser.new_context(locale="zh-CN", base_url=asgi_server.url, viewport={"width": 1280, "height": 900})
    admin_ctx = browser.new_context(locale="zh-CN", base_url=asgi_server.url, viewport={"width": 1280, "height": 900})
    pub, boss = pub_ctx.new_page(), admin_ctx.new_page()
    for tab in (pub, boss):
        tab.set_default_timeout(10_000)
    try:
        log_in(pub, "pub@example.com")
        pub.goto("/publisher/events/new/")
        start = timezone.localtime() + timedelta(days=40)
        pub.fill("#id_title", "周杰伦 嘉年华 世界巡回演唱会 北京站")
        pub.select_option("#id_category", str(concert.pk))
        pub.fill("#id_start_time", start.strftime("%Y-%m-%dT19:30"))
        pub.fill("#id_end_time", start.strftime("%Y-%m-%dT22:30"))
        pub.fill("#id_city", "北京")
        pub.fill("#id_venue", "国家体育场（鸟巢）")
        pub.fill("#id_description", "<p>经典曲目全开唱</p>")
        pub.fill("#id_tags", "流行, 周杰伦")
        screenshot(pub, "publisher-form")
        pub.locator("button[name=submit]").click()
        pub.wait_for_url("**/publisher/events/")
        assert pub.get_by_test_id("status").first.inner_text() == "待审核"
        assert pub.get_by_test_id("bell-count").is_hidden()
        event = Event.objects.get()

        log_in(boss, "boss@example.com")
        assert boss.get_by_test_id("bell-count").inner_text() == "1"  # "new event to review"
        boss.goto("/review/events/")
        boss.get_by_test_id("queued-event").first.click()
        boss.check("input[name=decision][value=approve]")
        screenshot(boss, "review")
        boss.get_by_role("button", name="提交决定").click()
        boss.wait_for_url("**/review/events/")

        # The publisher's page was not reloaded: the websocket brought the news.
        pub.get_by_test_id("bell-count").wait_for(state="visible")
        assert pub.get_by_test_id("bell-count").inner_text() == "1"
        screenshot(pub, "bell")
        event.refresh_from_db()
        assert event.status == EventStatus.APPROVED

        visitor = browser.new_page(locale="zh-CN", base_url=asgi_server.url)
        visitor.goto("/events/?q=周杰伦")
        assert "周杰伦 嘉年华" in visitor.get_by_test_id("results").inner_text()
        visitor.goto("/events/?q=演唱会 北京")
        assert "周杰伦 嘉年华" in visitor.get_by_test_id("results").inner_text()
        screenshot(visitor, "search")
        visitor.close()
    finally:
        pub_ctx.close()
        admin_ctx.close()
