"""Promo codes (优惠码): the discount a buyer sees before paying and pays, the uses counted exactly (also the
last one, by several processes at once), released when an order ends unpaid; the publisher's codes."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from analytics import stats
from analytics.scope import StatsScope
from orders import promo, services
from orders.models import Order, PromoCode
from tests.factories import UserFactory
from tests.helpers.processes import run_in_processes
from tests.orders.flows import assert_wallet_consistent, pending_order
from tests.tickets.factories import ga_session
from tickets.services import hold_create

D = Decimal


def _code(event, code="SPRING20", *, kind="percent", value="20", types=(), **limits) -> PromoCode:
    return promo.promo_create(actor=event.publisher, event=event, code=code, data=promo.PromoData(
        kind=kind, value=D(value), ticket_type_ids=[t.pk for t in types], **limits))


def _pay(order):
    services.order_pay(user=order.user, order_id=order.pk, idempotency_key=uuid.uuid4().hex)
    order.refresh_from_db()
    return order


@pytest.mark.django_db
def test_a_percentage_is_taken_off_before_payment_and_the_order_pays_and_refunds_what_it_shows():
    order = pending_order(UserFactory(), seats=2, price=250)
    _code(order.event, "spring20")
    order = promo.order_apply_promo(user=order.user, order_id=order.pk, code=" Spring20 ")
    assert (order.total, order.discount, order.promo_code.code) == (D("400.00"), D("100.00"), "SPRING20")
    order = _pay(order)
    assert sorted(order.tickets.values_list("price", flat=True)) == [D("200.00"), D("200.00")]
    wallet = assert_wallet_consistent(order.user)
    assert wallet.balance == D("5000.00") - D("400.00")
    today = timezone.localdate()
    assert stats.sales(scope=StatsScope(start=today, end=today, event_ids=[order.event_id]),
                       rollup=False)[0]["revenue"] == D("400.00")
    refund = services.refund_request(user=order.user, order_id=order.pk, reason="行程冲突")
    assert refund.amount == D("400.00")


@pytest.mark.django_db
def test_a_fixed_amount_covers_only_the_ticket_types_it_names_and_never_goes_below_zero():
    session, types = ga_session(stock={"VIP": 10, "Standard": 10}, prices={"VIP": 300, "Standard": 80})
    buyer = UserFactory()
    hold = hold_create(user=buyer, session=session, quantities={types["VIP"].pk: 1, types["Standard"].pk: 2})
    order = services.order_create(user=buyer, hold_ids=[hold.pk])
    _code(session.event, "VIP50", kind="fixed", value="50", types=[types["VIP"]])
    _code(session.event, "FREEBIE", kind="fixed", value="500", types=[types["Standard"]])
    order = promo.order_apply_promo(user=buyer, order_id=order.pk, code="VIP50")
    assert (order.total, order.discount) == (D("410.00"), D("50.00"))
    order = promo.order_apply_promo(user=buyer, order_id=order.pk, code="FREEBIE")  # replaces the first
    assert (order.total, order.discount) == (D("300.00"), D("160.00"))
    assert PromoCode.objects.get(code="VIP50").uses == 0
    order = promo.order_remove_promo(user=buyer, order_id=order.pk)
    assert (order.total, order.discount, order.promo_code) == (D("460.00"), D("0.00"), None)
    assert PromoCode.objects.get(code="FREEBIE").uses == 0


@pytest.mark.django_db
def test_codes_that_do_not_apply_are_refused_and_change_nothing():
    session, types = ga_session(stock={"VIP": 10, "Standard": 10})
    buyer = UserFactory()
    order = services.order_create(user=buyer, hold_ids=[
        hold_create(user=buyer, session=session, quantities={types["Standard"].pk: 1}).pk])
    other_session, _ = ga_session()
    now = timezone.now()
    _code(other_session.event, "ELSEWHERE")
    _code(session.event, "LATER", valid_from=now + timedelta(days=1))
    _code(session.event, "OVER", valid_until=now - timedelta(minutes=1))
    _code(session.event, "VIPONLY", types=[types["VIP"]])
    promo.promo_switch(actor=session.event.publisher, promo=_code(session.event, "OFFNOW"), active=False)
    for text, message in [("NOPE", "No such promo code for this event."), ("ELSEWHERE", "No such promo code"),
                          ("OFFNOW", "No such promo code"), ("LATER", "not valid now"), ("OVER", "not valid now"),
                          ("VIPONLY", "not for these tickets"), ("", "No such promo code")]:
        with pytest.raises(promo.PromoInvalid) as caught:
            promo.order_apply_promo(user=buyer, order_id=order.pk, code=text)
        assert message in str(caught.value), text
    order.refresh_from_db()
    assert (order.total, order.discount) == (D("100.00"), D("0.00"))
    assert set(PromoCode.objects.values_list("uses", flat=True)) == {0}
    with pytest.raises(services.NotFound):
        promo.order_apply_promo(user=UserFactory(), order_id=order.pk, code="LATER")


@pytest.mark.django_db
def test_the_last_use_goes_once_and_comes_back_when_its_order_ends_unpaid():
    first = pending_order(UserFactory(), seats=1)
    _code(first.event, "ONLYONE", max_uses=1)
    second = pending_order(UserFactory(), seats=1, session=_session_of(first))
    promo.order_apply_promo(user=first.user, order_id=first.pk, code="ONLYONE")
    with pytest.raises(promo.PromoUsedUp):
        promo.order_apply_promo(user=second.user, order_id=second.pk, code="ONLYONE")
    services.order_cancel(user=first.user, order_id=first.pk)
    assert PromoCode.objects.get(code="ONLYONE").uses == 0
    promo.order_apply_promo(user=second.user, order_id=second.pk, code="ONLYONE")
    Order.objects.filter(pk=second.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.orders_expire_due() == 1
    assert PromoCode.objects.get(code="ONLYONE").uses == 0


def _session_of(order):
    return order.order_holds.get().hold.session


@pytest.mark.django_db
def test_a_buyer_uses_a_code_as_often_as_it_allows():
    buyer = UserFactory()
    first = pending_order(buyer, seats=1)
    _code(first.event, "ONCEEACH", max_per_buyer=1)
    promo.order_apply_promo(user=buyer, order_id=first.pk, code="ONCEEACH")
    _pay(first)
    second = pending_order(buyer, seats=1, session=_session_of(first))
    with pytest.raises(promo.PromoInvalid) as caught:
        promo.order_apply_promo(user=buyer, order_id=second.pk, code="ONCEEACH")
    assert "as often as it allows" in str(caught.value)
    with pytest.raises(promo.Conflict) as caught:
        promo.order_apply_promo(user=first.user, order_id=first.pk, code="ONCEEACH")
    assert caught.value.code == "promo_not_pending"


def apply(user_id: int, order_id: int) -> str:
    from accounts.models import User
    from orders import promo

    try:
        promo.order_apply_promo(user=User.objects.get(pk=user_id), order_id=order_id, code="LASTONE")
    except promo.DomainError as exc:
        return exc.code
    return "applied"


@pytest.mark.django_db(transaction=True)
def test_four_buyers_taking_the_last_use_at_once_get_it_once():
    orders = [pending_order(UserFactory(), seats=1)]
    orders += [pending_order(UserFactory(), seats=1, session=_session_of(orders[0])) for _ in range(3)]
    _code(orders[0].event, "LASTONE", max_uses=1)

    results = run_in_processes(apply, [(o.user_id, o.pk) for o in orders])

    assert sorted(results) == ["applied", "promo_used_up", "promo_used_up", "promo_used_up"]
    assert PromoCode.objects.get(code="LASTONE").uses == 1
    assert Order.objects.filter(promo_code__code="LASTONE").count() == 1


@pytest.mark.django_db
def test_bulk_codes_are_unique_single_use_and_export_as_csv(client):
    session, types = ga_session()
    event = session.event
    codes = promo.promo_generate(actor=event.publisher, event=event, count=50, prefix="vip", data=promo.PromoData(
        kind="fixed", value=D("30"), ticket_type_ids=[types["Standard"].pk]))
    stored = PromoCode.objects.filter(event=event)
    assert len(codes) == stored.count() == 50 and len(set(stored.values_list("code", flat=True))) == 50
    assert all(c.startswith("VIP") and len(c) == 13 for c in stored.values_list("code", flat=True))
    assert set(stored.values_list("max_uses", "max_per_buyer")) == {(1, 1)}
    assert all(list(c.ticket_types.all()) == [types["Standard"]] for c in stored)
    client.force_login(event.publisher)
    response = client.get(f"/publisher/events/{event.pk}/promo-codes/?format=csv")
    assert response["Content-Type"].startswith("text/csv")
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff") and len(body.strip().splitlines()) == 51
    with pytest.raises(services.DomainError):
        promo.promo_generate(actor=event.publisher, event=event, count=0, data=promo.PromoData("fixed", D(1), []))


@pytest.mark.django_db
def test_the_publisher_makes_codes_on_the_page_and_the_buyer_applies_one_on_the_order(client):
    order = pending_order(UserFactory(), seats=2, price=250)
    event = order.event
    client.force_login(event.publisher)
    response = client.post(f"/publisher/events/{event.pk}/promo-codes/", {
        "code": "vip88", "kind": "percent", "value": "10", "count": "1",
        "ticket_types": [event.ticket_types.get().pk]})
    assert response.status_code == 302
    assert list(PromoCode.objects.get(code="VIP88").ticket_types.all()) == [event.ticket_types.get()]
    response = client.post(f"/publisher/events/{event.pk}/promo-codes/", {"code": "", "kind": "fixed",
                                                                          "value": "5", "count": "10"})
    assert PromoCode.objects.filter(event=event).count() == 11
    response = client.post(f"/publisher/events/{event.pk}/promo-codes/", {"code": "VIP88", "kind": "percent",
                                                                          "value": "5", "count": "1"})
    assert response.status_code == 200 and "VIP88" in response.content.decode()  # the form again, with why
    assert 'name="value" value="5"' in response.content.decode()
    page = client.get(f"/publisher/events/{event.pk}/promo-codes/").content.decode()
    assert "VIP88" in page and page.count('data-testid="promo-code"') == 11
    other = UserFactory(role=Role.PUBLISHER)
    client.force_login(other)
    assert client.get(f"/publisher/events/{event.pk}/promo-codes/").status_code == 404

    client.force_login(order.user)
    response = client.post(f"/orders/{order.pk}/promo/", {"code": "VIP88"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 302
    page = client.get(f"/orders/{order.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'data-testid="discount">−¥50.00' in page and "支付 450 积分" in page
    response = client.post(f"/orders/{order.pk}/promo/", {"code": "NOPE"}, HTTP_ACCEPT_LANGUAGE="zh-hans",
                           HTTP_REFERER=f"http://testserver/orders/{order.pk}/")
    page = client.get(f"/orders/{order.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "该活动没有这个优惠码。" in page
    order.refresh_from_db()
    assert order.total == D("450.00")  # the code it had stays


@pytest.mark.django_db
def test_the_api_applies_and_removes_a_code_and_publishers_list_theirs():
    order = pending_order(UserFactory(), seats=2, price=250)
    _code(order.event, "API10", kind="fixed", value="10")
    api = APIClient()
    api.force_authenticate(order.user)
    response = api.post(f"/api/orders/{order.pk}/promo", {"code": "api10"}, format="json")
    assert response.status_code == 200 and (response.json()["total"], response.json()["discount"]) == ("480.00", "20.00")
    response = api.post(f"/api/orders/{order.pk}/promo", {"code": "nope"}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "promo_invalid")
    assert api.delete(f"/api/orders/{order.pk}/promo").json()["total"] == "500.00"
    api.force_authenticate(UserFactory())
    assert api.post(f"/api/orders/{order.pk}/promo", {"code": "api10"}, format="json").status_code == 404

    api.force_authenticate(order.event.publisher)
    response = api.post(f"/api/events/{order.event_id}/promo-codes", {
        "code": "TEAM", "kind": "percent", "value": "15", "max_uses": 5}, format="json")
    assert response.status_code == 201 and response.json()["code"] == "TEAM"
    response = api.post(f"/api/events/{order.event_id}/promo-codes", {"kind": "fixed", "value": "3", "count": 5},
                        format="json")
    assert response.status_code == 201 and len(response.json()["codes"]) == 5
    assert all(c["id"] and c["max_uses"] == 1 for c in response.json()["codes"])
    assert len(api.get(f"/api/events/{order.event_id}/promo-codes").json()) == 7
    response = api.post(f"/api/events/{order.event_id}/promo-codes", {"code": "TEAM", "kind": "percent",
                                                                      "value": "150"}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "promo_value")
    api.force_authenticate(UserFactory(role=Role.PUBLISHER))
    assert api.get(f"/api/events/{order.event_id}/promo-codes").status_code == 404
