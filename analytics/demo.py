"""Weeks of believable demo history for `manage.py seed_demo`: buyers with hidden tastes, their
behaviour lines in MongoDB and the orders those lines led to, all deterministic.

Each demo buyer (`buyer001` …, and the demo `customer`) has 1–3 favourite categories and 1–2
home cities (`buyer_taste`, never stored: the recommender has to find it); about a fifth of
what they do is random. Over the last `days` days they visit at the hours people buy tickets
(evenings and weekends), search (some searches find nothing), open events, sessions and seat
maps, choose ticket types, hold, order and pay; a few ask for refunds. Anonymous visitors
browse too. Everything is replayed in time order against the real inventory:

- every `pay` line has its paid order (same buyer, event, amount), with its payment, e-tickets,
  sold seats and stock, and the purchase in the buyer's points ledger; `order` and `hold` lines
  that went no further left an expired or released hold and an expired order, as the shop does;
- created/paid/closed times are the past moments of the lines (auto_now_add fields are
  written back after the insert), ticket types never sell past their stock nor a buyer past
  the limit per session, and no seat is sold twice;
- behaviour lines go in with pymongo `insert_many` (anon ids start with "demo", so a run
  can tell its own lines).

The rows are written in bulk rather than one service call per order (a thousand orders
through the services take minutes at `make run`); they are the rows those services make
and every database constraint holds. Runs once: nothing happens when demo orders exist.
"""

import bisect
import logging
import math
import random
import threading
import time as clock
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from queue import Queue

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Role, User
from analytics.documents import Action, BehaviourLog
from events.demo import ARTISTS, CATEGORIES, CITY_EN, TITLES
from events.models import Event, EventStatus
from events.refunds import RefundPolicy, fee_of
from events.selectors import event_search
from orders import codes
from orders.models import (
    Attendee, CheckIn, LedgerEntry, LedgerKind, Order, OrderHold, OrderStatus, Payment, PaymentMethod, Refund,
    RefundStatus, Scan, ScanResult, Ticket, TicketStatus, Wallet,
)
from tickets import catalogue
from tickets.models import Hold, HoldItem, HoldStatus, SeatStatus, Session, SessionSeat, Stock, TicketType
from tickets.demo import seed_past_sessions
from tickets.pricing import price_for
from tickets.services import event_summary_refresh

log = logging.getLogger(__name__)

SEED = 20261202
DEFAULT_BUYERS = 250
DEFAULT_DAYS = 42
NOISE = 0.2  # share of a buyer's visits that ignore their taste
ANON_PREFIX = "demo"  # behaviour lines this module wrote have anon ids "demo" + 28 hex digits
BUYER_PREFIX = "buyer"

# Local hour of day and weekday (Monday first) weights of a visit: lunch and evening peaks, busy weekends.
HOUR_WEIGHTS = [1.2, 0.6, 0.3, 0.2, 0.2, 0.3, 0.6, 1.2, 2.0, 2.6, 3.0, 3.2, 4.2, 3.8, 3.0, 3.0, 3.2, 3.6,
                4.2, 5.6, 7.0, 7.6, 6.0, 3.2]
HOUR_CUMULATIVE = list(accumulate(HOUR_WEIGHTS))
WEEKDAY_WEIGHTS = [0.85, 0.85, 0.9, 1.0, 1.25, 1.35, 1.15]
CITY_WEIGHTS = {"北京": 3.0, "上海": 3.0, "广州": 2.0, "深圳": 2.0, "杭州": 1.5, "成都": 1.5, "南京": 1.0,
                "武汉": 1.0, "西安": 1.0, "重庆": 1.0}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘蒋蔡余杜叶程苏魏吕丁"
GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超", "秀英", "霞",
         "平", "刚", "桂英", "晨", "欣怡", "子轩", "浩然", "雨涵", "梓涵", "一诺", "思远", "佳怡", "宇航"]
# What buyers typed that the catalogue has nothing for (the "searches that found nothing" table).
NOTHING = ["孙燕姿", "草莓音乐节", "德云社 相声", "冰球", "迪士尼", "F1 上海站", "歌剧 卡门", "Hamilton", "围棋比赛",
           "周深", "刀郎", "livehouse 拉萨", "草地音乐会", "相声大会", "Blackpink", "魔术秀"]
REFUND_REASONS = ["行程有变，去不了了", "买重复了", "临时加班", "朋友来不了了", "Change of plans"]
TYPE_CHOICE = {"标准票": 0.6, "VIP": 0.22, "学生票": 0.18}
QUANTITIES = ([1, 2, 3, 4], [0.3, 0.45, 0.1, 0.15])

CATEGORY_NAMES = {slug: zh for _root, _zh, _en, children in CATEGORIES for slug, zh, _e in children}
ROOT_OF = {slug: root for root, _zh, _en, children in CATEGORIES for slug, _z, _e in children}
LEAVES = list(TITLES)


@dataclass(frozen=True)
class Taste:
    """A demo buyer's hidden preferences: favourite leaf categories (slugs) and home cities."""

    categories: tuple[str, ...]
    cities: tuple[str, ...]


CUSTOMER_TASTE = Taste(categories=("concert", "livehouse"), cities=("上海",))


def buyer_taste(index: int) -> Taste:
    """The taste of demo buyer `index` (0 is the demo customer): the same on every machine."""
    if index == 0:
        return CUSTOMER_TASTE
    rng = random.Random(f"{SEED}:taste:{index}")
    categories = [rng.choice(LEAVES)]
    for _ in range(rng.choice([0, 1, 1, 2])):
        siblings = [c for c in LEAVES if ROOT_OF[c] == ROOT_OF[categories[0]] and c not in categories]
        pool = siblings if siblings and rng.random() < 0.6 else [c for c in LEAVES if c not in categories]
        categories.append(rng.choice(pool))
    names, weights = list(CITY_WEIGHTS), list(CITY_WEIGHTS.values())
    cities = [rng.choices(names, weights)[0]]
    if rng.random() < 0.35:
        cities.append(rng.choice([c for c in names if c != cities[0]]))
    return Taste(categories=tuple(categories), cities=tuple(cities))


def buyer_username(index: int) -> str:
    return f"{BUYER_PREFIX}{index:03d}"


def demo_buyers() -> list[tuple[User, Taste]]:
    """The demo buyers that exist, each with their taste: the demo customer first."""
    found = []
    for user in User.objects.filter(Q(username="customer") | Q(username__regex=rf"^{BUYER_PREFIX}[0-9]{{3}}$")):
        index = 0 if user.username == "customer" else int(user.username[len(BUYER_PREFIX):])
        found.append((index, user))
    return [(user, buyer_taste(index)) for index, user in sorted(found, key=lambda pair: pair[0])]


def buyers_ensure(*, count: int) -> int:
    """Demo buyers buyer001…buyer<count>: customers without a password (they exist to have a history),
    written in one statement (the rows accounts.services.user_create makes; a user has no side effects).
    Returns how many were created."""
    have = set(User.objects.filter(username__startswith=BUYER_PREFIX).values_list("username", flat=True))
    users = []
    for index in range(1, count + 1):
        username = buyer_username(index)
        if username in have:
            continue
        rng = random.Random(f"{SEED}:name:{index}")
        user = User(username=username, email=f"{username}@demo.local", role=Role.CUSTOMER,
                    display_name=rng.choice(SURNAMES) + rng.choice(GIVEN))
        user.set_unusable_password()
        users.append(user)
    User.objects.bulk_create(users, batch_size=500)
    return len(users)


@dataclass
class HistoryResult:
    buyers: int = 0
    days: int = 0
    lines: int = 0
    orders: int = 0
    paid: int = 0
    refunds: int = 0
    tickets: int = 0
    checkins: int = 0
    seconds: float = 0.0
    simulation_seconds: float = 0.0  # deciding every visit, line and sale
    rows_seconds: float = 0.0  # writing the orders, tickets, wallets … (the relational database)
    mongo_seconds: float = 0.0  # writing the behaviour lines (MongoDB insert_many, in a thread alongside)
    skipped: str = ""  # why nothing was made

    def summary(self) -> str:
        if self.skipped:
            return f"demo history: {self.skipped}"
        return (f"demo history: {self.days} days, {self.buyers} buyers, {self.lines} behaviour lines, "
                f"{self.orders} orders ({self.paid} paid, {self.refunds} refunds, {self.tickets} tickets, "
                f"{self.checkins} checked in) "
                f"in {self.seconds:.1f} s (simulation {self.simulation_seconds:.1f} s, database rows "
                f"{self.rows_seconds:.1f} s, MongoDB writing alongside {self.mongo_seconds:.1f} s)")


class HistorySkipped(Exception):
    pass


def history_exists() -> bool:
    """The demo buyers are made only in the transaction that writes their history: if they exist, it does
    (their orders would not say so: in a short history only the demo customer may have bought)."""
    return User.objects.filter(username__regex=rf"^{BUYER_PREFIX}[0-9]{{3}}$").exists()


def seed_history(*, buyers: int = DEFAULT_BUYERS, days: int = DEFAULT_DAYS, now: datetime | None = None) -> HistoryResult:
    """Makes the demo buyers and `days` days of their history up to `now`, once. Without MongoDB
    nothing is made (a warning says so) and the next run tries again."""
    began = clock.monotonic()
    if days <= 0:
        return HistoryResult(skipped="no history asked for")
    if history_exists():
        return HistoryResult(skipped="already there")
    collection = BehaviourLog._get_collection()
    try:
        collection.database.client.admin.command("ping")
        collection.delete_many({"anon_id": {"$regex": f"^{ANON_PREFIX}"}})  # a run that did not commit
    except Exception as exc:  # noqa: BLE001 - MongoDB away: the demo works without its history
        log.warning("demo history skipped: MongoDB does not answer (%s)", exc)
        return HistoryResult(skipped="skipped, MongoDB does not answer; run seed_demo again once it does")
    try:
        with transaction.atomic():
            buyers_ensure(count=buyers)
            history = _History(now=now or timezone.now(), days=days)
            result = history.run()
    except HistorySkipped as exc:
        return HistoryResult(skipped=str(exc))
    result.seconds = clock.monotonic() - began
    return result


# --- the simulation ---------------------------------------------------------------------------


@dataclass
class _Event:
    id: int
    category: str
    city: str
    title: str
    start: datetime
    real_name: bool
    popularity: float
    publisher: int
    refunds: RefundPolicy = RefundPolicy("free")  # its refund rules (events.refunds)
    sessions: list = field(default_factory=list)  # _Session, by start


@dataclass
class _Type:
    id: int
    name: str
    base_price: Decimal
    limit: int
    tiers: list
    has_demand: bool


@dataclass
class _Session:
    id: int
    event: _Event
    start: datetime
    sales_start: datetime
    sales_end: datetime
    seated: bool
    types: list  # _Type
    stock: dict = field(default_factory=dict)  # GA: type id -> [total, sold]
    seats: dict = field(default_factory=dict)  # seated: type id -> list of (row key, number, seat id)
    seat_total: Counter = field(default_factory=Counter)
    sold_seats: set = field(default_factory=set)


@dataclass
class _Buyer:
    index: int
    user: User
    taste: Taste
    anon: str
    joined: datetime
    weights: dict  # event id -> how likely a visit is about it
    bought: Counter = field(default_factory=Counter)  # (session, type) -> tickets
    ledger: list = field(default_factory=list)  # (time, kind, amount, order or None, once key, reason)
    granted: bool = False  # a wallet that exists had its grant already
    wallet_at: datetime | None = None
    last_seen: datetime | None = None


@dataclass
class _Purchase:
    buyer: _Buyer
    session: _Session
    hold: Hold
    items: list  # HoldItem
    seats: list  # seat ids
    quantity: int
    held_at: datetime
    order: Order | None = None
    paid_at: datetime | None = None
    refund: Refund | None = None


class _History:
    def __init__(self, *, now: datetime, days: int) -> None:
        self.now = now
        self.days = days
        self.start = now - timedelta(days=days)
        self.rng = random.Random(SEED)
        self.zone = timezone.get_default_timezone()
        self.admin = User.objects.filter(role=Role.ADMIN).order_by("pk").first()
        self.ready: list[dict] = []  # behaviour lines for the writer, and those waiting for their rows' ids
        self.deferred: list[dict] = []
        self.count = 0
        self.purchases: list[_Purchase] = []
        self.search_counts: dict[str, Counter] = {}
        self.numbers = set(Order.objects.values_list("number", flat=True))
        self.grant = Decimal(settings.WALLET_DEMO_GRANT)
        self.day_weights: dict = {}

    # -- loading -----------------------------------------------------------------------------

    def _load(self) -> None:
        rng = self.rng
        events = (Event.objects.filter(status=EventStatus.APPROVED, start_time__gt=self.start)
                  .select_related("category").order_by("pk"))
        self.events = {e.pk: _Event(id=e.pk, category=e.category.slug, city=e.city, title=e.title, start=e.start_time,
                                    real_name=e.real_name_required, popularity=rng.lognormvariate(0, 0.5),
                                    publisher=e.publisher_id, refunds=RefundPolicy.of(e))
                       for e in events}
        # Sales opened before the history began: the orders of these weeks were bought while on sale, and
        # the events of the last days (they have begun) had sessions too: their doors checked tickets in.
        opened = self.start - timedelta(days=1)
        seed_past_sessions(events, opened=opened)
        sessions = list(Session.objects.filter(event_id__in=self.events).order_by("event_id", "start_time", "pk"))
        moved = {s.event_id for s in sessions if s.sales_start > opened}
        Session.objects.filter(pk__in=[s.pk for s in sessions], sales_start__gt=opened).update(sales_start=opened)
        for event_id in sorted(moved):
            catalogue.forget_event(event_id)
        types = defaultdict(list)
        for tt in TicketType.objects.filter(event_id__in=self.events).prefetch_related("tiers").order_by("position", "pk"):
            tiers = list(tt.tiers.all())
            types[tt.event_id].append(_Type(id=tt.pk, name=tt.name, base_price=tt.base_price, limit=tt.per_user_limit,
                                            tiers=tiers, has_demand=any(t.kind == "demand" for t in tiers)))
        self.sessions: dict[int, _Session] = {}
        for s in sessions:
            event = self.events[s.event_id]
            session = _Session(id=s.pk, event=event, start=s.start_time, sales_start=min(s.sales_start, opened),
                               sales_end=s.sales_end, seated=s.seat_map_id is not None, types=types[s.event_id])
            event.sessions.append(session)
            self.sessions[s.pk] = session
        for stock in Stock.objects.filter(session_id__in=self.sessions).order_by("pk"):
            self.sessions[stock.session_id].stock[stock.ticket_type_id] = [stock.total, stock.sold]
        for seat_id, session_id, tt, section, row, number in (
                SessionSeat.objects.filter(session_id__in=self.sessions, status=SeatStatus.FREE)
                .order_by("session_id", "seat__section", "seat__row", "seat__number")
                .values_list("seat_id", "session_id", "ticket_type_id", "seat__section", "seat__row", "seat__number")):
            session = self.sessions[session_id]
            session.seats.setdefault(tt, []).append(((section, row), number, seat_id))
            session.seat_total[tt] += 1
        for session in self.sessions.values():
            if session.seated:  # the few seated shows are the headline ones
                session.event.popularity = 2.0 + rng.random()
        self.event_list = sorted(self.events.values(), key=lambda e: e.id)
        self.starts = sorted(e.start for e in self.event_list)
        self.pools: dict = {}

    def _buyers(self) -> list[_Buyer]:
        rng = self.rng
        buyers = []
        known = demo_buyers()
        has_wallet = set(Wallet.objects.filter(user__in=[user for user, _taste in known]).values_list("user_id", flat=True))
        for user, taste in known:
            index = 0 if user.username == "customer" else int(user.username[len(BUYER_PREFIX):])
            if index and rng.random() < 0.6:  # most signed up during these weeks: the new-users chart
                joined = self._moment(self.start, self.now - timedelta(days=2))
            else:
                joined = self.start - timedelta(days=rng.uniform(1, 120))
            weights = {}
            for event in self.event_list:
                liked = event.category in taste.categories
                home = event.city in taste.cities
                weight = 1.0 if liked and home else 0.08 if liked else 0.02 if home else 0.0
                if weight:
                    weights[event.id] = weight * event.popularity
            buyer = _Buyer(index=index, user=user, taste=taste, anon=self._anon_id(), joined=joined, weights=weights)
            buyer.granted = user.pk in has_wallet  # the demo customer who has bought already: pay from what is there
            buyers.append(buyer)
        self.buyers_by_index = {b.index: b for b in buyers}
        return buyers

    def _anon_id(self) -> str:
        return ANON_PREFIX + f"{self.rng.getrandbits(112):028x}"

    # -- time ---------------------------------------------------------------------------------

    def _moment(self, low: datetime, high: datetime) -> datetime:
        """A moment between low and high, most often on a busy weekday hour (local time) and, over the
        weeks, a little more often lately (a growing shop)."""
        rng = self.rng
        first = timezone.localtime(low, self.zone).date()
        last = timezone.localtime(high, self.zone).date()
        key = (first, last)
        if key not in self.day_weights:
            span = (last - first).days + 1
            days = [first + timedelta(days=i) for i in range(span)]
            self.day_weights[key] = (days, list(accumulate(
                WEEKDAY_WEIGHTS[d.weekday()] * (0.75 + 0.5 * (d - self.start.date()).days / max(self.days, 1))
                for d in days)))
        days, cumulative = self.day_weights[key]
        for _attempt in range(20):
            day = rng.choices(days, cum_weights=cumulative)[0]
            hour = rng.choices(range(24), cum_weights=HOUR_CUMULATIVE)[0]
            moment = timezone.make_aware(datetime(day.year, day.month, day.day, hour, rng.randrange(60),
                                                  rng.randrange(60)), self.zone)
            if low <= moment <= high:
                return moment
        return low + (high - low) * rng.random()

    # -- lines --------------------------------------------------------------------------------

    def _line(self, action: str, at: datetime, *, buyer: _Buyer | None = None, anon: str = "", event: int | None = None,
              session: int | None = None, details: dict | None = None) -> None:
        if at > self.now:  # a visit that began just before now: what it would do next has not happened yet
            return
        line = {"user_id": buyer.user.pk if buyer else None, "anon_id": buyer.anon if buyer else anon,
                "action": action, "event_id": event, "session_id": session, "timestamp": at, "details": details or {}}
        self.count += 1
        if any(isinstance(value, (_Purchase, Ticket)) for value in line["details"].values()):
            self.deferred.append(line)
            return
        self.ready.append(line)
        if len(self.ready) >= _LineWriter.BATCH:
            self.writer.put(self.ready)
            self.ready = []

    def _search_count(self, query: str, city: str = "") -> int:
        """How many events the search finds (one full-text search per query; the city filter counted here)."""
        if query not in self.search_counts:
            self.search_counts[query] = Counter(event_search(query=query).values_list("city", flat=True))
        found = self.search_counts[query]
        return sum(found.values()) if not city else sum(n for c, n in found.items() if c.lower() == city.lower())

    def _query_for(self, event: _Event) -> tuple[str, str]:
        """What someone looking for `event` types into the search box, and the city filter they set."""
        rng = self.rng
        category = CATEGORY_NAMES[event.category]
        artists = [a for a in ARTISTS if a in event.title]
        choice = rng.random()
        if choice < 0.5:
            return category, event.city if rng.random() < 0.3 else ""
        if choice < 0.75 and artists:
            return rng.choice(artists), ""
        if choice < 0.85:
            return category, event.city
        if choice < 0.95:
            return CITY_EN[event.city], ""
        return event.title.split()[0], ""

    # -- visits -------------------------------------------------------------------------------

    def _pool(self, key, at: datetime, weight) -> tuple[list[_Event], list[float]]:
        """Events not started at `at` with their cumulative weights (> 0 only), kept until the next one starts."""
        cut = bisect.bisect_right(self.starts, at)
        cached = self.pools.get((key, cut))
        if cached is None:
            candidates = self.event_list if key == "any" or isinstance(key, tuple) else [
                self.events[i] for i in sorted(self.buyers_by_index[key].weights)]
            pool = [(e, w) for e in candidates if e.start > at and (w := weight(e)) > 0]
            total, cumulative = 0.0, []
            for _e, w in pool:
                total += w
                cumulative.append(total)
            cached = self.pools[(key, cut)] = ([e for e, _w in pool], cumulative)
        return cached

    def _choose(self, key, at: datetime, weight) -> _Event | None:
        pool, cumulative = self._pool(key, at, weight)
        return self.rng.choices(pool, cum_weights=cumulative)[0] if pool else None

    def _pick(self, buyer: _Buyer, at: datetime) -> tuple[_Event | None, bool]:
        """The event a buyer's visit is about, and whether it was their taste (not noise)."""
        if self.rng.random() < NOISE:
            return self._choose("any", at, lambda e: e.popularity ** 0.5), False
        return self._choose(buyer.index, at, lambda e: buyer.weights.get(e.id, 0.0)), True

    def visit(self, buyer: _Buyer, at: datetime) -> None:
        rng = self.rng
        buyer.last_seen = at
        event, liked = self._pick(buyer, at)
        if event is None:
            return
        t = at
        if rng.random() < 0.4:
            if rng.random() < 0.12:
                query, city = rng.choice(NOTHING), ""
            else:
                query, city = self._query_for(event)
            count = self._search_count(query, city)
            self._line(Action.SEARCH, t, buyer=buyer, details={"q": query, "filters": {"city": city} if city else {},
                                                               "results": count, "page": 1})
            t += timedelta(seconds=rng.uniform(5, 40))
        self._line(Action.EVENT_VIEW, t, buyer=buyer, event=event.id)
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):  # a look at a few more on the way
            t += timedelta(seconds=rng.uniform(15, 180))
            other, _liked = self._pick(buyer, t)
            if other is not None:
                self._line(Action.EVENT_VIEW, t, buyer=buyer, event=other.id)
        t += timedelta(seconds=rng.uniform(20, 240))
        if t > self.now - timedelta(minutes=40):
            return
        keen = 1.0 if liked else 0.45
        sessions = [s for s in event.sessions if s.sales_start <= t < s.sales_end]
        if not sessions or rng.random() > 0.62 * keen:
            return
        session = rng.choice(sessions)
        if session.seated and rng.random() < 0.9:  # "Choose seats" on the event page
            self._line(Action.SEATMAP_OPEN, t, buyer=buyer, event=event.id, session=session.id,
                       details={"source": "event_page"})
            t += timedelta(seconds=rng.uniform(1, 4))
        self._line(Action.SESSION_VIEW, t, buyer=buyer, event=event.id, session=session.id,
                   details={"seated": session.seated, "status": "on_sale"})
        if rng.random() > 0.8:
            return
        names = {tt.name: tt for tt in session.types}
        offered = [n for n in TYPE_CHOICE if n in names] or list(names)
        if not offered:
            return
        tt = names[rng.choices(offered, [TYPE_CHOICE.get(n, 1.0) for n in offered])[0]]
        t += timedelta(seconds=rng.uniform(5, 60))
        wanted = rng.choices(*QUANTITIES)[0]
        self._line(Action.TICKET_TYPE_CHOSEN, t, buyer=buyer, event=event.id, session=session.id,
                   details={"ticket_type": tt.id, "seated": session.seated,
                            **({} if session.seated else {"quantity": wanted})})
        if rng.random() > 0.62 * keen:
            return
        t += timedelta(seconds=rng.uniform(5, 90))
        self._hold(buyer, session, tt, t, wanted)

    def _hold(self, buyer: _Buyer, session: _Session, tt: _Type, at: datetime, wanted: int) -> None:
        rng = self.rng
        n = min(wanted, tt.limit - buyer.bought[(session.id, tt.id)])
        seats: list[int] = []
        if session.seated:
            seats = self._free_run(session, tt.id, n)
            n = len(seats)
        else:
            total, sold = session.stock.get(tt.id, [0, 0])
            n = min(n, total - sold)
        if n <= 0:
            return
        price = price_for(tt.base_price, tt.tiers, now=at, sold_ratio=self._sold_ratio(session, tt))
        minutes = settings.HOLD_MINUTES
        hold = Hold(user=buyer.user, session_id=session.id, status=HoldStatus.EXPIRED,
                    expires_at=at + timedelta(minutes=minutes), ended_at=at + timedelta(minutes=minutes))
        hold.created_at = at
        if seats:
            items = [HoldItem(hold=hold, ticket_type_id=tt.id, seat_id=s, quantity=1, unit_price=price) for s in seats]
        else:
            items = [HoldItem(hold=hold, ticket_type_id=tt.id, quantity=n, unit_price=price)]
        purchase = _Purchase(buyer=buyer, session=session, hold=hold, items=items, seats=seats, quantity=n,
                             held_at=at)
        self.purchases.append(purchase)
        self._line(Action.HOLD, at, buyer=buyer, event=session.event.id, session=session.id,
                   details={"hold": purchase, "tickets": n, **({"seats": seats} if seats else {})})
        total = price * n
        if rng.random() > 0.88:
            if rng.random() < 0.4:  # let go of it on the page
                hold.status, hold.ended_at = HoldStatus.RELEASED, at + timedelta(seconds=rng.uniform(20, 300))
            return
        ordered = at + timedelta(seconds=rng.uniform(10, 90))
        order = Order(user=buyer.user, event_id=session.event.id, total=total, expires_at=hold.expires_at,
                      number=self._number(ordered), status=OrderStatus.EXPIRED, closed_at=hold.expires_at)
        order.created_at = ordered
        purchase.order = order
        self._line(Action.ORDER, ordered, buyer=buyer, event=session.event.id, session=session.id,
                   details={"order": purchase, "tickets": n, "amount": float(total)})
        if rng.random() > 0.9:
            return
        paid = ordered + timedelta(seconds=rng.uniform(20, max(21, min(240, (hold.expires_at - ordered).total_seconds() - 5))))
        self._pay(purchase, paid)
        self._line(Action.PAY, paid, buyer=buyer, event=session.event.id, session=session.id,
                   details={"order": purchase, "amount": float(total), "tickets": n})
        self._maybe_refund(purchase)

    def _free_run(self, session: _Session, type_id: int, n: int) -> list[int]:
        """Up to n free seats of a type side by side in one row (the best rows go first, mostly)."""
        free = [s for s in session.seats.get(type_id, []) if s[2] not in session.sold_seats]
        if not free or n <= 0:
            return []
        rows = defaultdict(list)
        for row, number, seat_id in free:
            rows[row].append((number, seat_id))
        keys = sorted(rows)
        row = keys[min(int(self.rng.expovariate(0.5)), len(keys) - 1)]
        return [seat_id for _number, seat_id in sorted(rows[row])[:n]]

    def _sold_ratio(self, session: _Session, tt: _Type) -> float:
        if not tt.has_demand:
            return 0.0
        if session.seated:
            total = session.seat_total[tt.id]
            sold = sum(1 for _r, _n, s in session.seats.get(tt.id, []) if s in session.sold_seats)
        else:
            total, sold = session.stock.get(tt.id, [0, 0])
        return sold / total if total else 1.0

    def _number(self, at: datetime) -> str:
        while True:
            number = timezone.localtime(at, self.zone).strftime("%y%m%d") + f"{self.rng.getrandbits(32):08X}"
            if number not in self.numbers:
                self.numbers.add(number)
                return number

    def _pay(self, purchase: _Purchase, at: datetime) -> None:
        buyer, order, hold = purchase.buyer, purchase.order, purchase.hold
        order.status, order.paid_at, order.closed_at = OrderStatus.PAID, at, None
        hold.status, hold.ended_at = HoldStatus.CONSUMED, at
        purchase.paid_at = at
        session = purchase.session
        type_id = purchase.items[0].ticket_type_id
        buyer.bought[(session.id, type_id)] += purchase.quantity
        if purchase.seats:
            session.sold_seats.update(purchase.seats)
        else:
            session.stock[type_id][1] += purchase.quantity
        if buyer.wallet_at is None:  # the wallet opens on the first purchase, with its grant
            buyer.wallet_at = at - timedelta(seconds=2)
            if self.grant > 0 and not buyer.granted:
                buyer.ledger.append((buyer.wallet_at, LedgerKind.GRANT, self.grant, None, "grant", ""))
        if order.total > 0:  # the top-ups that fund it are added in time order, by _wallets
            buyer.ledger.append((at, LedgerKind.PURCHASE, -order.total, order, "purchase", ""))

    def _maybe_refund(self, purchase: _Purchase) -> None:
        rng = self.rng
        if rng.random() > 0.05:
            return
        asked = purchase.paid_at + timedelta(hours=rng.uniform(1, 120))
        if asked > self.now - timedelta(hours=1) or asked >= purchase.session.start:
            return
        order = purchase.order
        # The event's refund rules, as orders.services.refund_quote applies them: the fee is fixed when asked.
        tier = purchase.session.event.refunds.tier_for((purchase.session.start - asked).total_seconds() / 3600)
        if tier is None:
            return
        fee = fee_of(order.total, tier.percent)
        refund = Refund(order=order, user=purchase.buyer.user, amount=order.total - fee, fee=fee,
                        reason=rng.choice(REFUND_REASONS), status=RefundStatus.REQUESTED)
        refund.created_at = asked
        order.status = OrderStatus.REFUND_REQUESTED
        decided = asked + timedelta(hours=rng.uniform(2, 48))
        if decided < self.now - timedelta(minutes=10) and self.admin is not None:
            refund.status, refund.reviewed_by, refund.reviewed_at = RefundStatus.APPROVED, self.admin, decided
            order.status, order.closed_at = OrderStatus.REFUNDED, decided
            purchase.hold.status, purchase.hold.ended_at = HoldStatus.RELEASED, decided
            if order.total > 0:  # the whole price back, the fee out again (orders.services.order_refund_money)
                purchase.buyer.ledger.append((decided, LedgerKind.REFUND, order.total, order, "refund", ""))
                if fee:
                    purchase.buyer.ledger.append((decided, LedgerKind.FEE, -fee, order, "fee", "退票手续费"))
            # The buyer's line, as the approval logs it (orders.services.refund_review).
            self._line(Action.REFUND, decided, buyer=purchase.buyer, event=purchase.session.event.id,
                       details={"order": purchase, "amount": float(refund.amount), "refund": purchase})
        purchase.refund = refund

    def anonymous_visit(self, anon: str, city: str, at: datetime) -> None:
        rng = self.rng
        t = at
        for step in range(rng.choice([1, 1, 2, 3])):
            event = self._choose(("anon", city), at, lambda e: e.popularity * (3.0 if e.city == city else 1.0))
            if event is None:
                return
            if step == 0 and rng.random() < 0.3:
                query, filter_city = (rng.choice(NOTHING), "") if rng.random() < 0.15 else self._query_for(event)
                self._line(Action.SEARCH, t, anon=anon, details={
                    "q": query, "filters": {"city": filter_city} if filter_city else {},
                    "results": self._search_count(query, filter_city), "page": 1})
                t += timedelta(seconds=rng.uniform(5, 40))
            self._line(Action.EVENT_VIEW, t, anon=anon, event=event.id)
            sessions = [s for s in event.sessions if s.sales_start <= t < s.sales_end]
            if sessions and rng.random() < 0.2:
                t += timedelta(seconds=rng.uniform(10, 90))
                self._line(Action.SESSION_VIEW, t, anon=anon, event=event.id, session=rng.choice(sessions).id)
            t += timedelta(seconds=rng.uniform(20, 200))

    # -- the run -----------------------------------------------------------------------------

    def run(self) -> HistoryResult:
        self.writer = _LineWriter(BehaviourLog._get_collection())
        try:
            return self._run()
        except BaseException:
            self.writer.abandon()
            raise

    def _run(self) -> HistoryResult:
        began = clock.monotonic()
        rng = self.rng
        self._load()
        if not self.event_list:
            raise HistorySkipped("skipped, no approved events to have a history of")
        buyers = self._buyers()
        visits = []
        for buyer in buyers:
            since = max(buyer.joined, self.start)
            per_week = rng.lognormvariate(math.log(3.2), 0.6)
            for _ in range(round(per_week * (self.now - since).total_seconds() / (7 * 86400) * rng.uniform(0.8, 1.2))):
                visits.append((self._moment(since, self.now), 0, buyer.index, buyer))
        for number in range(round(len(buyers) * 2.5)):
            anon, city = self._anon_id(), rng.choices(list(CITY_WEIGHTS), list(CITY_WEIGHTS.values()))[0]
            for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 5])):
                visits.append((self._moment(self.start, self.now), 1, number, (anon, city)))
        visits.sort(key=lambda v: (v[0], v[1], v[2]))
        for at, kind, _number, who in visits:
            if kind == 0:
                self.visit(who, at)
            else:
                self.anonymous_visit(*who, at)
        simulated = clock.monotonic() - began
        result = self._write(buyers)
        result.simulation_seconds = simulated
        return result

    def _write(self, buyers: list[_Buyer]) -> HistoryResult:
        began = clock.monotonic()
        purchases = self.purchases
        holds = [p.hold for p in purchases]
        _create_backdated(Hold, holds)
        HoldItem.objects.bulk_create([i for p in purchases for i in p.items], batch_size=500)
        ordered = [p for p in purchases if p.order is not None]
        _create_backdated(Order, [p.order for p in ordered])
        OrderHold.objects.bulk_create([OrderHold(order=p.order, hold=p.hold) for p in ordered], batch_size=500)
        paid = [p for p in ordered if p.paid_at is not None]
        payments = []
        for p in paid:
            payment = Payment(order=p.order, user=p.buyer.user, amount=p.order.total, method=PaymentMethod.POINTS,
                              idempotency_key=f"demo-{self.rng.getrandbits(64):016x}")
            payment.created_at = p.paid_at
            payments.append(payment)
        _create_backdated(Payment, payments)
        tickets, attendees, doors = self._tickets(paid)
        self.checkins = len(doors)
        Attendee.objects.bulk_create(attendees, batch_size=500)
        _create_backdated(Ticket, tickets)
        _create_backdated(Refund, [p.refund for p in paid if p.refund is not None])
        self._check_in(doors)
        self._inventory(paid)
        self._wallets(buyers)
        users = [b.user for b in buyers]
        for b in buyers:
            b.user.date_joined = min(b.joined, b.last_seen or b.joined)
            b.user.last_login = b.last_seen
        _update_rows(User, users, ["date_joined", "last_login"])
        # An event's price range and "tickets left" move once a demand tier is reached or a type sells out.
        busy = {s.event.id for s in self.sessions.values()
                if any(sold >= total / 2 for total, sold in s.stock.values())
                or any(len([x for x in seats if x[2] in s.sold_seats]) >= len(seats) / 2 for seats in s.seats.values())}
        for event_id in sorted(busy):
            event_summary_refresh(event_id=event_id)
        rows_seconds = clock.monotonic() - began

        for line in self.deferred:  # the lines of holds, orders, payments, refunds and check-ins, now with ids
            details = line["details"]
            for key, value in details.items():
                if isinstance(value, _Purchase):
                    details[key] = getattr(value, key).pk  # .hold, .order or .refund
                elif isinstance(value, Ticket):
                    details[key] = value.pk
        lines = self.ready + self.deferred
        for i in range(0, len(lines), _LineWriter.BATCH):
            self.writer.put(lines[i:i + _LineWriter.BATCH])
        try:
            self.writer.close()
        except Exception as exc:  # noqa: BLE001 - half a history is no history: roll the rows back too
            self.writer.abandon()
            log.warning("demo history rolled back: MongoDB failed while writing it (%s)", exc)
            raise HistorySkipped("skipped, MongoDB failed while writing; run seed_demo again") from exc
        refunds = sum(1 for p in paid if p.refund is not None)
        return HistoryResult(buyers=len(buyers), days=self.days, lines=self.writer.written, orders=len(ordered),
                             paid=len(paid), refunds=refunds, tickets=len(tickets), checkins=self.checkins,
                             rows_seconds=rows_seconds, mongo_seconds=self.writer.busy)

    def _tickets(self, paid: list[_Purchase]) -> tuple[list[Ticket], list[Attendee], list]:
        """The e-tickets of the paid orders, their attendees, and (purchase, ticket, moment) for each ticket
        let in at the door of a session that has begun (most are: some buyers stay at home)."""
        tickets, attendees, doors = [], [], []
        for p in paid:
            refunded = p.refund is not None and p.refund.status == RefundStatus.APPROVED
            event = p.session.event
            begun = p.session.start <= self.now and p.order.status == OrderStatus.PAID
            for item in p.items:
                for index in range(item.quantity):
                    name, masked = "", ""
                    if event.real_name:
                        name = p.buyer.user.display_name if index == 0 else (
                            self.rng.choice(SURNAMES) + self.rng.choice(GIVEN))
                        masked = f"{self.rng.randrange(110000, 659999)}" + "*" * 8 + f"{self.rng.randrange(10000):04d}"
                        masked = masked[:3] + "*" * 11 + masked[-4:]
                        attendees.append(Attendee(order=p.order, hold_item=item, index=index, name=name,
                                                  id_number_masked=masked))
                    ticket = Ticket(order=p.order, user=p.buyer.user, event_id=event.id, session_id=p.session.id,
                                    ticket_type_id=item.ticket_type_id, seat_id=item.seat_id, price=item.unit_price,
                                    code=codes.ticket_code(event_id=event.id, session_id=p.session.id),
                                    status=TicketStatus.VOID if refunded else TicketStatus.VALID,
                                    seat_claim=None if refunded else 1, attendee_name=name, attendee_id_masked=masked)
                    ticket.created_at = p.paid_at
                    tickets.append(ticket)
                    if begun and self.rng.random() < 0.92:
                        at = p.session.start - timedelta(minutes=self.rng.uniform(2, 55))
                        if p.paid_at < at < self.now:
                            ticket.status = TicketStatus.USED
                            doors.append((p, ticket, at))
        return tickets, attendees, doors

    def _check_in(self, doors: list) -> None:
        """Check-ins and the door's scans (by the event's publisher) of tickets used, and orders whose every
        ticket was used are used."""
        checkins, scans = [], []
        for p, ticket, at in doors:
            checkin = CheckIn(ticket=ticket, by_id=p.session.event.publisher)
            checkin.at = at
            checkins.append(checkin)
            scan = Scan(nonce=f"demo-{self.rng.getrandbits(64):016x}", by_id=p.session.event.publisher,
                        event_id=p.session.event.id, ticket=ticket, code=ticket.code, result=ScanResult.OK)
            scan.at = at
            scans.append(scan)
            self._line(Action.CHECKIN, at, buyer=p.buyer, event=p.session.event.id, session=p.session.id,
                       details={"ticket": ticket, "staff": p.session.event.publisher})
        _create_backdated(CheckIn, checkins, field="at")
        _create_backdated(Scan, scans, field="at")
        used = {p.order.pk: p.order for p, _t, _at in doors}
        if used:
            whole = set(used) - set(Ticket.objects.filter(order_id__in=used).exclude(status=TicketStatus.USED)
                                    .values_list("order_id", flat=True))
            Order.objects.filter(pk__in=whole, status=OrderStatus.PAID).update(status=OrderStatus.USED)

    def _inventory(self, paid: list[_Purchase]) -> None:
        """Stock counters and seat rows as the sales (less the approved refunds) left them."""
        sold = Counter()
        seat_holds = {}
        for p in paid:
            if p.refund is not None and p.refund.status == RefundStatus.APPROVED:
                continue
            if p.seats:
                for seat_id in p.seats:
                    seat_holds[(p.session.id, seat_id)] = p.hold.pk
            else:
                sold[(p.session.id, p.items[0].ticket_type_id)] += p.quantity
        stocks = []
        for stock in Stock.objects.filter(session_id__in={s for s, _t in sold}):
            n = sold.get((stock.session_id, stock.ticket_type_id), 0)
            if n:
                stock.sold += n
                stock.available -= n
                stocks.append(stock)
        _update_rows(Stock, stocks, ["available", "sold"])
        rows = []
        for row in SessionSeat.objects.filter(session_id__in={s for s, _seat in seat_holds}, status=SeatStatus.FREE):
            hold_id = seat_holds.get((row.session_id, row.seat_id))
            if hold_id:
                row.status, row.hold_id, row.held_until, row.version = SeatStatus.SOLD, hold_id, None, row.version + 2
                rows.append(row)
        _update_rows(SessionSeat, rows, ["status", "hold", "held_until", "version"])

    def _wallets(self, buyers: list[_Buyer]) -> None:
        """Each paying buyer's wallet and ledger, in time order; the balance is the ledger's sum."""
        with_wallet = [b for b in buyers if b.wallet_at is not None]
        existing = {w.user_id: w for w in Wallet.objects.filter(user__in=[b.user for b in with_wallet])}
        new = [Wallet(user=b.user) for b in with_wallet if b.user.pk not in existing]
        Wallet.objects.bulk_create(new, batch_size=500)
        wallets = {**existing, **{w.user_id: w for w in new}}
        entries, changed = [], []
        for b in with_wallet:
            wallet = wallets[b.user.pk]
            balance = wallet.balance
            last = b.wallet_at
            for at, kind, amount, order, key, reason in sorted(b.ledger, key=lambda e: e[0]):
                if balance + amount < 0:  # a purchase the wallet cannot cover: topped up just before it
                    top_up = Decimal(math.ceil((-amount - balance) / 1000 + 1) * 1000)
                    balance += top_up
                    entry = LedgerEntry(wallet=wallet, kind=LedgerKind.TOPUP, amount=top_up, balance_after=balance,
                                        reason="演示充值", actor=self.admin)
                    entry.created_at = max(last, at - timedelta(seconds=1))
                    entries.append(entry)
                balance += amount
                once = f"grant:{wallet.pk}" if key == "grant" else f"{key}:{order.pk}" if key else None
                entry = LedgerEntry(wallet=wallet, kind=kind, amount=amount, balance_after=balance, order=order,
                                    reason=reason, actor=self.admin if kind in (LedgerKind.TOPUP, LedgerKind.REFUND, LedgerKind.FEE)
                                    else None, once_key=once)
                entry.created_at = at
                entries.append(entry)
                last = at
            wallet.balance, wallet.updated_at = balance, max(last, wallet.updated_at) if wallet.updated_at else last
            changed.append(wallet)
        _create_backdated(LedgerEntry, entries)
        _update_rows(Wallet, changed, ["balance", "updated_at"])


class _LineWriter:
    """insert_many in a thread of its own: MongoDB (a process of its own) writes the lines while the
    simulation and the relational rows go on. `close()` waits for the last and raises what failed."""

    BATCH = 1000

    def __init__(self, collection) -> None:
        self.collection = collection
        self.queue: Queue = Queue()
        self.error: Exception | None = None
        self.written = 0
        self.busy = 0.0  # seconds spent in insert_many
        self.thread = threading.Thread(target=self._run, name="demo-history-lines", daemon=True)
        self.thread.start()

    def put(self, lines: list[dict]) -> None:
        self.queue.put(lines)

    def _run(self) -> None:
        while (batch := self.queue.get()) is not None:
            if self.error is not None:
                continue
            began = clock.monotonic()
            try:
                self.collection.insert_many(batch, ordered=False)
                self.written += len(batch)
            except Exception as exc:  # noqa: BLE001 - raised by close()
                self.error = exc
            self.busy += clock.monotonic() - began

    def close(self) -> None:
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()
        if self.error is not None:
            raise self.error

    def abandon(self) -> None:
        """Stop, and take back what was written (best effort: the next run removes leftovers too)."""
        self.error = self.error or Exception("abandoned")
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass
        try:
            self.collection.delete_many({"anon_id": {"$regex": f"^{ANON_PREFIX}"}})
        except Exception:  # noqa: BLE001
            pass


def _create_backdated(model, objects: list, *, field: str = "created_at") -> None:
    """bulk_create, then the past moment (`field`) each object was given (auto_now_add overwrote it)."""
    if not objects:
        return
    moments = [getattr(obj, field) for obj in objects]
    model.objects.bulk_create(objects, batch_size=500)
    for obj, moment in zip(objects, moments):
        setattr(obj, field, moment)
    _update_rows(model, objects, [field])


def _update_rows(model, objects: list, fields: list[str]) -> None:
    """UPDATE … WHERE id = … for each object, one executemany (bulk_update's CASE takes seconds here)."""
    if not objects:
        return
    columns = [model._meta.get_field(name) for name in fields]
    q = connection.ops.quote_name
    sql = (f"UPDATE {q(model._meta.db_table)} SET {', '.join(f'{q(c.column)} = %s' for c in columns)}"
           f" WHERE {q(model._meta.pk.column)} = %s")
    rows = [[c.get_db_prep_save(getattr(obj, c.attname), connection) for c in columns] + [obj.pk] for obj in objects]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
