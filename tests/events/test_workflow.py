"""The review workflow: every legal and illegal transition, history and notifications."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Notification
from events import services
from events.models import Category, EventStatus, EventTransition
from events.services import EventData
from tests.factories import UserFactory
from ticketing.errors import DomainError, Forbidden

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_celery")]
S = EventStatus


@pytest.fixture
def category():
    root = Category.objects.add_root({"slug": "show", "name_zh": "演出", "name_en": "Shows"})
    return Category.objects.add_child(root, {"slug": "concert", "name_zh": "演唱会", "name_en": "Concerts"})


@pytest.fixture
def publisher():
    return UserFactory(role="publisher", email="pub@example.com")


@pytest.fixture
def admin():
    return UserFactory(role="admin", is_staff=True, email="admin@example.com")


def data(category, **overrides) -> EventData:
    start = timezone.now() + timedelta(days=30)
    values = {"title": "周杰伦 嘉年华 世界巡回演唱会 北京站", "start_time": start, "end_time": start + timedelta(hours=3),
              "venue": "国家体育场", "city": "北京", "category": category, "tags": ["流行", "pop"],
              "description": '<p>Hello <script>alert(1)</script><a href="https://x.example" onclick="x()">link</a></p>'}
    values.update(overrides)
    return EventData(**values)


def make(publisher, category, status=S.DRAFT, admin=None):
    event = services.event_create(publisher=publisher, data=data(category))
    if status in (S.PENDING, S.APPROVED, S.REJECTED):
        event = services.event_submit(actor=publisher, event=event)
    if status == S.APPROVED:
        event = services.event_approve(actor=admin, event=event)
    if status == S.REJECTED:
        event = services.event_reject(actor=admin, event=event, reason="海报不清晰")
    return event


def test_a_publisher_creates_a_sanitised_draft(publisher, category):
    event = services.event_create(publisher=publisher, data=data(category))
    assert event.status == S.DRAFT
    assert "<script" not in event.description and "onclick" not in event.description
    assert '<a href="https://x.example" rel="noopener nofollow">link</a>' in event.description
    assert sorted(event.tags.values_list("name", flat=True)) == ["pop", "流行"]
    assert event.transitions.get().to_status == S.DRAFT


def test_only_publishers_create_events(category):
    with pytest.raises(Forbidden):
        services.event_create(publisher=UserFactory(role="customer"), data=data(category))


def test_an_event_must_end_after_it_starts(publisher, category):
    start = timezone.now() + timedelta(days=3)
    with pytest.raises(DomainError):
        services.event_create(publisher=publisher, data=data(category, start_time=start, end_time=start))


def test_the_full_happy_path_records_who_when_and_why(publisher, admin, category):
    event = make(publisher, category)
    event = services.event_submit(actor=publisher, event=event)
    assert event.status == S.PENDING and event.submitted_at
    event = services.event_reject(actor=admin, event=event, reason="请补充场馆地址")
    assert event.status == S.REJECTED and event.review_reason == "请补充场馆地址"
    event = services.event_update(actor=publisher, event=event, data=data(category, title="改好的标题"))
    event = services.event_submit(actor=publisher, event=event)
    event = services.event_approve(actor=admin, event=event, reason="")
    assert event.status == S.APPROVED and event.reviewed_at
    steps = [(t.from_status, t.to_status, t.actor_id, t.reason) for t in event.transitions.all()]
    assert steps == [
        ("", S.DRAFT, publisher.pk, ""),
        (S.DRAFT, S.PENDING, publisher.pk, ""),
        (S.PENDING, S.REJECTED, admin.pk, "请补充场馆地址"),
        (S.REJECTED, S.PENDING, publisher.pk, ""),
        (S.PENDING, S.APPROVED, admin.pk, ""),
    ]


@pytest.mark.parametrize(("start", "move"), [
    (S.DRAFT, "approve"), (S.DRAFT, "reject"), (S.APPROVED, "submit"), (S.APPROVED, "approve"),
    (S.REJECTED, "approve"), (S.PENDING, "submit"), (S.CANCELLED, "submit"), (S.CANCELLED, "cancel"),
])
def test_illegal_transitions_are_refused_and_change_nothing(publisher, admin, category, start, move):
    event = make(publisher, category, status=start if start != S.CANCELLED else S.DRAFT, admin=admin)
    if start == S.CANCELLED:
        event = services.event_cancel(actor=publisher, event=event)
    before = (event.status, EventTransition.objects.count(), Notification.objects.count())
    call = {
        "approve": lambda: services.event_approve(actor=admin, event=event),
        "reject": lambda: services.event_reject(actor=admin, event=event, reason="x"),
        "submit": lambda: services.event_submit(actor=publisher, event=event),
        "cancel": lambda: services.event_cancel(actor=publisher, event=event),
    }[move]
    with pytest.raises(services.IllegalTransition):
        call()
    event.refresh_from_db()
    assert (event.status, EventTransition.objects.count(), Notification.objects.count()) == before


def test_rejection_needs_a_reason(publisher, admin, category):
    event = make(publisher, category, status=S.PENDING, admin=admin)
    with pytest.raises(services.ReasonRequired):
        services.event_reject(actor=admin, event=event, reason="  ")
    event.refresh_from_db()
    assert event.status == S.PENDING


def test_wrong_people_cannot_move_an_event(publisher, admin, category):
    event = make(publisher, category)
    stranger = UserFactory(role="publisher")
    with pytest.raises(Forbidden):
        services.event_submit(actor=stranger, event=event)
    with pytest.raises(Forbidden):
        services.event_update(actor=stranger, event=event, data=data(category))
    services.event_submit(actor=publisher, event=event)
    with pytest.raises(Forbidden):
        services.event_approve(actor=publisher, event=event)  # no self-approval
    with pytest.raises(Forbidden):
        services.event_approve(actor=UserFactory(role="customer"), event=event)


def test_a_pending_event_is_frozen_and_a_cancelled_one_is_final(publisher, admin, category):
    event = make(publisher, category, status=S.PENDING, admin=admin)
    with pytest.raises(services.NotEditable):
        services.event_update(actor=publisher, event=event, data=data(category))
    event = services.event_cancel(actor=admin, event=event, reason="场馆取消")
    with pytest.raises(services.NotEditable):
        services.event_update(actor=publisher, event=event, data=data(category))


def test_editing_a_public_event_keeps_it_public_and_tells_the_admins(publisher, admin, category):
    event = make(publisher, category, status=S.APPROVED, admin=admin)
    before = Notification.objects.filter(user=admin, kind="event.edited").count()
    event = services.event_update(actor=publisher, event=event, data=data(category, venue="梅赛德斯奔驰文化中心"))
    assert event.status == S.APPROVED and event.venue == "梅赛德斯奔驰文化中心"
    assert Notification.objects.filter(user=admin, kind="event.edited").count() == before + 1
    assert event.transitions.last().note == "edited while public"


def test_each_transition_notifies_the_right_people_once_in_their_language(publisher, admin, category):
    publisher.language = "en"
    publisher.save()
    second_admin = UserFactory(role="admin", is_staff=True, email="admin2@example.com")
    event = make(publisher, category)
    services.event_submit(actor=publisher, event=event)
    for a in (admin, second_admin):
        assert Notification.objects.filter(user=a, kind="event.submitted").count() == 1
    assert Notification.objects.filter(user=publisher).count() == 0

    services.event_reject(actor=admin, event=event, reason="缺少海报")
    note = Notification.objects.get(user=publisher, kind="event.rejected")
    assert note.title.startswith("Not approved:") and "缺少海报" in note.body
    assert {m.to[0] for m in mail.outbox} >= {"admin@example.com", "admin2@example.com", "pub@example.com"}

    services.event_submit(actor=publisher, event=event)
    services.event_approve(actor=admin, event=event)
    assert Notification.objects.filter(user=publisher, kind="event.approved").count() == 1
    assert Notification.objects.filter(user=admin, kind="event.submitted").count() == 2


def test_a_rolled_back_transition_announces_nothing(publisher, admin, category):
    from django.db import transaction

    event = make(publisher, category)
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            services.event_submit(actor=publisher, event=event)
            raise RuntimeError("something later failed")
    event.refresh_from_db()
    assert event.status == S.DRAFT
    assert not Notification.objects.filter(kind="event.submitted").exists()
    assert not mail.outbox


def test_a_cover_is_stored_as_a_jpeg_no_larger_than_1600_by_1200(publisher, category):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    raw = io.BytesIO()
    Image.new("RGB", (4000, 2000), (10, 120, 200)).save(raw, format="PNG")
    upload = SimpleUploadedFile("poster.png", raw.getvalue(), content_type="image/png")
    event = services.event_create(publisher=publisher, data=data(category, cover=upload))
    with Image.open(event.cover.path) as stored:
        assert stored.format == "JPEG" and stored.size == (1600, 800)
