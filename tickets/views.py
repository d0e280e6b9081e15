"""Buyer pages: an event's sessions, a session's seat map or ticket form, and the buyer's hold.

Reads come from tickets.selectors, writes go through tickets.services; domain
errors (sold out, taken, over limit …) become page messages in
ticketing.errors.DomainErrorMiddleware. The seat map itself is drawn and kept
live by static/js/seatmap.js (the JSON API and the seat-map socket).
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import ANY_ROLE, has_role, role_required
from events.models import Event, EventStatus
from events.selectors import event_visible_to, favourites_of
from ticketing import behaviour
from tickets import selectors, services, waiting_room
from tickets.models import PriceTierKind, SeatStatus, Session, TicketType
from tickets.selectors import StockRow

# --- what the event page and the session page show about a session ------------------


@dataclass
class Offer:
    """One ticket type of one session: its row of stock and its price tiers in words."""

    row: StockRow
    tiers: list[tuple[str, bool]] = field(default_factory=list)  # (text, applies now)

    @property
    def choices(self) -> range:
        return range(0, self.row.ticket_type.per_user_limit + 1)


@dataclass
class SessionCard:
    session: Session
    status: str  # on_sale | sold_out | not_yet | closed
    status_text: str
    offers: list[Offer]

    @property
    def on_sale(self) -> bool:
        return self.status == "on_sale"

    @property
    def opens_in(self) -> str:
        return time_left(self.session.sales_start)


def time_left(moment: datetime, now: datetime | None = None) -> str:
    """What a sales countdown shows before its script runs (and what static/js/countdown.js shows after):
    "2天 03:15:20", "03:15:20", "14:59"."""
    left = max(int((moment - (now or timezone.now())).total_seconds()), 0)
    days, rest = divmod(left, 86400)
    hours, rest = divmod(rest, 3600)
    clock = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}" if days or hours else f"{rest // 60:02d}:{rest % 60:02d}"
    return f"{days}{pgettext('days, short', 'd')} {clock}" if days else clock


def _change(percent: int) -> str:
    return f"+{percent}%" if percent > 0 else f"\u2212{abs(percent)}%"


def tier_text(tier) -> str:
    """A tier in words: "Early bird −20% until 12-01 20:00", "Price +20% once 80% sold"."""
    if tier.kind == PriceTierKind.TIME:
        name = tier.label or (_("Early bird") if tier.adjust_percent < 0 else _("Price"))
        return _("%(name)s %(change)s until %(until)s") % {
            "name": name, "change": _change(tier.adjust_percent),
            "until": date_format(timezone.localtime(tier.until), "m-d H:i")}
    return _("%(name)s %(change)s once %(percent)s%% sold") % {
        "name": tier.label or _("Price"), "change": _change(tier.adjust_percent), "percent": tier.sold_percent}


def _offer(row: StockRow, now: datetime) -> Offer:
    active = {t.pk for t in row.tiers}
    lines = [(tier_text(t), t.pk in active) for t in row.ticket_type.tiers.all()
             if t.pk in active or t.kind == PriceTierKind.DEMAND or t.until > now]
    return Offer(row, sorted(lines, key=lambda line: not line[1]))


def _status(session: Session, offers: list[Offer], now: datetime) -> tuple[str, str]:
    if session.cancelled_at is not None:
        return "cancelled", (_("Cancelled: %(reason)s") % {"reason": session.cancel_reason} if session.cancel_reason
                             else _("Cancelled"))
    if not session.event.is_public or now >= session.sales_end:
        return "closed", _("Not on sale") if not session.event.is_public else _("Sales closed")
    if now < session.sales_start:
        return "not_yet", _("On sale from %(time)s") % {
            "time": date_format(timezone.localtime(session.sales_start), "Y-m-d H:i")}
    if offers and all(o.row.available <= 0 for o in offers):
        return "sold_out", _("Sold out")
    return "on_sale", _("On sale")


def session_cards(event: Event) -> list[SessionCard]:
    """The event's sessions still to come, each with its sale status, prices, stock and tiers."""
    now = timezone.now()
    sessions = [s for s in selectors.event_sessions(event) if s.end_time > now]
    for session in sessions:
        session.event = event  # one event for all, already loaded
    rows = selectors.stock_rows(sessions, now=now) if sessions else []
    cards = []
    for session in sessions:
        offers = [_offer(r, now) for r in rows if r.session_id == session.pk]
        cards.append(SessionCard(session, *_status(session, offers, now), offers))
    return cards


@dataclass
class WantedCard:
    """One event of 我的想看 with what its buyer wants to know: when the next session's sales open."""

    event: Event
    session: Session | None  # the next session not yet over
    status: str  # a session's (see _status), or cancelled, no_sessions
    status_text: str

    @property
    def opens_in(self) -> str:
        return time_left(self.session.sales_start)


def _wanted_card(event: Event, session: Session | None, rows: list[StockRow], now: datetime) -> WantedCard:
    if event.status == EventStatus.CANCELLED:
        return WantedCard(event, session, "cancelled", _("Cancelled"))
    if session is None:
        return WantedCard(event, None, "no_sessions", _("No upcoming sessions"))
    session.event = event
    offers = [_offer(row, now) for row in rows if row.session_id == session.pk]
    return WantedCard(event, session, *_status(session, offers, now))


@role_required(*ANY_ROLE)
@require_GET
def wanted_list(request):
    """我的想看: the events the user wants, newest mark first, each with its next session's sale (a countdown
    before it opens). Roles: any signed-in user; each sees only their own."""
    now = timezone.now()
    page = Paginator(favourites_of(user=request.user), 20).get_page(request.GET.get("page"))
    upcoming = selectors.next_sessions([event.pk for event in page], now=now)
    rows = selectors.stock_rows(list(upcoming.values()), now=now) if upcoming else []
    cards = [_wanted_card(event, upcoming.get(event.pk), rows, now) for event in page]
    return render(request, "tickets/wanted.html", {"page": page, "cards": cards,
                                                   "server_now": f"{now.timestamp():.3f}"})


def event_page_sessions(request, event: Event) -> dict:
    """The event page's sessions (events.views.event_detail asks through its registry, tickets.apps)."""
    return {"session_cards": session_cards(event)}


# --- the session page -------------------------------------------------------------------


def _session_or_404(request, pk: int) -> Session:
    session = Session.objects.select_related("event", "seat_map").filter(pk=pk).first()
    if session is None or event_visible_to(event_id=session.event_id, user=request.user) is None:
        raise Http404
    return session


def _hold_context(request, session: Session) -> dict:
    now = timezone.now()
    holds = list(selectors.holds_live(request.user, session=session)) if request.user.is_authenticated else []
    for hold in holds:
        left = max(int((hold.expires_at - now).total_seconds()), 0)
        hold.countdown = f"{left // 60:02d}:{left % 60:02d}"
    return {"session": session, "holds": holds, "holds_total": sum((h.total_price for h in holds), Decimal("0")),
            "holds_count": sum(h.quantity for h in holds), "sales_open": session.sales_open(now) and session.event.is_public,
            "server_now": f"{now.timestamp():.3f}", "login_url": _login_url(session)}


def _login_url(session: Session) -> str:
    return f"{reverse('account_login')}?{urlencode({'next': reverse('tickets:session', args=[session.pk])})}"


def _js_strings() -> dict:
    """What seatmap.js says, translated here so the script carries no language of its own."""
    return {
        "seat": _("%(section)s row %(row)s seat %(number)s"),
        "seat_aria": _("%(seat)s, %(type)s, ¥%(price)s, %(state)s"),
        "states": {SeatStatus.FREE: str(SeatStatus.FREE.label), SeatStatus.HELD: str(SeatStatus.HELD.label),
                   SeatStatus.SOLD: str(SeatStatus.SOLD.label), "mine": _("Yours")},
        "login": _("Log in to choose seats."),
        "login_link": _("Log in"),
        "not_on_sale": str(services.SalesClosed.default_message),
        "unavailable": _("%(seat)s is taken. Please choose another seat."),
        "failed": _("The request failed; please try again."),
        "live": _("Live"),
        "reconnecting": _("Reconnecting…"),
        "expired": _("expired"),
        "close": _("Close"),
        "map": _("Seat map"),
        "stage": _("Stage"),
    }


ACCESS_KEY = "access_codes"  # the visitor's session: event id → the access code they entered


def _access_code(request, session: Session) -> tuple[str, set[int]]:
    """The access code this visitor entered for the session's event and the hidden types it unlocks (a code
    switched off or expired since is forgotten)."""
    from orders import promo  # orders builds on tickets: asked lazily

    code = request.session.get(ACCESS_KEY, {}).get(str(session.event_id), "")
    if not code:
        return "", set()
    try:
        return code, promo.access_unlocks(event_id=session.event_id, code=code)
    except promo.PromoInvalid:
        request.session[ACCESS_KEY] = {k: v for k, v in request.session[ACCESS_KEY].items()
                                       if k != str(session.event_id)}
        return "", set()


@require_GET
def session_detail(request, pk: int):
    """A session's live seat map (seated) or ticket form (general admission), and the buyer's hold; on a
    session with hidden ticket types, a box for the access code that shows them. Roles: whoever may see
    the event."""
    session = _session_or_404(request, pk)
    if not waiting_room.allowed(session, request, user=request.user):
        return _to_waiting_room(request, session)
    state = selectors.seatmap_state(session, user=request.user)
    now = timezone.now()
    code, unlocked = _access_code(request, session)
    offers = [_offer(r, now) for r in selectors.session_stock(session, now=now, unlocked=unlocked)]
    status, status_text = _status(session, offers, now)
    if session.event.is_public:
        behaviour.track("session_view", request=request, event_id=session.event_id, session_id=session.pk,
                        details={"seated": session.is_seated, "status": status})
    context = {"event": session.event, "state": state, "offers": offers, "status": status,
               "status_text": status_text, "on_sale": status == "on_sale", "strings": _js_strings(),
               "opens_at": session.sales_start, "opens_in": time_left(session.sales_start),
               "access_code": code, "has_hidden": not session.is_seated and session.stocks.filter(
                   ticket_type__hidden=True).exists(), **_waitlist_context(request, session, offers),
               **_hold_context(request, session), **_room_context(request, session)}
    return render(request, "tickets/session.html", context)


def _room_context(request, session: Session) -> dict:
    """A hot session: its waiting room's state on the page (who got in, until when; the room's URL for the
    seat map's socket when an admission lapses)."""
    if not session.waiting_room:
        return {}
    token = waiting_room.request_token(request, session.pk)
    expires = waiting_room.token_expires(token, session_id=session.pk, user_id=request.user.pk)
    return {"room_active": waiting_room.session_room_active(session), "room_url": waiting_room.room_url(session.pk),
            "room_admitted_until": expires, "room_opens_at": waiting_room.opens_at(session.sales_start)}


def _to_waiting_room(request, session: Session):
    """To the session's waiting room; a signed-in visitor takes the cookie by which the room knows them."""
    response = redirect(waiting_room.room_url(session.pk))
    if request.user.is_authenticated:
        waiting_room.visitor_cookie_set(response, user_id=request.user.pk, secure=request.is_secure())
    return response


def _waitlist_context(request, session: Session, offers: list[Offer]) -> dict:
    """The sold-out ticket types a buyer may wait for (not hidden ones), and their places in those lines
    (orders.waitlist)."""
    if not session.sales_open() or not session.event.is_public:
        return {"waitlist": []}
    from orders.selectors import waitlist_of  # orders builds on tickets: asked lazily

    mine = ({e.ticket_type_id: e for e in waitlist_of(request.user, session_id=session.pk)}
            if request.user.is_authenticated else {})
    return {"waitlist": [(offer, mine.get(offer.row.ticket_type.pk)) for offer in offers
                         if not offer.row.ticket_type.hidden
                         and (offer.row.available <= 0 or offer.row.ticket_type.pk in mine)],
            "prepaid_allowed": not session.event.real_name_required, "waitlist_minutes": settings.WAITLIST_OFFER_MINUTES}


@require_POST
def session_access(request, pk: int):
    """Enters an access code: the hidden ticket types it unlocks show on the session page (kept in the
    visitor's session for the event). Roles: whoever may see the event."""
    from orders import promo  # orders builds on tickets: asked lazily

    session = _session_or_404(request, pk)
    code = promo.normalise(request.POST.get("code", ""))
    names = TicketType.objects.filter(pk__in=promo.access_unlocks(event_id=session.event_id, code=code))
    request.session[ACCESS_KEY] = {**request.session.get(ACCESS_KEY, {}), str(session.event_id): code}
    messages.success(request, _("Unlocked: %(types)s.") % {"types": ", ".join(t.name for t in names)})
    return redirect("tickets:session", pk=session.pk)


@require_GET
def hold_panel(request, pk: int):
    """The "Your hold" panel alone, for htmx to refresh after a seat is held or let go. Roles: anyone."""
    session = _session_or_404(request, pk)
    return render(request, "tickets/partials/hold_panel.html", _hold_context(request, session))


def _quantities(data, session: Session) -> dict[int, int]:
    quantities = {}
    for tt_id in session.stocks.values_list("ticket_type_id", flat=True):
        raw = (data.get(f"qty-{tt_id}") or "0").strip()
        if not raw.isdigit():
            raise services.BadHoldRequest(_("Choose how many tickets as a whole number."))
        quantities[tt_id] = int(raw)
    return quantities


@require_POST
def session_hold(request, pk: int):
    """Holds general-admission tickets (one quantity per ticket type), all or none. Roles: any signed-in user."""
    session = _session_or_404(request, pk)
    if not has_role(request.user, ANY_ROLE):
        return redirect_to_login(reverse("tickets:session", args=[session.pk]))
    hold = services.hold_create(user=request.user, session=session, quantities=_quantities(request.POST, session),
                                access_code=request.session.get(ACCESS_KEY, {}).get(str(session.event_id), ""),
                                admission=waiting_room.request_token(request, session.pk))
    if request.htmx:
        return render(request, "tickets/partials/hold_panel.html", _hold_context(request, session))
    messages.success(request, _("Your tickets are held until %(time)s.") % {
        "time": date_format(timezone.localtime(hold.expires_at), "H:i")})
    return redirect("tickets:session", pk=session.pk)


@role_required(*ANY_ROLE)
@require_POST
def hold_release(request, hold_id: int):
    """Lets go of one of the buyer's own holds; the tickets are back on sale at once. Roles: its buyer."""
    hold = services.hold_release(user=request.user, hold_id=hold_id)
    session = Session.objects.select_related("event", "seat_map").get(pk=hold.session_id)
    if request.htmx:
        return render(request, "tickets/partials/hold_panel.html", _hold_context(request, session))
    messages.success(request, _("Released: the tickets are back on sale."))
    return redirect("tickets:session", pk=session.pk)



# --- the waiting room of a hot sale (tickets.waiting_room) ------------------------------------------


def _room_strings() -> dict:
    """What waiting_room.js says, translated here."""
    return {
        "position": _("You are number %(position)s in the queue."),
        "waiting": ngettext("%(count)s person is waiting.", "%(count)s people are waiting.", 2),
        "waiting_one": ngettext("%(count)s person is waiting.", "%(count)s people are waiting.", 1),
        "eta": _("Estimated wait: about %(time)s."),
        "minutes": _("%(n)s min"),
        "seconds": _("%(n)s s"),
        "before": _("When sales open, everyone already here is put in a random order, then let in a few at a time. "
                    "Arriving earlier or refreshing does not change your place; later arrivals join the back."),
        "opens_in": _("Sales open in"),
        "drawing": _("Sales are opening: drawing the order…"),
        "admitted": _("It is your turn! Taking you to the tickets…"),
        "admitted_until": _("Your admission is valid until %(time)s."),
        "go": _("Choose tickets now"),
        "login": _("Log in to take your place in the queue: one place per account."),
        "login_link": _("Log in"),
        "rejoined": _("Your admission lapsed unused, so you joined the back of the queue."),
        "closed": _("Sales for this session are over."),
        "unavailable": str(waiting_room.RoomUnavailable.default_message),
        "offline": _("Connection lost; trying again…"),
        "open": _("No queue right now: taking you to the tickets…"),
    }


@require_GET
def waiting_room_page(request, pk: int):
    """A hot session's waiting room: light HTML from what the room keeps in Redis, no database, no user row
    (the visitor's place comes from static/js/waiting_room.js polling the room's API). Outside the room's
    window, the session page. Roles: anyone who may see the event (a place needs a signed-in account)."""
    try:
        config = waiting_room.config(pk)
    except waiting_room.RoomUnavailable:
        config, unavailable = None, True
    else:
        unavailable = False
        if config is None or not config.public:
            raise Http404
        if not config.active(waiting_room.clock()):
            return redirect("tickets:session", pk=pk)
    context = {"config": config, "unavailable": unavailable, "session_id": pk, "strings": _room_strings(),
               "poll_url": waiting_room.poll_url(pk), "session_url": reverse("tickets:session", args=[pk]),
               "server_now": f"{waiting_room.clock():.3f}",
               "sales_start": config and waiting_room.moment(config.start),
               "starts": config and waiting_room.moment(config.starts)}
    # Rendered without the request: no context processor, so nothing reads the user or the database.
    response = HttpResponse(render_to_string("tickets/waiting_room.html", context), status=503 if unavailable else 200)
    response["Cache-Control"] = "private, no-store"
    return response
