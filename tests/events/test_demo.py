"""Demo data at sensible local hours, numbers dated by the local day, and a poster for every demo event."""

from datetime import UTC, datetime, time, timedelta
from io import BytesIO
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from PIL import Image

from events import posters
from events.demo import seed_events
from events.models import Event
from tests.factories import UserFactory
from tests.orders.flows import pending_order
from tickets.demo import seed_tickets
from tickets.models import PriceTier, Session

pytestmark = pytest.mark.django_db


def local(moment: datetime) -> datetime:
    return timezone.localtime(moment, timezone.get_default_timezone())


@pytest.fixture
def demo():
    publishers = [UserFactory(role="publisher") for _ in range(2)]
    seed_events(publishers=publishers, admin=UserFactory(role="admin"), count=120)
    seed_tickets(Event.objects.all())
    return Event.objects.select_related("category")


def test_an_order_placed_on_a_utc_evening_is_numbered_by_the_next_local_day():
    # 17:30 UTC on 1 December is 01:30 on 2 December in Shanghai.
    with time_machine.travel(datetime(2026, 12, 1, 17, 30, tzinfo=UTC), tick=True):
        order = pending_order(UserFactory())
    assert order.number.startswith("261202")


def test_seeded_evening_shows_start_and_end_on_the_same_local_evening(demo):
    evenings = [e for e in demo if local(e.start_time).hour >= 18]
    assert len(evenings) > 20
    for event in evenings:
        start, end = local(event.start_time), local(event.end_time)
        assert end.date() == start.date(), (event.title, start, end)
        assert end.time() <= time(22, 30), (event.title, start, end)


def test_seeded_events_run_between_morning_and_night_local_time(demo):
    for event in demo:
        start, end = local(event.start_time), local(event.end_time)
        assert time(7) <= start.time() and end.time() <= time(22, 30) and end.date() == start.date(), (
            event.category.slug, start, end)
    day_events = [e for e in demo if e.category.slug in {"tech-summit", "forum", "art", "tech-expo", "anime"}]
    assert day_events and all(local(e.start_time).time() == time(9) for e in day_events)
    assert all(local(e.end_time).time() == time(17, 30) for e in day_events)


def test_seeded_sessions_are_named_by_their_local_start_hour(demo):
    def expected(session):
        hour = local(session.start_time).hour
        return "上午场" if hour < 12 else "下午场" if hour < 18 else "晚场"

    named = list(Session.objects.exclude(name=""))
    assert {s.name for s in named} == {"上午场", "下午场", "晚场"}
    assert [s.name for s in named] == [expected(s) for s in named]
    assert any(s.name == "晚场" and local(s.start_time).time() == time(19, 30) for s in named)


def test_seeded_early_birds_end_at_the_end_of_a_local_day(demo):
    ends = [local(t.until) for t in PriceTier.objects.filter(kind="time")]
    assert ends
    assert {(e.hour, e.minute) for e in ends} == {(23, 59)}


@pytest.mark.django_db(transaction=True)
def test_seed_demo_gives_every_demo_event_its_own_poster_once(capsys):
    call_command("seed_demo", history_days=0)  # posters only (tests/ticketing/test_seed.py has the history)
    events = list(Event.objects.all())
    assert events and all(e.cover for e in events)
    covers = [Path(e.cover.path).read_bytes() for e in events]
    assert len(set(covers)) == len(covers)
    with Image.open(BytesIO(covers[0])) as image:
        assert image.format == "JPEG" and image.width > image.height

    files = sorted(Path(settings.MEDIA_ROOT).rglob("*.jpg"))
    Event.objects.filter(pk__in=[events[0].pk, events[1].pk]).update(cover="")  # a demo database from before posters
    call_command("seed_demo", history_days=0)
    assert all(e.cover for e in Event.objects.all())
    assert len(sorted(Path(settings.MEDIA_ROOT).rglob("*.jpg"))) == len(files) + 2


def test_a_poster_without_a_cjk_font_keeps_the_latin_text_and_does_not_fail(monkeypatch):
    monkeypatch.setattr(posters, "CJK_FONT_PATHS", ["/nonexistent/font.ttc"])
    posters.font.cache_clear()
    try:
        start = timezone.now() + timedelta(days=3)
        poster = posters.poster_jpeg(title="周杰伦 Live in Shanghai", category_slug="concert", category_name="演唱会",
                                     category_name_en="Concerts", start_time=start, venue="梅赛德斯奔驰文化中心",
                                     city="上海", seed=7)
        assert posters.latin_only("周杰伦 Live in Shanghai") == "Live in Shanghai"
    finally:
        posters.font.cache_clear()
    with Image.open(BytesIO(poster)) as image:
        assert image.format == "JPEG"
