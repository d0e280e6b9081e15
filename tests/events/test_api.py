"""The events JSON API: create with a cover, the review workflow, visibility,
notifications (rows, email, websocket push), search, categories and the inbox."""

import io
import os
from collections import Counter
from datetime import datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from accounts.consumers import NotificationConsumer
from accounts.models import Notification, Role
from accounts.serializers import RoleRefreshToken
from events import services
from events.models import Category, Event, EventStatus, EventTransition
from events.services import EventData
from tests.events.factories import ApprovedEventFactory, CategoryFactory
from tests.factories import UserFactory
from tests.helpers.aio import run

pytestmark = pytest.mark.django_db
S = EventStatus


# --- callers ------------------------------------------------------------------------------
def as_user(user=None, lang="en") -> APIClient:
    """An API client speaking `lang`, logged in with a JWT when `user` is given."""
    client = APIClient(HTTP_ACCEPT_LANGUAGE=lang)
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RoleRefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def publisher():
    return UserFactory(role=Role.PUBLISHER, email="pub@example.com")


@pytest.fixture
def other_publisher():
    return UserFactory(role=Role.PUBLISHER, email="other-pub@example.com")


@pytest.fixture
def admin():
    return UserFactory(role=Role.ADMIN, is_staff=True, email="admin@example.com")


@pytest.fixture
def customer():
    return UserFactory(role=Role.CUSTOMER)


@pytest.fixture
def category():
    """演出 › 演唱会 (the event's category), and a second root, 体育."""
    shows = CategoryFactory(slug="shows", name_zh="演出", name_en="Shows")
    CategoryFactory(slug="sports", name_zh="体育", name_en="Sports")
    return CategoryFactory(parent=shows, slug="concerts", name_zh="演唱会", name_en="Concerts")


# --- events in a given state --------------------------------------------------------------
def event_data(category, **overrides) -> EventData:
    start = timezone.now() + timedelta(days=30)
    values = {"title": "周杰伦 嘉年华 世界巡回演唱会", "start_time": start, "end_time": start + timedelta(hours=3),
              "venue": "国家体育场", "city": "北京", "category": category, "tags": ["流行"]}
    return EventData(**{**values, **overrides})


def make_event(publisher, category, status=S.DRAFT, admin=None, **overrides) -> Event:
    """An event brought to `status` through the services, as the pages would."""
    admin = admin or UserFactory(role=Role.ADMIN)
    event = services.event_create(publisher=publisher, data=event_data(category, **overrides))
    if status in (S.PENDING, S.APPROVED, S.REJECTED):
        event = services.event_submit(actor=publisher, event=event)
    if status == S.APPROVED:
        event = services.event_approve(actor=admin, event=event, reason="排版很好")
    if status == S.REJECTED:
        event = services.event_reject(actor=admin, event=event, reason="海报不清晰")
    if status == S.CANCELLED:
        event = services.event_cancel(actor=publisher, event=event)
    return event


def payload(category, **overrides) -> dict:
    start = datetime.fromisoformat("2030-05-01T19:30:00+08:00")
    return {
        "title": "Jazz at the Bund", "description": "<p>Live <b>jazz</b><script>alert(1)</script></p>",
        "start_time": start.isoformat(), "end_time": (start + timedelta(hours=2)).isoformat(),
        "venue": "和平饭店", "city": "上海", "address": "南京东路 20 号", "category": category.pk,
        "tags": ["jazz", "爵士"], "real_name_required": True, **overrides,
    }


def image_file(name="poster.png", size=(800, 450), image_format="PNG", noise=False) -> SimpleUploadedFile:
    if noise:  # incompressible: the file is as large as the pixels
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        image = Image.new("RGB", size, (200, 30, 60))
    out = io.BytesIO()
    image.save(out, format=image_format)
    return SimpleUploadedFile(name, out.getvalue(), content_type=f"image/{image_format.lower()}")


def status_of(event: Event) -> str:
    return Event.objects.get(pk=event.pk).status


# --- create -------------------------------------------------------------------------------
def test_a_publisher_creates_a_draft_from_json_and_gets_the_whole_event_back(publisher, category):
    response = as_user(publisher).post("/api/events/create", payload(category), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    event = Event.objects.get(pk=body["id"])
    assert (event.publisher, event.status, event.city, event.real_name_required) == (publisher, S.DRAFT, "上海", True)
    assert event.start_time == datetime.fromisoformat("2030-05-01T11:30:00+00:00")
    assert "<script" not in event.description and "<b>jazz</b>" in event.description
    assert body["status"] == "draft" and body["url"] == f"/events/{event.pk}/"
    assert body["category"] == {"id": category.pk, "name": "Concerts"}
    assert sorted(body["tags"]) == ["jazz", "爵士"] and body["cover"] is None
    assert datetime.fromisoformat(body["start_time"]) == event.start_time
    assert event.transitions.get().to_status == S.DRAFT


def test_a_publisher_creates_an_event_with_a_real_png_cover(publisher, category):
    data = {**payload(category), "cover": image_file()}

    response = as_user(publisher).post("/api/events/create", data, format="multipart")

    assert response.status_code == 201, response.content
    assert response.json()["cover"].startswith("http://testserver/media/covers/")
    assert sorted(response.json()["tags"]) == ["jazz", "爵士"] and response.json()["real_name_required"] is True
    event = Event.objects.get(pk=response.json()["id"])
    with event.cover.open("rb") as stored, Image.open(stored) as image:
        assert (image.format, image.size) == ("JPEG", (800, 450))  # stored as JPEG, within 1600×1200


@pytest.mark.parametrize(("cover", "message"), [
    (SimpleUploadedFile("poster.png", b"<?php system($_GET['c']); ?>", content_type="image/png"),
     "Upload a JPEG, PNG or WebP image."),
    (image_file("poster.gif", image_format="GIF"), "Upload a JPEG, PNG or WebP image."),
    (image_file(size=(6001, 10)), "The image is larger than 6000 × 6000 pixels."),
    (image_file(size=(1400, 1400), noise=True), "The image is larger than 5 MB."),
], ids=["not-an-image", "gif", "too-wide", "too-heavy"])
def test_a_cover_that_is_not_a_small_enough_real_image_is_refused(publisher, category, cover, message):
    response = as_user(publisher).post("/api/events/create", {**payload(category), "cover": cover}, format="multipart")

    assert response.status_code == 400
    assert response.json() == {"cover": [message]}
    assert not Event.objects.exists()


def test_customers_and_anonymous_callers_cannot_create_events(customer, admin, category):
    assert as_user(customer).post("/api/events/create", payload(category), format="json").status_code == 403
    assert as_user(admin).post("/api/events/create", payload(category), format="json").status_code == 403
    assert as_user().post("/api/events/create", payload(category), format="json").status_code == 401
    assert not Event.objects.exists()


def test_an_event_that_ends_before_it_starts_is_refused_with_the_reason(publisher, category):
    data = payload(category, end_time="2030-05-01T18:00:00+08:00")

    response = as_user(publisher).post("/api/events/create", data, format="json")

    assert response.status_code == 400
    assert response.json() == {"detail": "The event must end after it starts.", "code": "ends_before_start"}
    assert not Event.objects.exists()


def test_missing_fields_and_an_unknown_category_are_field_errors(publisher, category):
    response = as_user(publisher).post("/api/events/create", {**payload(category), "category": 999999, "title": ""},
                                       format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"title", "category"}
    assert not Event.objects.exists()


# --- the review workflow ------------------------------------------------------------------
def test_a_draft_goes_through_submit_reject_edit_resubmit_and_approve(publisher, admin, category):
    owner, reviewer = as_user(publisher), as_user(admin)
    event_id = owner.post("/api/events/create", payload(category), format="json").json()["id"]

    submitted = owner.post(f"/api/events/{event_id}/submit")
    assert submitted.status_code == 200 and submitted.json()["status"] == "pending"
    assert as_user().get(f"/api/events/{event_id}").status_code == 404

    rejected = reviewer.put(f"/api/events/{event_id}/approve", {"decision": "reject", "reason": "Blurry poster"},
                            format="json")
    assert rejected.status_code == 200
    assert (rejected.json()["status"], rejected.json()["review_reason"]) == ("rejected", "Blurry poster")

    edited = owner.patch(f"/api/events/{event_id}", {"title": "Jazz at the Bund (new poster)"}, format="json")
    assert edited.status_code == 200 and edited.json()["title"] == "Jazz at the Bund (new poster)"
    assert edited.json()["venue"] == "和平饭店" and sorted(edited.json()["tags"]) == ["jazz", "爵士"]

    resubmitted = owner.post(f"/api/events/{event_id}/submit")
    assert resubmitted.status_code == 200 and resubmitted.json()["status"] == "pending"

    approved = reviewer.put(f"/api/events/{event_id}/approve", {"decision": "approve"}, format="json")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    public = as_user().get(f"/api/events/{event_id}")
    assert public.status_code == 200 and public.json()["title"] == "Jazz at the Bund (new poster)"
    moves = list(EventTransition.objects.filter(event_id=event_id).values_list("from_status", "to_status", "actor"))
    assert moves == [("", "draft", publisher.pk), ("draft", "pending", publisher.pk),
                     ("pending", "rejected", admin.pk), ("rejected", "pending", publisher.pk),
                     ("pending", "approved", admin.pk)]


def test_the_publisher_cancels_their_own_event_with_a_reason(publisher, admin, category):
    event = make_event(publisher, category, S.APPROVED, admin=admin)

    response = as_user(publisher).post(f"/api/events/{event.pk}/cancel", {"reason": "场馆维修"}, format="json")

    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert event.transitions.last().reason == "场馆维修"
    assert as_user().get(f"/api/events/{event.pk}").status_code == 404


def test_an_admin_cancels_a_publishers_event(publisher, admin, category):
    event = make_event(publisher, category, S.PENDING, admin=admin)

    response = as_user(admin).post(f"/api/events/{event.pk}/cancel", {"reason": "Duplicate"}, format="json")

    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert event.transitions.last().actor == admin


@pytest.mark.parametrize(("lang", "message"), [
    ("en", "This event is Draft; it cannot become Approved."),
    ("zh-CN", "此活动目前为草稿，不能变为已通过。"),
], ids=["en", "zh-CN"])
def test_approving_a_draft_is_a_conflict_explained_in_the_callers_language(publisher, admin, category, lang, message):
    event = make_event(publisher, category, S.DRAFT)

    response = as_user(admin, lang=lang).put(f"/api/events/{event.pk}/approve", {"decision": "approve"}, format="json")

    assert response.status_code == 409
    assert response.json() == {"detail": message, "code": "illegal_transition"}
    assert status_of(event) == S.DRAFT


@pytest.mark.parametrize(("lang", "message"), [
    ("en", "Give the publisher a reason for the rejection."),
    ("zh-CN", "请填写驳回理由，告知主办方。"),
], ids=["en", "zh-CN"])
def test_rejecting_without_a_reason_is_refused_in_the_callers_language(publisher, admin, category, lang, message):
    event = make_event(publisher, category, S.PENDING)

    response = as_user(admin, lang=lang).put(f"/api/events/{event.pk}/approve", {"decision": "reject", "reason": "  "},
                                             format="json")

    assert response.status_code == 400
    assert response.json() == {"detail": message, "code": "reason_required"}
    assert status_of(event) == S.PENDING


@pytest.mark.parametrize(("start", "method", "action", "data", "code"), [
    (S.PENDING, "post", "submit", None, "illegal_transition"),
    (S.APPROVED, "put", "approve", {"decision": "approve"}, "illegal_transition"),
    (S.APPROVED, "put", "approve", {"decision": "reject", "reason": "late"}, "illegal_transition"),
    (S.REJECTED, "put", "approve", {"decision": "approve"}, "illegal_transition"),
    (S.CANCELLED, "post", "cancel", {"reason": "again"}, "illegal_transition"),
    (S.CANCELLED, "post", "submit", None, "illegal_transition"),
    (S.PENDING, "patch", "", {"title": "Frozen"}, "not_editable"),
    (S.CANCELLED, "patch", "", {"title": "Final"}, "not_editable"),
], ids=["submit-pending", "approve-approved", "reject-approved", "approve-rejected", "cancel-cancelled",
        "submit-cancelled", "edit-pending", "edit-cancelled"])
def test_illegal_moves_are_conflicts_that_change_nothing(publisher, admin, category, start, method, action, data, code):
    event = make_event(publisher, category, start, admin=admin)
    caller = admin if action == "approve" else publisher
    url = f"/api/events/{event.pk}/{action}".rstrip("/")

    response = getattr(as_user(caller), method)(url, data, format="json")

    assert response.status_code == 409, response.content
    assert response.json()["code"] == code
    assert status_of(event) == start
    assert Event.objects.get(pk=event.pk).title == event.title


def test_another_publisher_cannot_see_submit_edit_or_cancel_someone_elses_event(publisher, other_publisher, category):
    draft = make_event(publisher, category, S.DRAFT)
    stranger = as_user(other_publisher)

    assert stranger.get(f"/api/events/{draft.pk}").status_code == 404
    assert stranger.post(f"/api/events/{draft.pk}/submit").status_code == 404
    assert stranger.patch(f"/api/events/{draft.pk}", {"title": "Mine now"}, format="json").status_code == 404
    assert stranger.post(f"/api/events/{draft.pk}/cancel", {}, format="json").status_code == 404
    unchanged = Event.objects.get(pk=draft.pk)
    assert (unchanged.status, unchanged.title) == (S.DRAFT, draft.title)
    assert unchanged.transitions.count() == 1


def test_another_publisher_cannot_edit_a_public_event_either(publisher, other_publisher, category):
    event = make_event(publisher, category, S.APPROVED)

    response = as_user(other_publisher).patch(f"/api/events/{event.pk}", {"title": "Mine now"}, format="json")

    assert response.status_code == 404
    assert Event.objects.get(pk=event.pk).title == event.title


def test_only_admins_review_and_nobody_else_can_approve(publisher, customer, category):
    event = make_event(publisher, category, S.PENDING)
    body = {"decision": "approve"}

    assert as_user(publisher).put(f"/api/events/{event.pk}/approve", body, format="json").status_code == 403
    assert as_user(customer).put(f"/api/events/{event.pk}/approve", body, format="json").status_code == 403
    assert as_user().put(f"/api/events/{event.pk}/approve", body, format="json").status_code == 401
    assert status_of(event) == S.PENDING


def test_reviewing_an_unknown_event_is_404_and_a_bad_decision_a_field_error(publisher, admin, category):
    event = make_event(publisher, category, S.PENDING)

    assert as_user(admin).put("/api/events/999999/approve", {"decision": "approve"}, format="json").status_code == 404
    bad = as_user(admin).put(f"/api/events/{event.pk}/approve", {"decision": "maybe"}, format="json")
    assert bad.status_code == 400 and "decision" in bad.json()
    assert status_of(event) == S.PENDING


def test_a_partial_edit_keeps_the_other_fields_and_can_replace_the_cover(publisher, category):
    event = make_event(publisher, category, S.REJECTED)
    original = Event.objects.get(pk=event.pk)

    response = as_user(publisher).patch(f"/api/events/{event.pk}", {"city": "杭州", "cover": image_file("new.webp",
                                        image_format="WEBP")}, format="multipart")

    assert response.status_code == 200, response.content
    edited = Event.objects.get(pk=event.pk)
    assert edited.city == "杭州" and edited.cover.name != original.cover.name and edited.cover.name.endswith(".jpg")
    assert (edited.title, edited.venue, edited.start_time, edited.category) == (
        original.title, original.venue, original.start_time, original.category)
    assert list(edited.tags.values_list("name", flat=True)) == ["流行"]
    assert edited.status == S.REJECTED


# --- notifications: rows, email, websocket --------------------------------------------------
def kinds_by_user() -> Counter:
    return Counter(Notification.objects.values_list("user__email", "kind"))


def test_each_transition_notifies_the_right_people_once(publisher, admin, category):
    second_admin = UserFactory(role=Role.ADMIN, email="admin2@example.com")
    owner, reviewer = as_user(publisher), as_user(admin)
    event_id = owner.post("/api/events/create", payload(category), format="json").json()["id"]
    assert kinds_by_user() == Counter()

    owner.post(f"/api/events/{event_id}/submit")
    assert kinds_by_user() == Counter({("admin@example.com", "event.submitted"): 1,
                                       ("admin2@example.com", "event.submitted"): 1})

    reviewer.put(f"/api/events/{event_id}/approve", {"decision": "reject", "reason": "Blurry"}, format="json")
    owner.post(f"/api/events/{event_id}/submit")
    reviewer.put(f"/api/events/{event_id}/approve", {"decision": "approve"}, format="json")
    as_user(second_admin).post(f"/api/events/{event_id}/cancel", {"reason": "Venue closed"}, format="json")

    assert kinds_by_user() == Counter({
        ("admin@example.com", "event.submitted"): 2,
        ("admin2@example.com", "event.submitted"): 2,
        ("pub@example.com", "event.rejected"): 1,
        ("pub@example.com", "event.approved"): 1,
        ("pub@example.com", "event.cancelled"): 1,
    })
    rejection = Notification.objects.get(kind="event.rejected")
    assert "Blurry" in rejection.body


def test_a_publisher_cancelling_a_public_event_tells_every_admin_once(publisher, admin, category):
    event = make_event(publisher, category, S.APPROVED, admin=admin)
    Notification.objects.all().delete()

    as_user(publisher).post(f"/api/events/{event.pk}/cancel", {"reason": "Sick"}, format="json")

    assert kinds_by_user() == Counter({("admin@example.com", "event.cancelled"): 1})


def test_a_refused_move_notifies_nobody(publisher, admin, category):
    event = make_event(publisher, category, S.PENDING, admin=admin)
    before = kinds_by_user()

    as_user(admin).put(f"/api/events/{event.pk}/approve", {"decision": "reject"}, format="json")
    as_user(publisher).post(f"/api/events/{event.pk}/submit")

    assert kinds_by_user() == before


def test_the_publisher_is_emailed_when_the_event_is_rejected(publisher, admin, category, eager_celery,
                                                             django_capture_on_commit_callbacks):
    event = make_event(publisher, category, S.PENDING, admin=admin)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(admin).put(f"/api/events/{event.pk}/approve", {"decision": "reject", "reason": "海报模糊"},
                                      format="json")

    assert response.status_code == 200
    assert [message.to for message in mail.outbox] == [["pub@example.com"]]
    assert event.title in mail.outbox[0].subject and "海报模糊" in mail.outbox[0].body


@pytest.mark.django_db(transaction=True)
def test_the_decision_is_pushed_to_the_publishers_open_pages(publisher, admin, category):
    event = make_event(publisher, category, S.PENDING, admin=admin)

    def approve():
        return as_user(admin).put(f"/api/events/{event.pk}/approve", {"decision": "approve"}, format="json")

    async def scenario():
        communicator = WebsocketCommunicator(NotificationConsumer.as_asgi(), "/ws/notifications/")
        communicator.scope["user"] = publisher
        connected, _ = await communicator.connect()
        assert connected
        greeting = await communicator.receive_json_from(timeout=5)
        response = await sync_to_async(approve)()
        pushed = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return greeting, response, pushed

    greeting, response, pushed = run(scenario())

    assert greeting == {"unread": 0}
    assert response.status_code == 200
    note = Notification.objects.get(user=publisher, kind="event.approved")
    assert pushed["unread"] == 1
    assert pushed["notification"]["id"] == note.pk and event.title in pushed["notification"]["title"]


# --- visibility -----------------------------------------------------------------------------
@pytest.mark.parametrize("status", [S.DRAFT, S.PENDING, S.REJECTED, S.CANCELLED])
def test_an_unpublished_event_is_visible_only_to_its_publisher_and_admins(
        publisher, other_publisher, customer, admin, category, status):
    event = make_event(publisher, category, status, admin=admin)

    for stranger in (None, customer, other_publisher):
        assert as_user(stranger).get(f"/api/events/{event.pk}").status_code == 404
    for insider in (publisher, admin):
        response = as_user(insider).get(f"/api/events/{event.pk}")
        assert response.status_code == 200 and response.json()["status"] == status


def test_an_approved_event_is_public_but_the_reviewers_note_is_not(publisher, customer, admin, category):
    event = make_event(publisher, category, S.APPROVED, admin=admin)

    public = as_user().get(f"/api/events/{event.pk}")
    for_customer = as_user(customer).get(f"/api/events/{event.pk}")
    for_owner = as_user(publisher).get(f"/api/events/{event.pk}")

    assert public.status_code == for_customer.status_code == for_owner.status_code == 200
    assert public.json()["title"] == event.title and public.json()["status"] == "approved"
    assert public.json()["review_reason"] == for_customer.json()["review_reason"] == ""
    assert for_owner.json()["review_reason"] == "排版很好"


def test_an_unknown_event_is_404():
    assert as_user().get("/api/events/999999").status_code == 404


# --- lists: mine, the review queue -------------------------------------------------------------
def test_a_publisher_lists_their_own_events_in_every_status_with_the_reason(publisher, other_publisher, admin,
                                                                            category):
    mine = {status: make_event(publisher, category, status, admin=admin).pk for status in S.values}
    make_event(other_publisher, category, S.APPROVED, admin=admin)

    response = as_user(publisher).get("/api/events/mine")

    assert response.status_code == 200
    results = response.json()["results"]
    assert response.json()["count"] == 5
    assert {item["id"]: item["status"] for item in results} == {pk: status for status, pk in mine.items()}
    assert next(item for item in results if item["status"] == "rejected")["review_reason"] == "海报不清晰"


def test_the_review_queue_lists_pending_events_the_longest_waiting_first(publisher, other_publisher, admin,
                                                                         category):
    first = services.event_create(publisher=other_publisher, data=event_data(category, title="First in"))
    second = services.event_create(publisher=publisher, data=event_data(category, title="Second in"))
    services.event_submit(actor=other_publisher, event=first)
    services.event_submit(actor=publisher, event=second)
    Event.objects.filter(pk=first.pk).update(submitted_at=timezone.now() - timedelta(hours=1))
    make_event(publisher, category, S.DRAFT)
    make_event(publisher, category, S.APPROVED, admin=admin)

    response = as_user(admin).get("/api/events/review-queue")

    assert response.status_code == 200
    assert [item["title"] for item in response.json()["results"]] == ["First in", "Second in"]


# --- search ---------------------------------------------------------------------------------
CARD_FIELDS = {"id", "title", "start_time", "end_time", "venue", "city", "category", "tags", "price_min",
               "price_max", "tickets_left", "cover", "url"}


def test_search_finds_approved_events_only_with_the_card_fields(publisher, admin, category):
    public = make_event(publisher, category, S.APPROVED, admin=admin)
    make_event(publisher, category, S.PENDING, admin=admin)
    make_event(publisher, category, S.DRAFT)

    response = as_user().get("/api/events/search")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1 and body["next"] is None
    item = body["results"][0]
    assert set(item) == CARD_FIELDS
    assert (item["id"], item["url"], item["tags"]) == (public.pk, f"/events/{public.pk}/", ["流行"])
    assert item["category"] == {"id": category.pk, "name": "Concerts"}


def test_search_filters_by_city_and_category_subtree(publisher, admin, category):
    sports = Category.objects.get(slug="sports")
    shanghai = make_event(publisher, category, S.APPROVED, admin=admin, title="Shanghai Jazz Night", city="上海")
    beijing = make_event(publisher, category, S.APPROVED, admin=admin, title="Beijing Rock Night", city="北京")
    match = make_event(publisher, sports, S.APPROVED, admin=admin, title="Beijing Marathon", city="北京")

    def ids(**params):
        response = as_user().get("/api/events/search", params)
        assert response.status_code == 200, response.content
        return {item["id"] for item in response.json()["results"]}

    assert ids(city="上海") == {shanghai.pk}
    assert ids(category=Category.objects.get(slug="shows").pk) == {shanghai.pk, beijing.pk}  # 演出 includes 演唱会
    assert ids(category=sports.pk, city="北京") == {match.pk}


@pytest.mark.django_db(transaction=True)  # InnoDB's full-text index sees committed rows only
def test_search_finds_words_in_chinese_and_english(category):
    jazz = ApprovedEventFactory(category=category, title="Shanghai Jazz Night", tags=["爵士"])
    rock = ApprovedEventFactory(category=category, title="北京摇滚之夜")

    def ids(q):
        response = as_user().get("/api/events/search", {"q": q})
        assert response.status_code == 200, response.content
        return [item["id"] for item in response.json()["results"]]

    assert ids("jazz") == [jazz.pk]
    assert ids("爵士") == [jazz.pk]
    assert ids("摇滚") == [rock.pk]


def test_search_filters_by_dates_prices_and_tickets_left_and_sorts_by_price(category):
    march = ApprovedEventFactory(category=category, start_time=datetime.fromisoformat("2030-03-31T20:00:00+08:00"),
                                 price_min=80, price_max=280, tickets_left=True)
    april = ApprovedEventFactory(category=category, start_time=datetime.fromisoformat("2030-04-01T20:00:00+08:00"),
                                 price_min=480, price_max=1280, tickets_left=False)

    def ids(**params):
        response = as_user().get("/api/events/search", params)
        assert response.status_code == 200, response.content
        return [item["id"] for item in response.json()["results"]]

    assert ids(date_from="2030-03-01", date_to="2030-03-31") == [march.pk]
    assert ids(date_from="2030-04-01") == [april.pk]
    assert ids(price_min="300") == [april.pk]
    assert ids(price_max="100") == [march.pk]
    assert ids(available="true") == [march.pk]
    assert ids(sort="-price") == [april.pk, march.pk]
    assert ids(sort="price") == [march.pk, april.pk]


def test_search_pages_twenty_events_at_a_time(publisher, admin, category):
    for n in range(21):
        make_event(publisher, category, S.APPROVED, admin=admin, title=f"Show {n}",
                   start_time=timezone.now() + timedelta(days=10 + n), end_time=timezone.now() + timedelta(days=11 + n))

    first = as_user().get("/api/events/search", {"sort": "start"}).json()
    second = as_user().get("/api/events/search", {"sort": "start", "page": 2}).json()

    assert first["count"] == second["count"] == 21
    assert len(first["results"]) == 20 and "page=2" in first["next"] and first["previous"] is None
    assert [item["title"] for item in second["results"]] == ["Show 20"]
    assert as_user().get("/api/events/search", {"page": 3}).status_code == 404


@pytest.mark.parametrize(("lang", "message"), [
    ("en", "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."),
    ("zh-CN", "日期格式错误。请从这些格式中选择：YYYY-MM-DD。"),
], ids=["en", "zh-CN"])
def test_a_bad_date_is_refused_in_the_callers_language(lang, message):
    response = as_user(lang=lang).get("/api/events/search", {"date_from": "next friday"})

    assert response.status_code == 400
    assert response.json() == {"date_from": [message]}


def test_an_unknown_sort_or_a_negative_price_is_refused():
    response = as_user().get("/api/events/search", {"sort": "cheapest", "price_min": "-1"})

    assert response.status_code == 400
    assert set(response.json()) == {"sort", "price_min"}


# --- categories -----------------------------------------------------------------------------
def test_the_category_tree_is_nested_and_named_in_the_callers_language(category):
    english = as_user(lang="en").get("/api/categories")
    chinese = as_user(lang="zh-CN").get("/api/categories")

    assert english.status_code == chinese.status_code == 200
    concerts = {"id": category.pk, "slug": "concerts", "name": "Concerts", "name_zh": "演唱会",
                "name_en": "Concerts", "children": []}
    shows, sports = english.json()
    assert shows == {"id": Category.objects.get(slug="shows").pk, "slug": "shows", "name": "Shows", "name_zh": "演出",
                     "name_en": "Shows", "children": [concerts]}
    assert (sports["slug"], sports["children"]) == ("sports", [])
    assert [node["name"] for node in chinese.json()] == ["演出", "体育"]
    assert chinese.json()[0]["children"][0]["name"] == "演唱会"


# --- the inbox ------------------------------------------------------------------------------
def note(user, title="Hello", read=False) -> Notification:
    return Notification.objects.create(user=user, kind="test", title=title,
                                       read_at=timezone.now() if read else None)


def test_the_inbox_lists_only_ones_own_notifications_newest_first_with_the_unread_count(customer, publisher):
    note(customer, "old", read=True)
    note(customer, "new")
    note(publisher, "not yours")

    response = as_user(customer).get("/api/notifications")

    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["unread"]) == (2, 1)
    assert [item["title"] for item in body["results"]] == ["new", "old"]
    assert set(body["results"][0]) == {"id", "kind", "title", "body", "url", "created_at", "read_at"}
    assert as_user().get("/api/notifications").status_code == 401


def test_marking_one_notification_read_touches_only_that_one(customer):
    first, second = note(customer), note(customer)

    response = as_user(customer).post("/api/notifications/read", {"id": first.pk}, format="json")

    assert response.status_code == 200 and response.json() == {"marked": 1, "unread": 1}
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None and second.read_at is None


def test_marking_all_read_leaves_other_peoples_notifications_alone(customer, publisher):
    note(customer)
    note(customer)
    theirs = note(publisher)

    response = as_user(customer).post("/api/notifications/read", {}, format="json")

    assert response.json() == {"marked": 2, "unread": 0}
    assert not Notification.objects.filter(user=customer, read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_someone_elses_notification_cannot_be_marked_read(customer, publisher):
    theirs = note(publisher)

    response = as_user(customer).post("/api/notifications/read", {"id": theirs.pk}, format="json")

    assert response.status_code == 200 and response.json() == {"marked": 0, "unread": 0}
    theirs.refresh_from_db()
    assert theirs.read_at is None


# --- schema ---------------------------------------------------------------------------------
def test_the_openapi_schema_documents_every_events_endpoint():
    response = as_user().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    paths, components = schema["paths"], schema["components"]["schemas"]
    expected = {
        "/api/events/create": {"post"}, "/api/events/search": {"get"}, "/api/events/mine": {"get"},
        "/api/events/review-queue": {"get"}, "/api/events/{event_id}": {"get", "patch"},
        "/api/events/{event_id}/submit": {"post"}, "/api/events/{event_id}/cancel": {"post"},
        "/api/events/{event_id}/approve": {"put"}, "/api/categories": {"get"},
        "/api/notifications": {"get"}, "/api/notifications/read": {"post"},
    }
    for path, methods in expected.items():
        assert methods <= paths[path].keys(), path
    create = paths["/api/events/create"]["post"]
    assert set(create["requestBody"]["content"]) >= {"multipart/form-data", "application/json"}
    assert components["EventWrite"]["properties"]["cover"]["format"] == "binary"
    assert create["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/Event")
    search = paths["/api/events/search"]["get"]
    assert {"q", "category", "city", "date_from", "date_to", "price_min", "price_max", "available", "sort",
            "page"} <= {parameter["name"] for parameter in search["parameters"]}
    assert search["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/PaginatedEventCardList")
    assert components["CategoryNode"]["properties"]["children"]["items"]["$ref"].endswith("/CategoryNode")
    assert components["Review"]["required"] == ["decision"]
    inbox = paths["/api/notifications"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert "unread" in components[inbox["$ref"].rsplit("/", 1)[1]]["properties"]
