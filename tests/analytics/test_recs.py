"""Recommendations: the rebuild makes an index the API uses, the filters hold, cold starts, roles, pages."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.serializers import RoleRefreshToken
from analytics.documents import Action, BehaviourLog, UserEmbedding
from analytics.recs import index as recs_index
from analytics.recs import query
from analytics.recs.build import recs_rebuild
from events.models import Event, EventStatus
from orders.models import Order
from tests.events.factories import ApprovedEventFactory, CategoryFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def recs_dir(settings, tmp_path, monkeypatch):
    """This test's own index directory; processes look at the pointer on every call."""
    settings.VAR_DIR = tmp_path
    monkeypatch.setattr(recs_index, "CHECK_SECONDS", 0.0)
    monkeypatch.setattr(query._mongo, "until", 0.0)
    monkeypatch.setattr(query._slow, "until", 0.0)
    monkeypatch.setattr(query, "MONGO_DEADLINE", 3.0)  # a busy test machine is no MongoDB outage
    recs_index.forget()
    yield tmp_path
    recs_index.forget()


class Shop:
    """Two tastes: concerts in 上海 and plays in 北京, ten events each; fans of each."""

    def __init__(self) -> None:
        concerts, plays = CategoryFactory(name_zh="演唱会", name_en="Concerts"), CategoryFactory(name_zh="话剧", name_en="Plays")
        self.concerts = [ApprovedEventFactory(title=f"流行演唱会 {i}", category=concerts, city="上海", tickets_left=True,
                                              tags=["流行"], start_time=timezone.now() + timedelta(days=5 + i))
                         for i in range(10)]
        self.plays = [ApprovedEventFactory(title=f"经典话剧 {i}", category=plays, city="北京", tickets_left=True,
                                           tags=["话剧"], start_time=timezone.now() + timedelta(days=5 + i))
                      for i in range(10)]
        self.lines: list[dict] = []

    def log(self, action: str, event: Event, *, user=None, anon_id: str | None = None, days_ago: float = 1.0) -> None:
        self.lines.append({"user_id": user.pk if user else None, "anon_id": anon_id or (f"anon{user.pk}" if user else "x"),
                           "action": action, "event_id": event.pk, "session_id": None,
                           "timestamp": datetime.now(UTC) - timedelta(days=days_ago), "details": {}})

    def fans(self, events: list[Event], n: int, *, prefix: str) -> list:
        users = [UserFactory(username=f"{prefix}{i}") for i in range(n)]
        for i, user in enumerate(users):
            for j, event in enumerate(events):
                if (i + j) % 3 != 0:  # each fan saw two thirds of them
                    self.log(Action.EVENT_VIEW, event, user=user, days_ago=2 + j)
                if (i + j) % 5 == 0:
                    self.log(Action.PAY, event, user=user, days_ago=1 + j)
        return users

    def write(self) -> None:
        if self.lines:
            BehaviourLog._get_collection().insert_many(self.lines)
            self.lines = []


@pytest.fixture
def shop(behaviour):
    shop = Shop()
    shop.concert_fans = shop.fans(shop.concerts, 8, prefix="c")
    shop.play_fans = shop.fans(shop.plays, 8, prefix="p")
    shop.write()
    return shop


def api(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RoleRefreshToken.for_user(user).access_token}",
                       HTTP_ACCEPT_LANGUAGE="en")
    return client


def a_concert_fan_with_a_fresh_view(shop):
    fan = UserFactory(username="newfan")
    shop.log(Action.EVENT_VIEW, shop.concerts[0], user=fan, days_ago=0.01)
    shop.log(Action.HOLD, shop.concerts[1], user=fan, days_ago=0.01)
    shop.write()
    return fan


def test_the_rebuild_task_writes_an_index_that_the_api_then_uses(shop, eager_celery):
    from analytics.tasks import recs_rebuild as task

    version = task.delay().get()
    fan = a_concert_fan_with_a_fresh_view(shop)

    body = api(fan).get(f"/api/recommend/{fan.pk}?k=5").json()

    assert body["index_version"] == version and len(body["results"]) == 5
    concerts = {e.pk for e in shop.concerts} - {shop.concerts[0].pk, shop.concerts[1].pk}
    assert {r["id"] for r in body["results"]} <= concerts  # the taste, not the other half of the shop
    assert body["results"][0]["reason"].startswith("Because you viewed 流行演唱会")
    first = body["results"][0]
    assert first["url"] == reverse("events:detail", args=[first["id"]]) and first["city"] == "上海"


def test_stored_embeddings_have_a_vector_and_preference_tags(shop):
    recs_rebuild()
    fan = shop.concert_fans[0]
    stored = UserEmbedding._get_collection().find_one({"_id": fan.pk})
    assert len(stored["vector"]) == 64 and stored["metadata"]["last_updated"] is not None
    assert "category:演唱会" in stored["metadata"]["preference_tags"] and "city:上海" in stored["metadata"]["preference_tags"]
    # With no line since the rebuild, the stored embedding answers: still concerts.
    recs = query.recommend_for_user(user=fan, k=3)
    assert {rec.event.city for rec in recs} == {"上海"}


def test_a_running_process_picks_up_a_new_version_without_a_restart(shop):
    first = recs_rebuild().version
    assert recs_index.current().version == first
    newer = ApprovedEventFactory(title="新的演唱会", tickets_left=True, city="上海")
    second = recs_rebuild(now=timezone.now() + timedelta(seconds=1)).version
    # The new version loads in the background; meanwhile the old one keeps answering.
    deadline = time.monotonic() + 10
    while (loaded := recs_index.current()).version != second and time.monotonic() < deadline:
        assert loaded is not None
        time.sleep(0.05)
    assert loaded.version == second and newer.pk in set(loaded.index_ids.tolist())
    assert len(list((recs_dir_path := recs_index.directory()).glob("recs-*.npz"))) == 2 and (recs_dir_path / "current").read_text() == second


def test_past_sold_out_bought_unapproved_and_cancelled_events_are_never_recommended(shop):
    fan = shop.concert_fans[0]
    recs_rebuild()
    past, sold_out, bought, unapproved, cancelled = shop.concerts[2:7]
    Event.objects.filter(pk=past.pk).update(start_time=timezone.now() - timedelta(days=2),
                                            end_time=timezone.now() - timedelta(days=1))
    Event.objects.filter(pk=sold_out.pk).update(tickets_left=False)
    Event.objects.filter(pk=unapproved.pk).update(status=EventStatus.PENDING)
    Event.objects.filter(pk=cancelled.pk).update(status=EventStatus.CANCELLED)
    Order.objects.create(user=fan, event=bought, status="paid", total=100, expires_at=timezone.now(), paid_at=timezone.now())
    shop.log(Action.EVENT_VIEW, shop.concerts[0], user=fan, days_ago=0.01)
    shop.write()

    for recs in (query.recommend_for_user(user=fan, k=50), query.similar_events(event=shop.concerts[0], k=50)):
        ids = {rec.event.pk for rec in recs}
        assert ids and not ids & {past.pk, sold_out.pk, unapproved.pk, cancelled.pk}
    assert bought.pk not in {rec.event.pk for rec in query.recommend_for_user(user=fan, k=50)}


def test_a_purchase_or_a_sell_out_counts_at_once_though_the_users_taste_is_kept(shop, django_assert_max_num_queries):
    fan = shop.concert_fans[0]
    recs_rebuild()
    first = [rec.event.pk for rec in query.recommend_for_user(user=fan, k=5)]
    with django_assert_max_num_queries(2):  # the taste is kept: the candidates a buyer may see, then the cards
        assert [rec.event.pk for rec in query.recommend_for_user(user=fan, k=5)] == first
    bought, sold_out = first[:2]
    Order.objects.create(user=fan, event_id=bought, status="paid", total=100, expires_at=timezone.now(),
                         paid_at=timezone.now())
    Event.objects.filter(pk=sold_out).update(tickets_left=False)
    again = [rec.event.pk for rec in query.recommend_for_user(user=fan, k=5)]
    assert len(again) == 5 and not {bought, sold_out} & set(again) and again[:3] == first[2:]


def test_the_apis_card_is_what_drf_makes_of_its_fields(shop):
    from rest_framework import serializers as drf

    from rest_framework.test import APIRequestFactory

    from analytics.recs.serializers import RecommendationSerializer, card

    Event.objects.filter(pk=shop.concerts[1].pk).update(price_min=None)
    Event.objects.filter(pk=shop.concerts[2].pk).update(cover="covers/2026/12/poster.png", price_min="88.50")
    recs = [query.Rec(event=Event.objects.get(pk=event.pk), score=0.5, reason="x") for event in shop.concerts[:3]]
    for request in (None, APIRequestFactory().get("/api/recommend/1")):
        serializer = RecommendationSerializer(context={"request": request})
        for rec in recs:
            assert card(rec, request=request) == drf.Serializer.to_representation(serializer, rec)


def test_an_anonymous_visitor_gets_popular_events_in_the_city_they_browse(shop):
    recs_rebuild()
    for event in shop.plays[:3]:
        shop.log(Action.EVENT_VIEW, event, anon_id="visitor-1", days_ago=0.01)
    shop.write()

    recs = query.recommend_for_user(user=AnonymousUser(), k=4, anon_id="visitor-1")

    assert len(recs) == 4 and {rec.event.city for rec in recs} == {"北京"}
    assert recs[0].reason == "Popular in 北京"


def test_a_new_user_gets_the_popular_list(shop):
    recs_rebuild()
    newcomer = UserFactory()
    body = api(newcomer).get(f"/api/recommend/{newcomer.pk}").json()
    assert len(body["results"]) == 10 and body["results"][0]["reason"] == "Popular now"


def test_a_user_who_opted_out_gets_no_embedding_and_the_cold_start_list(shop):
    fan = shop.concert_fans[1]
    fan.personalised = False
    fan.save(update_fields=["personalised"])
    recs_rebuild()
    assert UserEmbedding._get_collection().find_one({"_id": fan.pk}) is None
    recs = query.recommend_for_user(user=fan, k=5)
    assert all(not rec.reason.startswith("Because you viewed") for rec in recs)
    assert [rec.event.pk for rec in recs] == [rec.event.pk for rec in query.cold_start(k=5)]


def test_only_the_user_themself_or_an_admin_may_read_their_recommendations(behaviour):
    ApprovedEventFactory(tickets_left=True)
    owner = UserFactory()
    assert api(owner).get(f"/api/recommend/{owner.pk}").status_code == 200
    assert api(UserFactory(role=Role.ADMIN)).get(f"/api/recommend/{owner.pk}").status_code == 200
    for role in (Role.CUSTOMER, Role.PUBLISHER):
        response = api(UserFactory(role=role)).get(f"/api/recommend/{owner.pk}")
        assert response.status_code == 403
    assert APIClient().get(f"/api/recommend/{owner.pk}").status_code == 401
    assert api(UserFactory(role=Role.ADMIN)).get("/api/recommend/999999").status_code == 404
    assert api(UserFactory()).get("/api/recommend/999999").status_code == 403  # nobody learns who exists


@pytest.mark.parametrize("k", ["0", "51", "many"])
def test_a_bad_k_gets_a_clear_400(behaviour, k):
    user = UserFactory()
    response = api(user).get(f"/api/recommend/{user.pk}?k={k}")
    assert response.status_code == 400 and "k" in response.json()


def test_home_and_event_pages_show_the_recommended_blocks(client, shop):
    recs_rebuild()
    fan = a_concert_fan_with_a_fresh_view(shop)
    client.force_login(fan)

    home = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Recommended for you" in home and 'data-track="rec_click"' in home
    assert '"list": "home", "position": 1' in home and "Because you viewed" in home

    page = client.get(reverse("events:detail", args=[shop.concerts[3].pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Similar events" in page and '"list": "similar"' in page and "流行演唱会" in page.split("Similar events")[1]


def test_the_home_page_renders_a_cold_start_block_without_an_index(client, behaviour):
    event = ApprovedEventFactory(title="没有索引也在", tickets_left=True)
    page = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Recommended for you" in page and "没有索引也在" in page.split("Recommended for you")[1]
    assert client.get(reverse("events:detail", args=[event.pk])).status_code == 200


def test_pages_render_without_waiting_when_mongodb_is_down(client, shop):
    import mongoengine
    from django.conf import settings

    from tests.conftest import HungServer

    recs_rebuild()
    fan = shop.concert_fans[0]
    client.force_login(fan)
    query.MONGO_DEADLINE = 0.25  # as the site runs (the fixture puts the test's value back)
    hung = HungServer()  # accepts, never answers
    mongoengine.disconnect(alias=settings.MONGODB_DB_ALIAS)
    mongoengine.connect(host=f"mongodb://127.0.0.1:{hung.port}/nowhere", alias=settings.MONGODB_DB_ALIAS, connect=False,
                        serverSelectionTimeoutMS=3000, socketTimeoutMS=3000, tz_aware=True, uuidRepresentation="standard")
    BehaviourLog._collection = UserEmbedding._collection = None
    try:
        started = time.perf_counter()
        for _ in range(5):
            home = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en")
            assert home.status_code == 200 and "Recommended for you" in home.content.decode()
            assert client.get(reverse("events:detail", args=[shop.concerts[0].pk])).status_code == 200
        assert time.perf_counter() - started < 8  # a page waiting for this MongoDB would wait 2 s or more
    finally:
        from analytics import tracking
        from analytics.mongo import connect

        mongoengine.disconnect(alias=settings.MONGODB_DB_ALIAS)
        connect()
        BehaviourLog._collection = UserEmbedding._collection = None
        tracking._writer.mongo.until = 0.0
        hung.close()


@pytest.mark.browser
def test_a_click_on_a_recommended_card_opens_the_event_and_is_logged(page, shop, screenshot):
    recs_rebuild()
    page.goto("/")
    block = page.get_by_test_id("recs-home")
    cards = block.get_by_test_id("rec-card")
    assert cards.count() >= 3
    screenshot(page, "home")
    first = cards.first.locator("a")
    event_id = int(first.get_attribute("data-track-event"))
    first.click()
    page.wait_for_url(f"**/events/{event_id}/")
    deadline = time.monotonic() + 10
    while not (lines := shop_lines(action="rec_click", event_id=event_id)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert lines and lines[0]["details"]["list"] == "home" and lines[0]["details"]["position"] == 1


def shop_lines(**match) -> list[dict]:
    from analytics import tracking

    tracking.flush(5)
    return list(BehaviourLog._get_collection().find(match, {"_id": 0}))
