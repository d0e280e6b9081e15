"""想看: a buyer marks events they want, sees them on "my wanted events", and may unmark them; the page's
button, the list page and the API (reminders: tests/tickets/test_reminders.py)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from events import services
from events.models import EventStatus, Favourite
from events.services import NotWantable
from tests.events.factories import ApprovedEventFactory, EventFactory
from tests.factories import UserFactory
from tests.helpers.processes import run_in_processes
from tests.tickets.factories import ga_session
from ticketing.errors import NotFound
from tickets.models import Session

pytestmark = pytest.mark.django_db


@pytest.fixture
def buyer():
    return UserFactory(role=Role.CUSTOMER, language="zh-hans")


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


# --- the service ------------------------------------------------------------------------


def test_marking_twice_keeps_one_mark_and_unmarking_twice_is_harmless(buyer):
    event = ApprovedEventFactory()
    first, created = services.favourite_add(user=buyer, event_id=event.pk)
    again, created_again = services.favourite_add(user=buyer, event_id=event.pk)
    assert (created, created_again) == (True, False) and first.pk == again.pk
    assert services.favourite_remove(user=buyer, event_id=event.pk) is True
    assert services.favourite_remove(user=buyer, event_id=event.pk) is False
    assert not Favourite.objects.exists()


def test_a_draft_cannot_be_wanted_and_another_publishers_draft_is_not_even_found(buyer):
    draft = EventFactory()
    with pytest.raises(NotFound):
        services.favourite_add(user=buyer, event_id=draft.pk)
    with pytest.raises(NotWantable):  # its publisher sees it, but the public does not yet
        services.favourite_add(user=draft.publisher, event_id=draft.pk)
    with pytest.raises(NotFound):
        services.favourite_add(user=buyer, event_id=draft.pk + 1000)
    assert not Favourite.objects.exists()


def want(user_id: int, event_id: int) -> bool:
    from accounts.models import User
    from events import services

    return services.favourite_add(user=User.objects.get(pk=user_id), event_id=event_id)[1]


@pytest.mark.django_db(transaction=True)
def test_four_taps_at_the_same_instant_make_one_mark():
    buyer, event = UserFactory(), ApprovedEventFactory()
    created = run_in_processes(want, [(buyer.pk, event.pk)] * 4)
    assert sorted(created) == [False, False, False, True]
    assert Favourite.objects.filter(user=buyer, event=event).count() == 1


# --- the event page's button -------------------------------------------------------------


def test_the_event_page_offers_the_mark_and_counts_who_want_it(client, buyer):
    event = ApprovedEventFactory()
    for other in UserFactory.create_batch(2):
        services.favourite_add(user=other, event_id=event.pk)
    client.force_login(buyer)
    page = client.get(reverse("events:detail", args=[event.pk])).content.decode()
    assert "想看" in page and "2 人想看" in page and 'aria-pressed="false"' in page


def test_a_visitor_is_sent_to_log_in_and_back_to_the_event(client):
    event = ApprovedEventFactory()
    page = client.get(reverse("events:detail", args=[event.pk])).content.decode()
    assert f"/accounts/login/?next=/events/{event.pk}/" in page
    response = client.post(reverse("events:want", args=[event.pk]), {"want": "1"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not Favourite.objects.exists()


def test_pressing_the_button_without_javascript_marks_and_comes_back_with_a_word(client, buyer):
    event = ApprovedEventFactory()
    client.force_login(buyer)
    back = reverse("events:detail", args=[event.pk])
    response = client.post(reverse("events:want", args=[event.pk]), {"want": "1", "next": back}, follow=True)
    assert response.redirect_chain[-1][0] == back
    page = response.content.decode()
    assert "已加入想看，开售时我们会通知你。" in page and 'aria-pressed="true"' in page and "1 人想看" in page
    assert Favourite.objects.filter(user=buyer, event=event).exists()


def test_a_next_address_off_the_site_is_not_followed(client, buyer):
    event = ApprovedEventFactory()
    client.force_login(buyer)
    response = client.post(reverse("events:want", args=[event.pk]), {"want": "1", "next": "https://evil.example/"})
    assert response["Location"] == reverse("events:detail", args=[event.pk])


def test_with_htmx_the_button_is_redrawn_in_place_both_ways(client, buyer):
    event = ApprovedEventFactory()
    client.force_login(buyer)
    url = reverse("events:want", args=[event.pk])
    marked = client.post(url, {"want": "1"}, headers={"HX-Request": "true"}).content.decode()
    assert f'id="want-{event.pk}"' in marked and 'aria-pressed="true"' in marked and "1 人想看" in marked
    assert "<html" not in marked
    unmarked = client.post(url, {"want": "0"}, headers={"HX-Request": "true"}).content.decode()
    assert 'aria-pressed="false"' in unmarked and "0 人想看" in unmarked
    assert not Favourite.objects.exists()


def test_wanting_a_draft_from_the_page_says_why_and_marks_nothing(client):
    draft = EventFactory()
    client.force_login(draft.publisher)
    response = client.post(reverse("events:want", args=[draft.pk]), {"want": "1"}, headers={"HX-Request": "true"})
    assert response.status_code == 409 and "只有公开销售的活动才能加入想看" in response.content.decode()
    assert not Favourite.objects.exists()


# --- 我的想看 --------------------------------------------------------------------------------


def test_my_wanted_events_show_when_sales_open_and_never_another_buyers(client, buyer):
    soon, _types = ga_session()
    Session.objects.filter(pk=soon.pk).update(sales_start=timezone.now() + timedelta(days=2, hours=3, minutes=30))
    on_sale, _types = ga_session()
    cancelled = ApprovedEventFactory(title="取消了的演出")
    for event_id in (soon.event_id, on_sale.event_id, cancelled.pk):
        services.favourite_add(user=buyer, event_id=event_id)
    cancelled.status = EventStatus.CANCELLED
    cancelled.save()
    someone_else = ApprovedEventFactory(title="别人的想看")
    other = UserFactory()
    services.favourite_add(user=other, event_id=someone_else.pk)
    services.favourite_add(user=other, event_id=on_sale.event_id)  # wanted by two: still one row of mine

    client.force_login(buyer)
    page = client.get(reverse("tickets:wanted")).content.decode()
    assert page.count('data-testid="wanted-row"') == 3 and "别人的想看" not in page
    assert 'data-state="not_yet"' in page and "2天 03:" in page  # the countdown, before its script runs
    assert 'data-state="on_sale"' in page and reverse("tickets:session", args=[on_sale.pk]) in page
    assert 'data-state="cancelled"' in page and "取消了的演出" in page


def test_removing_from_my_wanted_events_keeps_me_on_the_list(client, buyer):
    event = ApprovedEventFactory(title="不想看了")
    services.favourite_add(user=buyer, event_id=event.pk)
    client.force_login(buyer)
    listing = reverse("tickets:wanted")
    response = client.post(reverse("events:want", args=[event.pk]), {"want": "0", "next": listing}, follow=True)
    assert response.redirect_chain[-1][0] == listing
    assert "不想看了" not in response.content.decode() and 'data-testid="wanted-empty"' in response.content.decode()


# --- the API ----------------------------------------------------------------------------------


def test_the_api_marks_lists_and_unmarks(buyer):
    event = ApprovedEventFactory()
    api = api_for(buyer)
    first = api.put(f"/api/events/{event.pk}/want")
    assert first.status_code == 201 and first.json() == {"wanted": True, "wanted_count": 1}
    assert api.put(f"/api/events/{event.pk}/want").status_code == 200
    listed = api.get("/api/events/wanted").json()
    assert [row["id"] for row in listed["results"]] == [event.pk]
    assert listed["results"][0]["status"] == "approved" and listed["results"][0]["wanted_at"]
    assert api.delete(f"/api/events/{event.pk}/want").status_code == 204
    assert api.get("/api/events/wanted").json()["count"] == 0


def test_the_api_lists_only_the_callers_own_marks(buyer):
    theirs = ApprovedEventFactory()
    services.favourite_add(user=UserFactory(), event_id=theirs.pk)
    assert api_for(buyer).get("/api/events/wanted").json()["count"] == 0


def test_the_api_refuses_a_draft_in_the_callers_language(buyer):
    draft = EventFactory()
    response = api_for(draft.publisher).put(f"/api/events/{draft.pk}/want", headers={"Accept-Language": "en"})
    assert response.status_code == 409 and response.json()["code"] == "not_public"
    assert "Only events on sale to the public" in response.json()["detail"]
    assert api_for(buyer).put(f"/api/events/{draft.pk}/want").status_code == 404
