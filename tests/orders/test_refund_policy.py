"""Refund rules (退票规则): the publisher's policy, the fee a buyer sees before asking, the ledger, the waiver."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from rest_framework.test import APIClient

from accounts.models import Role
from analytics import stats
from analytics.scope import StatsScope
from events.models import Event
from events.refunds import RefundPolicy, clean_tiers
from orders import services
from orders.models import LedgerEntry, LedgerKind, OrderStatus, Refund, TicketStatus
from tests.factories import UserFactory
from tests.orders.flows import assert_wallet_consistent, move_sessions, paid_order

pytestmark = pytest.mark.django_db

SEVEN_DAYS_FREE_THEN_20 = [[168, 0], [24, 20]]


def _policy(order, kind, tiers=()):
    Event.objects.filter(pk=order.event_id).update(refund_policy=kind, refund_tiers=list(tiers))
    order.event.refresh_from_db()


def _starts_in(order, hours: float):
    move_sessions(order, start=timezone.now() + timedelta(hours=hours))


@pytest.fixture
def order():
    buyer = UserFactory()
    order = paid_order(buyer, seats=2, price=250)  # 500 points
    _policy(order, "tiered", SEVEN_DAYS_FREE_THEN_20)
    return order


def test_tiers_are_kept_most_hours_first_and_refused_when_they_do_not_hold():
    assert clean_tiers([(24, 20), (168, 0)]) == [[168, 0.0], [24, 20.0]]
    for rows, code in [([], "tiers_missing"), ([(24, 20), (24, 10)], "tier_twice"),
                       ([(168, 30), (24, 10)], "tier_order"), ([(1, 1)] * 5, "tiers_too_many"),
                       ([(24, 101)], "tier_percent"), ([(24, "1.25")], "tier_percent"), ([(-1, 0)], "tier_hours"),
                       ([("x", 0)], "tier_invalid"), ([(24,)], "tier_invalid")]:
        with pytest.raises(ValidationError) as caught:
            clean_tiers(rows)
        assert caught.value.code == code, rows


def test_the_policy_reads_as_sentences_in_both_languages():
    policy = RefundPolicy("tiered", RefundPolicy.of(Event(refund_policy="tiered",
                                                          refund_tiers=SEVEN_DAYS_FREE_THEN_20)).tiers)
    assert policy.lines() == ["Until 7 days before the session: free.",
                              "Until 1 day before the session: a 20% fee.", "After that: no refunds."]
    with translation.override("zh-hans"):
        assert policy.lines() == ["演出前 7 天以上：免费退票。", "演出前 1 天以上：收取 20% 手续费。", "此后不可退票。"]


@pytest.mark.parametrize("hours, fee, allowed", [(240, "0.00", True), (72, "100.00", True), (12, "0.00", False)])
def test_the_fee_follows_the_tier_of_the_time_left(order, hours, fee, allowed):
    _starts_in(order, hours)
    quote = services.refund_quote(order=order)
    assert (quote.allowed, quote.fee) == (allowed, Decimal(fee))
    if allowed:
        assert quote.amount == Decimal("500.00") - Decimal(fee)
    else:
        assert quote.why_not == "Refunds closed 24 hours before the session."


def test_no_refunds_and_free_refunds_policies(order):
    _starts_in(order, 240)
    _policy(order, "none")
    assert services.refund_quote(order=order).why_not == "This event's tickets cannot be refunded."
    with pytest.raises(services.RefundNotAllowed):
        services.refund_request(user=order.user, order_id=order.pk, reason="行程冲突")
    _policy(order, "tiered", [])  # tiers lost outside the form (the admin, a script): nothing refundable
    assert services.refund_quote(order=order).why_not == "This event's tickets cannot be refunded."
    _policy(order, "free")
    quote = services.refund_quote(order=order)
    assert (quote.allowed, quote.fee, quote.amount) == (True, Decimal("0.00"), Decimal("500.00"))


def test_the_fee_is_fixed_when_asked_and_approval_returns_the_rest_through_the_ledger(order):
    _starts_in(order, 72)
    admin = UserFactory(role=Role.ADMIN)
    refund = services.refund_request(user=order.user, order_id=order.pk, reason="行程冲突",
                                     expected_fee=Decimal("100.00"))
    assert (refund.amount, refund.fee) == (Decimal("400.00"), Decimal("100.00"))
    _starts_in(order, 240)  # the tier the request found stays, however the session moves afterwards
    refund = services.refund_review(actor=admin, refund_id=refund.pk, approve=True)
    assert (refund.amount, refund.fee) == (Decimal("400.00"), Decimal("100.00"))
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    entries = LedgerEntry.objects.filter(order=order).order_by("pk")
    assert [(e.kind, e.amount) for e in entries] == [
        (LedgerKind.PURCHASE, Decimal("-500.00")), (LedgerKind.REFUND, Decimal("500.00")),
        (LedgerKind.FEE, Decimal("-100.00"))]
    assert_wallet_consistent(order.user)
    assert set(order.tickets.values_list("status", flat=True)) == {TicketStatus.VOID}
    # The fee stays the organiser's revenue in the statistics: refunded 400 of 500.
    today = timezone.localdate()
    totals = stats.sales(scope=StatsScope(start=today, end=today, event_ids=[order.event_id]), rollup=False)
    assert (totals[0]["revenue"], totals[0]["refund_amount"], totals[0]["net"]) == (
        Decimal("500.00"), Decimal("400.00"), Decimal("100.00"))


def test_a_fee_that_changed_since_the_buyer_looked_refuses_the_request_and_changes_nothing(order):
    _starts_in(order, 72)
    with pytest.raises(services.RefundFeeChanged) as caught:
        services.refund_request(user=order.user, order_id=order.pk, reason="行程冲突", expected_fee=Decimal("0"))
    assert "100.00" in str(caught.value)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and not Refund.objects.exists()


def test_an_admin_waives_the_fee_only_with_a_reason_and_the_waiver_is_kept(order):
    _starts_in(order, 72)
    admin = UserFactory(role=Role.ADMIN)
    refund = services.refund_request(user=order.user, order_id=order.pk, reason="生病")
    with pytest.raises(services.DomainError) as caught:
        services.refund_review(actor=admin, refund_id=refund.pk, approve=True, waive_fee=True)
    assert caught.value.code == "waiver_reason_required"
    refund.refresh_from_db()
    assert (refund.status, refund.fee) == ("requested", Decimal("100.00"))
    refund = services.refund_review(actor=admin, refund_id=refund.pk, approve=True, waive_fee=True,
                                    reason="医院证明")
    assert (refund.amount, refund.fee, refund.fee_waived_by, refund.fee_waiver_reason) == (
        Decimal("500.00"), Decimal("0.00"), admin, "医院证明")
    assert not LedgerEntry.objects.filter(order=order, kind=LedgerKind.FEE).exists()
    assert_wallet_consistent(order.user)


def test_the_buyer_sees_the_policy_and_the_exact_amount_before_asking(client, order):
    _starts_in(order, 72)
    client.force_login(order.user)
    page = client.get(f"/orders/{order.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "演出前 1 天以上：收取 20% 手续费。" in page
    assert 'data-testid="refund-quote-amount">¥400.00<' in page
    assert 'name="expected_fee" value="100.00"' in page
    response = client.post(f"/orders/{order.pk}/refund/", {"reason": "行程冲突", "expected_fee": "100.00"})
    assert response.status_code == 302
    assert Refund.objects.get(order=order).fee == Decimal("100.00")
    _starts_in(order, 12)
    order.refresh_from_db()
    Refund.objects.all().delete()
    order.status = OrderStatus.PAID
    order.save(update_fields=["status"])
    page = client.get(f"/orders/{order.pk}/").content.decode()
    assert 'data-testid="no-refund"' in page and "request-refund" not in page


def test_the_api_quotes_the_buyer_their_own_orders_only(order):
    _starts_in(order, 72)
    api = APIClient()
    api.force_authenticate(order.user)
    body = api.get(f"/api/orders/{order.pk}/refund-quote").json()
    assert (body["allowed"], body["fee"], body["amount"], body["fee_percent"]) == (True, "100.00", "400.00", "20.0")
    api.force_authenticate(UserFactory())
    assert api.get(f"/api/orders/{order.pk}/refund-quote").status_code == 404
    api.force_authenticate(order.user)
    response = api.put(f"/api/orders/refund/{order.pk}", {"reason": "x", "expected_fee": "0.00"}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "refund_fee_changed")


def test_the_admin_queue_shows_the_fee_and_waives_it_from_the_page(client, order):
    _starts_in(order, 72)
    refund = services.refund_request(user=order.user, order_id=order.pk, reason="生病")
    admin = UserFactory(role=Role.ADMIN)
    client.force_login(admin)
    page = client.get("/review/refunds/").content.decode()
    assert 'data-testid="queue-fee"' in page and 'data-testid="waive-fee"' in page
    client.post(f"/review/refunds/{refund.pk}/", {"decision": "approve", "waive_fee": "on", "reason": "医院证明"})
    refund.refresh_from_db()
    assert (refund.status, refund.amount, refund.fee_waived_by) == ("approved", Decimal("500.00"), admin)


def test_a_publisher_sets_tiers_in_the_event_form_and_bad_ones_save_nothing(client):
    from tests.events.factories import EventFactory

    event = EventFactory(status="draft")
    client.force_login(event.publisher)
    form = {"title": event.title, "category": event.category_id, "city": "上海", "venue": "大剧院",
            "start_time": timezone.localtime(event.start_time).strftime("%Y-%m-%dT%H:%M"),
            "end_time": timezone.localtime(event.end_time).strftime("%Y-%m-%dT%H:%M"), "refund_policy": "tiered",
            "refund_hours_1": "24", "refund_fee_1": "30", "refund_hours_2": "168", "refund_fee_2": "10", "save": "1"}
    response = client.post(f"/publisher/events/{event.pk}/edit/", form)
    assert response.status_code == 302
    event.refresh_from_db()
    assert (event.refund_policy, event.refund_tiers) == ("tiered", [[168, 10.0], [24, 30.0]])
    page = client.get(f"/publisher/events/{event.pk}/edit/").content.decode()
    assert 'name="refund_hours_1" id="id_refund_hours_1" value="168"' in page
    response = client.post(f"/publisher/events/{event.pk}/edit/", {**form, "refund_fee_1": "5"},
                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and "A fee cannot fall as the session comes nearer." in response.content.decode()
    event.refresh_from_db()
    assert event.refund_tiers == [[168, 10.0], [24, 30.0]]


def test_the_api_takes_a_policy_and_refuses_bad_tiers_with_their_reason():
    from tests.events.factories import EventFactory

    event = EventFactory(status="draft")
    api = APIClient()
    api.force_authenticate(event.publisher)
    response = api.patch(f"/api/events/{event.pk}", {"refund_policy": "tiered", "refund_tiers": [[48, 50], [0, 10]]},
                         format="json")
    assert (response.status_code, response.json()["code"]) == (400, "tier_order")
    response = api.patch(f"/api/events/{event.pk}", {"refund_policy": "tiered", "refund_tiers": [[48, 10], [0, 50]]},
                         format="json")
    assert response.status_code == 200
    assert response.json()["refund_tiers"] == [[48, 10.0], [0, 50.0]]
    assert response.json()["refund_rules"][-1] == "开场后不可退票。"  # the site speaks Chinese first
