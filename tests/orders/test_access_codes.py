"""Access codes: a hidden ticket type (general admission) is shown and sold only to buyers with a code that
unlocks it; the code's limits count tickets, the last one goes once across processes, and expired or
released holds give theirs back."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from orders import promo, services
from orders.models import AccessUse, Order
from tests.factories import UserFactory
from tests.helpers.processes import run_in_processes
from tests.tickets.factories import ga_session, seated_session
from tickets import services as inventory
from tickets.models import Hold, HoldStatus, Stock, TicketType

pytestmark = pytest.mark.django_db
D = Decimal


def presale(*, max_uses=None, max_per_buyer=None, code="FANCLUB"):
    """A GA session with a public Standard (¥100) and a hidden Presale (¥50), and an access code for it."""
    session, types = ga_session(stock={"Standard": 100, "Presale": 20}, prices={"Standard": 100, "Presale": 50})
    inventory.ticket_type_update(actor=session.event.publisher, ticket_type=types["Presale"], name="Presale",
                                 base_price=D("50"), hidden=True)
    access = promo.promo_create(actor=session.event.publisher, event=session.event, code=code, data=promo.PromoData(
        kind="access", value=D("0"), ticket_type_ids=[types["Presale"].pk], max_uses=max_uses,
        max_per_buyer=max_per_buyer))
    return session, types, access


def _hold(buyer, session, tt, n=1, code=""):
    return inventory.hold_create(user=buyer, session=session, quantities={tt.pk: n}, access_code=code)


def test_a_hidden_type_is_not_shown_nor_priced_to_anyone_without_the_code(client):
    session, types, _access = presale()
    inventory.event_summary_refresh(event_id=session.event_id)
    session.event.refresh_from_db()
    assert (session.event.price_min, session.event.price_max) == (D("100.00"), D("100.00"))
    stock = client.get(f"/api/tickets/{session.event_id}/stock").json()
    assert [t["name"] for t in stock[0]["ticket_types"]] == ["Standard"]
    listed = client.get(f"/api/tickets/{session.event_id}/types").json()
    assert [t["name"] for t in listed] == ["Standard"]
    unlocked = client.get(f"/api/tickets/{session.event_id}/types", {"access_code": "fanclub"}).json()
    assert [(t["name"], t["hidden"]) for t in unlocked] == [("Standard", False), ("Presale", True)]
    assert client.get(f"/api/tickets/{session.event_id}/types", {"access_code": "WRONG"}).status_code == 400
    page = client.get(f"/sessions/{session.pk}/").content.decode()
    assert 'data-testid="access-form"' in page and "Presale" not in page


def test_a_hold_of_hidden_tickets_needs_a_code_that_unlocks_them():
    session, types, _access = presale()
    buyer = UserFactory()
    other_hidden = TicketType.objects.create(event=session.event, name="Crew", base_price=D("1"), hidden=True)
    promo.promo_create(actor=session.event.publisher, event=session.event, code="CREWONLY", data=promo.PromoData(
        kind="access", value=D("0"), ticket_type_ids=[other_hidden.pk]))
    refusals = []
    for code in ("", "NOPE", "CREWONLY"):
        with pytest.raises(promo.DomainError) as caught:
            _hold(buyer, session, types["Presale"], code=code)
        refusals.append(caught.value.code)
    assert refusals == ["access_code_required", "promo_invalid", "promo_invalid"]
    assert not Hold.objects.exists()
    hold = _hold(buyer, session, types["Presale"], 2, code=" fanclub ")
    assert AccessUse.objects.get().hold_id == hold.pk and AccessUse.objects.get().quantity == 2
    _hold(UserFactory(), session, types["Standard"])  # the public type needs nothing


def test_the_codes_limits_count_tickets_and_holds_that_end_give_theirs_back():
    session, types, _access = presale(max_uses=3, max_per_buyer=2)
    first, second = UserFactory(), UserFactory()
    held = _hold(first, session, types["Presale"], 2, code="FANCLUB")
    with pytest.raises(promo.PromoInvalid, match="as often as it allows"):
        _hold(first, session, types["Presale"], 1, code="FANCLUB")
    _hold(second, session, types["Presale"], 1, code="FANCLUB")
    with pytest.raises(promo.PromoUsedUp):
        _hold(UserFactory(), session, types["Presale"], 1, code="FANCLUB")
    Hold.objects.filter(pk=held.pk).update(expires_at=timezone.now() - timedelta(seconds=1))  # lapsed
    _hold(first, session, types["Presale"], 2, code="FANCLUB")
    assert [c.uses for c in promo.with_access_uses([promo.PromoCode.objects.get(code="FANCLUB")])] == [3]


def take_last(user_id: int, session_id: int, tt_id: int) -> str:
    from accounts.models import User
    from tickets.models import Session

    connection.close()
    try:
        inventory.hold_create(user=User.objects.get(pk=user_id), session=Session.objects.get(pk=session_id),
                              quantities={tt_id: 1}, access_code="FANCLUB")
    except promo.DomainError as exc:
        return exc.code
    return "held"


@pytest.mark.django_db(transaction=True)
def test_four_buyers_taking_the_last_ticket_a_code_allows_get_it_once():
    session, types, _access = presale(max_uses=1)
    buyers = [UserFactory() for _ in range(4)]

    results = run_in_processes(take_last, [(b.pk, session.pk, types["Presale"].pk) for b in buyers])

    assert sorted(results) == ["held", "promo_used_up", "promo_used_up", "promo_used_up"]
    assert Hold.objects.filter(status=HoldStatus.ACTIVE).count() == AccessUse.objects.count() == 1


def test_codes_are_checked_when_made_and_an_access_code_is_no_discount():
    session, types, _access = presale()
    publisher = session.event.publisher
    with pytest.raises(promo.DomainError, match="hidden ticket types"):
        promo.promo_create(actor=publisher, event=session.event, code="PUBLIC1", data=promo.PromoData(
            kind="access", value=D("0"), ticket_type_ids=[types["Standard"].pk]))
    with pytest.raises(promo.DomainError, match="hidden ticket types"):
        promo.promo_create(actor=publisher, event=session.event, code="NOTYPES", data=promo.PromoData(
            kind="access", value=D("0"), ticket_type_ids=[]))
    buyer = UserFactory()
    hold = _hold(buyer, session, types["Presale"], code="FANCLUB")
    order = services.order_create(user=buyer, hold_ids=[hold.pk])
    with pytest.raises(promo.PromoInvalid):
        promo.order_apply_promo(user=buyer, order_id=order.pk, code="FANCLUB")
    assert Order.objects.get(pk=order.pk).total == D("50.00")


def test_a_seated_type_cannot_be_hidden_nor_a_hidden_one_put_on_a_map():
    session, types = seated_session()
    with pytest.raises(promo.DomainError, match="sold by seat"):
        inventory.ticket_type_update(actor=session.event.publisher, ticket_type=types["Standard"], name="Standard",
                                     base_price=D("280"), hidden=True)
    hidden = inventory.ticket_type_create(actor=session.event.publisher, event=session.event, name="Secret",
                                          base_price=D("10"), hidden=True)
    layout = {"sections": [{"name": "B", "ticket_type": hidden.pk, "rows": 1, "seats": 2}]}
    with pytest.raises(Exception, match="ticket type"):
        inventory.seat_map_create(actor=session.event.publisher, event=session.event, name="Map", layout=layout)


def test_on_the_page_the_code_shows_the_hidden_tickets_and_holds_them(client):
    session, types, _access = presale()
    buyer = UserFactory()
    client.force_login(buyer)
    wrong = client.post(f"/sessions/{session.pk}/access/", {"code": "nope"}, HTTP_REFERER=f"/sessions/{session.pk}/",
                        follow=True)
    assert "Presale" not in wrong.content.decode().split('data-testid="ga-form"')[1].split("</form>")[0]
    client.post(f"/sessions/{session.pk}/access/", {"code": "fanclub"})
    Stock.objects.filter(session=session, ticket_type=types["Presale"]).update(available=0, sold=20)  # sold out
    page = client.get(f"/sessions/{session.pk}/").content.decode()
    assert 'data-testid="unlocked-type"' in page and 'data-testid="access-unlocked"' in page
    assert 'data-testid="waitlist"' not in page  # no waiting list for a hidden type
    Stock.objects.filter(session=session, ticket_type=types["Presale"]).update(available=20, sold=0)
    held = client.post(f"/sessions/{session.pk}/hold/", {f"qty-{types['Presale'].pk}": "2"})
    assert held.status_code == 302
    assert Hold.objects.get(user=buyer).items.get().ticket_type_id == types["Presale"].pk


def test_the_api_holds_and_orders_hidden_tickets_with_the_code():
    session, types, _access = presale()
    api = APIClient()
    api.force_authenticate(UserFactory())
    body = {"session": session.pk, "quantities": {str(types["Presale"].pk): 1}}
    refused = api.post("/api/tickets/holds", body, format="json")
    assert (refused.status_code, refused.json()["code"]) == (403, "access_code_required")
    assert api.post("/api/tickets/holds", {**body, "access_code": "FANCLUB"}, format="json").status_code == 201
    ordered = api.post("/api/orders/create", {**body, "access_code": "FANCLUB"}, format="json")
    assert ordered.status_code == 201 and ordered.json()["total"] == "50.00"


def test_the_publisher_makes_an_access_code_on_the_page_and_sees_its_uses(client):
    session, types, _access = presale()
    client.force_login(session.event.publisher)
    made = client.post(f"/publisher/events/{session.event_id}/promo-codes/", {
        "code": "VIPONLY", "kind": "access", "ticket_types": [types["Presale"].pk], "count": 1})
    assert made.status_code == 302
    _hold(UserFactory(), session, types["Presale"], 3, code="VIPONLY")
    page = client.get(f"/publisher/events/{session.event_id}/promo-codes/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "VIPONLY" in page and "3 used" in page and "Unlocks: Presale" in page
