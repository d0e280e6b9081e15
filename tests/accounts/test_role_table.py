"""Who may call what: one row per endpoint and method, checked for every role and anonymous.

Add a row with every new endpoint; `test_every_api_endpoint_has_a_row` fails until you do.
Forbidden callers get 403 (the API answers anonymous callers 401; pages send them to login).
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role, User
from accounts.permissions import ANY_ROLE
from accounts.serializers import RoleRefreshToken
from events.models import Event, EventStatus
from tests.events.factories import CategoryFactory, EventFactory
from tests.factories import UserFactory
from tests.tickets.factories import ga_session, seat_ids, seated_session, ticket_types
from orders import promo, transfers
from orders.models import EventStaff
from orders.services import refund_request
from tests.orders.flows import paid_order, pending_order
from tickets.models import Session
from tickets.services import hold_create

ANONYMOUS = "anonymous"
LOGGED_IN = ANY_ROLE
EVERYONE = (*ANY_ROLE, ANONYMOUS)
ADMIN = (Role.ADMIN,)
PUBLISHER = (Role.PUBLISHER,)
CALLERS = EVERYONE

PASSWORD = "correct-horse-battery"  # UserFactory's
STRONG = "Lantern-River-42"
# API paths that document the API rather than being part of it.
NOT_ENDPOINTS = ("api/schema/", "api/docs/")


@dataclass
class Context:
    caller_name: str
    caller: User | None  # None when anonymous
    target: User  # another user, for endpoints that take one
    event: Event | None = None  # for rows on "{event}": the calling publisher's own, else another publisher's
    extra: dict = field(default_factory=dict)  # what a row's `setup` made, for its url and data

    def refresh_token(self) -> str:
        return str(RoleRefreshToken.for_user(self.caller or self.target))


@dataclass(frozen=True)
class Row:
    method: str
    url: str  # "{target}" stands for the id of another user, "{event}" for the id of an event in `event_status`
    allowed: tuple[str, ...]  # roles, plus ANONYMOUS for public endpoints
    status: int  # what an allowed caller gets
    data: dict | Callable[[Context], dict] | None = field(default=None)
    page: bool = False  # an HTML page rather than the JSON API
    event_status: str | None = None  # the status of "{event}", one in which the allowed callers succeed
    setup: Callable[[Context], dict] | None = None  # makes what the url names besides {target}/{event}

    def __str__(self) -> str:
        return f"{self.method} {self.url}"

    def path(self, ctx: Context | None = None) -> str:
        if ctx is None:  # any ids will do to resolve the route
            return self.url.format_map(defaultdict(lambda: 1))
        return self.url.format(target=ctx.target.pk, event=ctx.event.pk if ctx.event else 0, **ctx.extra)


def new_event(ctx: Context) -> dict:
    start = timezone.now() + timedelta(days=30)
    return {"title": "Table", "start_time": start.isoformat(), "end_time": (start + timedelta(hours=2)).isoformat(),
            "venue": "Hall", "city": "Shanghai", "category": CategoryFactory().pk}


def _ticket_type(ctx: Context) -> dict:
    return {"tt": ticket_types(ctx.event, {"Table": 10})["Table"].pk}


def _seated(ctx: Context) -> dict:
    session, _types = seated_session()
    return {"session": session.pk, "seat": seat_ids(session)[0]}


def _ga(ctx: Context) -> dict:
    session, types = ga_session()
    return {"session": session.pk, "tt": types["Standard"].pk}


def _held_seat(ctx: Context) -> dict:
    extra = _seated(ctx)
    if ctx.caller:
        session = Session.objects.select_related("event").get(pk=extra["session"])
        extra["hold"] = hold_create(user=ctx.caller, session=session, seat_ids=[extra["seat"]]).pk
    else:
        extra["hold"] = hold_create(user=ctx.target, session=Session.objects.select_related("event").get(
            pk=extra["session"]), seat_ids=[extra["seat"]]).pk
    return extra


def _buyer(ctx: Context):
    return ctx.caller or ctx.target


def _own_hold(ctx: Context) -> dict:
    session, types = ga_session()
    return {"hold": hold_create(user=_buyer(ctx), session=session, quantities={types["Standard"].pk: 1}).pk}


def _own_pending(ctx: Context) -> dict:
    return {"order": pending_order(_buyer(ctx)).pk}


def _own_paid(ctx: Context) -> dict:
    order = paid_order(_buyer(ctx), seats=1)
    return {"order": order.pk, "ticket": order.tickets.get().pk, "event_id": order.event_id,
            "code": order.tickets.get().code, "session_id": order.tickets.get().session_id}


def _session_of_event(ctx: Context) -> dict:
    """A GA session of {event} (the calling publisher's own), to cancel."""
    session, _types = ga_session(event=ctx.event)
    return {"session": session.pk}


def _own_pending_with_code(ctx: Context) -> dict:
    order = pending_order(_buyer(ctx))
    promo.promo_create(actor=order.event.publisher, event=order.event, code="TABLE10",
                       data=promo.PromoData(kind="percent", value=Decimal(10), ticket_type_ids=[]))
    return {"order": order.pk}


def _refund(ctx: Context) -> dict:
    order = paid_order(ctx.target, seats=1)
    return {"refund": refund_request(user=ctx.target, order_id=order.pk, reason="Table").pk}


def _door(ctx: Context) -> dict:
    extra = _own_paid(ctx)
    if ctx.caller:
        EventStaff.objects.create(event_id=extra["event_id"], user=ctx.caller)
    return extra


def _own_ticket_and_receiver(ctx: Context) -> dict:
    extra = _own_paid(ctx)
    extra["to"] = UserFactory().email
    return extra


def _offer_to_caller(ctx: Context) -> dict:
    """A ticket of another buyer offered to the caller (to anyone, when anonymous)."""
    order = paid_order(ctx.target, seats=1)
    offer = transfers.transfer_offer(user=ctx.target, ticket_id=order.tickets.get().pk,
                                     to=(ctx.caller or UserFactory()).email)
    return {"transfer": offer.pk}


def _own_offer(ctx: Context) -> dict:
    order = paid_order(_buyer(ctx), seats=1)
    return {"transfer": transfers.transfer_offer(user=_buyer(ctx), ticket_id=order.tickets.get().pk,
                                                 to=UserFactory().email).pk}


def _presale(ctx: Context) -> dict:
    from tests.orders.test_access_codes import presale

    session, _types, _access = presale()
    return {"session": session.pk}


def _sold_out_type(ctx: Context) -> dict:
    from tests.orders.test_waitlist import sold_out

    session, tt, _hold = sold_out()
    return {"session": session.pk, "tt": tt.pk}


def _own_wait(ctx: Context) -> dict:
    from orders.waitlist import waitlist_join

    extra = _sold_out_type(ctx)
    entry = waitlist_join(user=_buyer(ctx), session_id=extra["session"], ticket_type_id=extra["tt"], quantity=1)
    return {"entry": entry.pk}


def new_session(ctx: Context) -> dict:
    start = ctx.event.start_time
    return {"event": ctx.event.pk, "start_time": start.isoformat(), "end_time": ctx.event.end_time.isoformat(),
            "sales_start": timezone.now().isoformat(), "sales_end": start.isoformat(),
            "stock": {str(ctx.extra["tt"]): 10}}


ROWS = [
    # --- API ---
    Row("POST", "/api/auth/register", EVERYONE, 201,
        lambda ctx: {"email": f"new-{ctx.caller_name}@example.com", "password": STRONG}),
    Row("POST", "/api/auth/login", EVERYONE, 200, lambda ctx: {"login": ctx.target.email, "password": PASSWORD}),
    Row("POST", "/api/auth/refresh", EVERYONE, 200, lambda ctx: {"refresh": ctx.refresh_token()}),
    Row("POST", "/api/auth/logout", LOGGED_IN, 205, lambda ctx: {"refresh": ctx.refresh_token()}),
    Row("GET", "/api/user/profile", LOGGED_IN, 200),
    Row("PATCH", "/api/user/profile", LOGGED_IN, 200, {"display_name": "Table"}),
    Row("PUT", "/api/users/{target}/role", ADMIN, 200, {"role": Role.PUBLISHER}),
    Row("POST", "/api/events/create", PUBLISHER, 201, new_event),
    Row("GET", "/api/events/search", EVERYONE, 200),
    Row("GET", "/api/events/mine", PUBLISHER, 200),
    Row("GET", "/api/events/review-queue", ADMIN, 200),
    Row("GET", "/api/events/{event}", EVERYONE, 200, event_status=EventStatus.APPROVED),
    Row("PATCH", "/api/events/{event}", PUBLISHER, 200, {"title": "Table"}, event_status=EventStatus.DRAFT),
    Row("POST", "/api/events/{event}/submit", PUBLISHER, 200, event_status=EventStatus.DRAFT),
    Row("POST", "/api/events/{event}/cancel", (Role.PUBLISHER, Role.ADMIN), 200, {"reason": "Table"},
        event_status=EventStatus.APPROVED),
    Row("PUT", "/api/events/{event}/approve", ADMIN, 200, {"decision": "approve"}, event_status=EventStatus.PENDING),
    Row("GET", "/api/categories", EVERYONE, 200),
    # 想看: anyone signed in, each their own list (tests/events/test_wanted.py).
    Row("PUT", "/api/events/{event}/want", LOGGED_IN, 201, event_status=EventStatus.APPROVED),
    Row("DELETE", "/api/events/{event}/want", LOGGED_IN, 204, event_status=EventStatus.APPROVED),
    Row("GET", "/api/events/wanted", LOGGED_IN, 200),
    Row("GET", "/api/notifications", LOGGED_IN, 200),
    Row("POST", "/api/notifications/read", LOGGED_IN, 200, {}),
    Row("POST", "/api/tickets/types/create", PUBLISHER, 201,
        lambda ctx: {"event": ctx.event.pk, "name": "Table", "base_price": "10.00"}, event_status=EventStatus.DRAFT),
    Row("POST", "/api/tickets/seatmaps/create", PUBLISHER, 201,
        lambda ctx: {"event": ctx.event.pk, "name": "Table", "layout": {"sections": [
            {"name": "A", "rows": 2, "seats": 3, "ticket_type": ctx.extra["tt"]}]}},
        event_status=EventStatus.DRAFT, setup=_ticket_type),
    Row("POST", "/api/tickets/sessions/create", PUBLISHER, 201, new_session, event_status=EventStatus.DRAFT,
        setup=_ticket_type),
    Row("POST", "/api/tickets/sessions/{session}/cancel", (Role.PUBLISHER, Role.ADMIN), 200, {"reason": "Table"},
        event_status=EventStatus.APPROVED, setup=_session_of_event),
    Row("GET", "/api/tickets/sessions/{session}/seatmap", EVERYONE, 200, setup=_seated),
    # A hot sale's waiting room (tests/tickets/test_waiting_room.py): its publisher turns it on; anyone polls.
    Row("PUT", "/api/tickets/sessions/{session}/waiting-room", PUBLISHER, 200,
        {"waiting_room": True, "admit_per_second": 5}, event_status=EventStatus.APPROVED, setup=_session_of_event),
    Row("POST", "/api/tickets/sessions/{session}/queue", EVERYONE, 200, setup=_seated),
    Row("GET", "/api/tickets/{event}/stock", EVERYONE, 200, event_status=EventStatus.APPROVED),
    Row("GET", "/api/tickets/{event}/types", EVERYONE, 200, event_status=EventStatus.APPROVED),
    Row("PUT", "/api/tickets/lock/{seat}", LOGGED_IN, 201, lambda ctx: {"session": ctx.extra["session"]}, setup=_seated),
    Row("DELETE", "/api/tickets/lock/{seat}", LOGGED_IN, 204, lambda ctx: {"session": ctx.extra["session"]},
        setup=_held_seat),
    Row("GET", "/api/tickets/holds", LOGGED_IN, 200),
    Row("POST", "/api/tickets/holds", LOGGED_IN, 201,
        lambda ctx: {"session": ctx.extra["session"], "quantities": {str(ctx.extra["tt"]): 1}}, setup=_ga),
    Row("DELETE", "/api/tickets/holds/{hold}", LOGGED_IN, 204, setup=_held_seat),
    Row("GET", "/api/orders", LOGGED_IN, 200),
    Row("POST", "/api/orders/create", LOGGED_IN, 201, lambda ctx: {"holds": [ctx.extra["hold"]]}, setup=_own_hold),
    Row("GET", "/api/orders/{order}", LOGGED_IN, 200, setup=_own_pending),
    Row("POST", "/api/orders/pay/{order}", LOGGED_IN, 200, {"idempotency_key": "Table"}, setup=_own_pending),
    Row("PUT", "/api/orders/refund/{order}", LOGGED_IN, 200, {"reason": "Table"}, setup=_own_paid),
    Row("GET", "/api/orders/{order}/refund-quote", LOGGED_IN, 200, setup=_own_paid),
    Row("POST", "/api/orders/{order}/promo", LOGGED_IN, 200, {"code": "table10"}, setup=_own_pending_with_code),
    Row("DELETE", "/api/orders/{order}/promo", LOGGED_IN, 200, setup=_own_pending),
    Row("GET", "/api/events/{event}/promo-codes", (Role.PUBLISHER, Role.ADMIN), 200, event_status=EventStatus.APPROVED),
    Row("POST", "/api/events/{event}/promo-codes", (Role.PUBLISHER, Role.ADMIN), 201,
        {"code": "TABLE", "kind": "fixed", "value": "5"}, event_status=EventStatus.APPROVED),
    Row("POST", "/api/orders/{order}/cancel", LOGGED_IN, 200, setup=_own_pending),
    Row("POST", "/api/orders/{order}/attendees", LOGGED_IN, 200, {"attendees": []}, setup=_own_pending),
    Row("GET", "/api/orders/event/{event}", PUBLISHER, 200, event_status=EventStatus.APPROVED),
    Row("GET", "/api/etickets", LOGGED_IN, 200),
    Row("GET", "/api/etickets/{ticket}", LOGGED_IN, 200, setup=_own_paid),
    # Transfers: the ticket's holder offers and withdraws, the receiver accepts or declines (tests/orders/test_transfers.py).
    Row("POST", "/api/etickets/{ticket}/transfer", LOGGED_IN, 201, lambda ctx: {"to": ctx.extra["to"]},
        setup=_own_ticket_and_receiver),
    Row("GET", "/api/transfers", LOGGED_IN, 200),
    Row("POST", "/api/transfers/{transfer}/accept", LOGGED_IN, 200, {}, setup=_offer_to_caller),
    Row("POST", "/api/transfers/{transfer}/decline", LOGGED_IN, 200, setup=_offer_to_caller),
    Row("POST", "/api/transfers/{transfer}/cancel", LOGGED_IN, 200, setup=_own_offer),
    Row("GET", "/api/checkin/events/{event_id}/revocations", LOGGED_IN, 200, setup=_door),
    Row("GET", "/api/checkin/events/{event_id}/sessions/{session_id}/tickets", LOGGED_IN, 200, setup=_door),
    # Waiting lists: each signed-in buyer their own entries (tests/orders/test_waitlist.py).
    Row("GET", "/api/waitlist", LOGGED_IN, 200),
    Row("POST", "/api/waitlist", LOGGED_IN, 201,
        lambda ctx: {"session": ctx.extra["session"], "ticket_type": ctx.extra["tt"], "quantity": 1},
        setup=_sold_out_type),
    Row("DELETE", "/api/waitlist/{entry}", LOGGED_IN, 200, setup=_own_wait),
    Row("GET", "/api/wallet", LOGGED_IN, 200),
    # Saved attendees: each signed-in user their own (tests/orders/test_real_name.py).
    Row("GET", "/api/attendees", LOGGED_IN, 200),
    Row("POST", "/api/attendees", LOGGED_IN, 201, {"name": "李雷", "id_number": "E12345678"}),
    Row("DELETE", "/api/attendees/{target}", LOGGED_IN, 204),
    Row("POST", "/api/wallets/{target}/adjust", ADMIN, 201, {"amount": "10.00", "reason": "Table"}),
    Row("GET", "/api/refunds", ADMIN, 200),
    # Another user's recommendations: admins only (the user themself: tests/analytics/test_recs.py).
    Row("GET", "/api/recommend/{target}", ADMIN, 200),
    Row("PUT", "/api/refunds/{refund}/review", ADMIN, 200, {"decision": "approve"}, setup=_refund),
    # Door staff are named per event (any role); the service refuses others with 404 (tests/orders/test_api.py).
    Row("POST", "/api/checkin", LOGGED_IN, 200,
        lambda ctx: {"event": ctx.extra["event_id"], "code": ctx.extra["code"], "nonce": "Table"}, setup=_door),
    Row("POST", "/api/checkin/sync", LOGGED_IN, 200, lambda ctx: {"event": ctx.extra["event_id"], "scans": [
        {"nonce": "Table", "code": ctx.extra["code"], "scanned_at": timezone.now().isoformat(),
         "local_result": "ok"}]}, setup=_door),
    # Providers do not log in: the HMAC signature decides, so an unsigned call is 403 for every caller.
    Row("POST", "/api/payments/callback/{provider}", EVERYONE, 403, {}, setup=lambda ctx: {"provider": "sandbox"}),
    # The click beacon: every visitor, signed in or not (what it accepts: tests/analytics/test_beacon.py).
    Row("POST", "/api/track", EVERYONE, 204,
        {"action": "rec_click", "event": 1, "details": {"list": "home", "position": 1}}),
    # Sales stats: admins every event, publishers their own (the scope keeps them there).
    Row("GET", "/api/stats/sales", (Role.ADMIN, Role.PUBLISHER), 200),
    Row("GET", "/api/stats/sessions", (Role.ADMIN, Role.PUBLISHER), 200),
    Row("GET", "/api/stats/heat", (Role.ADMIN, Role.PUBLISHER), 200),
    # Behaviour stats (MongoDB): the same roles; searches are platform-wide, administrators only.
    Row("GET", "/api/stats/funnel", (Role.ADMIN, Role.PUBLISHER), 200),
    Row("GET", "/api/stats/activity", (Role.ADMIN, Role.PUBLISHER), 200),
    Row("GET", "/api/stats/searches", ADMIN, 200),
    # --- pages ---
    Row("GET", "/accounts/profile/", LOGGED_IN, 200, page=True),
    Row("POST", "/accounts/keepalive/", LOGGED_IN, 204, page=True),
    Row("GET", "/manage/users/", ADMIN, 200, page=True),
    Row("GET", "/manage/stats/", ADMIN, 200, page=True),
    Row("GET", "/publisher/stats/", PUBLISHER, 200, page=True),
    Row("GET", "/publisher/webhooks/", PUBLISHER, 200, page=True),
    Row("POST", "/publisher/webhooks/", PUBLISHER, 302, {"url": "https://example.com/hooks", "kinds": ["order.paid"]},
        page=True),
    Row("GET", "/orders/", LOGGED_IN, 200, page=True),
    Row("GET", "/tickets/mine/", LOGGED_IN, 200, page=True),
    Row("GET", "/wallet/", LOGGED_IN, 200, page=True),
    Row("GET", "/events/wanted/", LOGGED_IN, 200, page=True),
    Row("GET", "/attendees/", LOGGED_IN, 200, page=True),
    Row("GET", "/tickets/transfers/", LOGGED_IN, 200, page=True),
    Row("GET", "/waitlist/", LOGGED_IN, 200, page=True),
    Row("POST", "/sessions/{session}/waitlist/", LOGGED_IN, 302,
        lambda ctx: {"ticket_type": ctx.extra["tt"], "quantity": "1"}, page=True, setup=_sold_out_type),
    Row("POST", "/sessions/{session}/access/", EVERYONE, 302, {"code": "FANCLUB"}, page=True, setup=_presale),
    Row("POST", "/tickets/transfers/{transfer}/accept/", LOGGED_IN, 302, page=True, setup=_offer_to_caller),
    Row("POST", "/events/{event}/want/", LOGGED_IN, 302, {"want": "1"}, page=True, event_status=EventStatus.APPROVED),
    Row("GET", "/checkin/", LOGGED_IN, 200, page=True),
    Row("GET", "/checkin/{event_id}/conflicts/", LOGGED_IN, 200, page=True, setup=_door),
    # The check-in PWA's service worker and manifest hold no data: anyone may fetch them.
    Row("GET", "/checkin/sw.js", EVERYONE, 200, page=True),
    Row("GET", "/checkin/manifest.webmanifest", EVERYONE, 200, page=True),
    Row("GET", "/review/refunds/", ADMIN, 200, page=True),
    Row("GET", "/manage/users/{target}/wallet/", ADMIN, 200, page=True),
    Row("GET", "/publisher/events/{event}/tickets/", PUBLISHER, 200, page=True, event_status=EventStatus.DRAFT),
    Row("GET", "/publisher/events/{event}/promo-codes/", PUBLISHER, 200, page=True, event_status=EventStatus.APPROVED),
    Row("POST", "/publisher/events/{event}/tickets/sessions/{session}/cancel/", PUBLISHER, 302, {"reason": "Table"},
        page=True, event_status=EventStatus.APPROVED, setup=_session_of_event),
    Row("POST", "/publisher/events/{event}/tickets/sessions/{session}/waiting-room/", PUBLISHER, 302,
        {"waiting_room": "on", "admit_per_second": 5}, page=True, event_status=EventStatus.APPROVED,
        setup=_session_of_event),
    Row("GET", "/waiting-room/{session}/", EVERYONE, 302, page=True, setup=_seated),
    Row("GET", "/publisher/events/{event}/orders/", PUBLISHER, 200, page=True, event_status=EventStatus.APPROVED),
    Row("POST", "/manage/users/{target}/role/", ADMIN, 302, {"role": Role.PUBLISHER}, page=True),
]


def call(row: Row, ctx: Context):
    url = row.path(ctx)
    data = row.data(ctx) if callable(row.data) else row.data
    headers = {"HTTP_ACCEPT_LANGUAGE": "en"}
    if row.page:
        client = Client()
        if ctx.caller:
            client.force_login(ctx.caller)
        return getattr(client, row.method.lower())(url, data or {}, **headers)
    client = APIClient()
    if ctx.caller:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {RoleRefreshToken.for_user(ctx.caller).access_token}"
    if row.method == "GET":
        return client.get(url, data, **headers)
    return getattr(client, row.method.lower())(url, data, format="json", **headers)


@pytest.mark.django_db
@pytest.mark.parametrize("caller_name", CALLERS)
@pytest.mark.parametrize("row", ROWS, ids=str)
def test_only_the_allowed_roles_get_through(row, caller_name):
    caller = None if caller_name == ANONYMOUS else UserFactory(role=caller_name)
    ctx = Context(caller_name=caller_name, caller=caller, target=UserFactory(role=Role.CUSTOMER))
    if row.event_status:
        owner = caller if caller_name == Role.PUBLISHER else UserFactory(role=Role.PUBLISHER)
        ctx.event = EventFactory(publisher=owner, status=row.event_status)
    if row.setup:
        ctx.extra = row.setup(ctx)

    response = call(row, ctx)

    if caller_name in row.allowed:
        expected = row.status
    elif caller is None:
        expected = 302 if row.page else 401
    else:
        expected = 403
    assert response.status_code == expected, f"{row} as {caller_name}: {response.content[:300]!r}"
    if row.page and caller is None and caller_name not in row.allowed:
        assert response["Location"].startswith(resolve_url(settings.LOGIN_URL) + "?next=")


def _walk(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback


def _methods(callback) -> set[str]:
    """The HTTP methods a view answers (DRF and class-based views); empty if unknown."""
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is None:
        return set()
    return {m.upper() for m in view_class.http_method_names if m not in ("head", "options") and hasattr(view_class, m)}


def test_every_api_endpoint_has_a_row():
    covered = {(row.method, resolve(row.path()).route) for row in ROWS}
    covered_routes = {route for _, route in covered}
    missing = []
    for route, callback in _walk(get_resolver().url_patterns):
        if not route.startswith("api/") or route.startswith(NOT_ENDPOINTS):
            continue
        methods = _methods(callback)
        if not methods and route not in covered_routes:
            missing.append(route)
        missing += [f"{method} {route}" for method in sorted(methods) if (method, route) not in covered]
    assert not missing, f"endpoints without a row in ROWS: {missing}"


def test_the_table_names_each_endpoint_and_method_once():
    keys = [(row.method, resolve(row.path()).route) for row in ROWS]
    assert len(keys) == len(set(keys))
