"""The stats dashboards: /manage/stats/ (administrators, every event) and /publisher/stats/ (own events).

One view and one template; the scope from analytics.scope decides what is counted. Every table
downloads as CSV (?format=csv&table=<name>, the filters kept), UTF-8 with BOM like the orders export.
The behaviour sections (funnel, visitors, searches) come from MongoDB in a second request
(?part=behaviour, fetched by htmx once the page shows): on the embedded nx-27017 they take seconds over
a demo log. When MongoDB does not answer, those sections say so and the sales figures still show.
"""

import csv
import io
from urllib.parse import urlencode
from datetime import timedelta

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import get_language, gettext_lazy
from django.views.decorators.http import require_GET

from accounts.models import Role, User
from accounts.permissions import role_required
from analytics import behaviour, stats
from analytics.behaviour import BehaviourUnavailable
from analytics.scope import StatsFilterForm, StatsScope
from events.models import Category, Event

WEEKDAYS = [gettext_lazy("Mon"), gettext_lazy("Tue"), gettext_lazy("Wed"), gettext_lazy("Thu"),
            gettext_lazy("Fri"), gettext_lazy("Sat"), gettext_lazy("Sun")]
FUNNEL_LABELS = {"view": gettext_lazy("Event page"), "seatmap": gettext_lazy("Seat map"),
                 "hold": gettext_lazy("Hold"), "order": gettext_lazy("Order placed"), "paid": gettext_lazy("Paid")}
GROUP_TABLES = {"events": "event", "ticket_types": "ticket_type", "publishers": "publisher", "cities": "city",
                "categories": "category"}
BEHAVIOUR_TABLES = ("users", "funnel", "funnel_events", "searches_top", "searches_empty")
GROUP_TITLES = {"event": gettext_lazy("By event"), "ticket_type": gettext_lazy("By ticket type"),
                "publisher": gettext_lazy("By publisher"), "city": gettext_lazy("By city"),
                "category": gettext_lazy("By category")}


def _sales_columns(first: str) -> list[tuple[str, str]]:
    return [("label", first), ("revenue", _("Revenue")), ("tickets", _("Tickets sold")), ("orders", _("Orders")),
            ("refunds", _("Refunds")), ("refund_amount", _("Refunded")), ("net", _("Net")),
            ("aov", _("Average order"))]


class Dashboard:
    """The figures of one dashboard request; each table is computed when first asked for."""

    def __init__(self, *, scope: StatsScope, admin: bool):
        self.scope = scope
        self.admin = admin
        self._cache: dict = {}
        self.behaviour_error = ""

    def _once(self, name, compute):
        if name not in self._cache:
            self._cache[name] = compute()
        return self._cache[name]

    def _behaviour(self, name, compute):
        """A MongoDB figure, or None (and a message) when the behaviour log does not answer."""
        def guarded():
            try:
                return compute()
            except BehaviourUnavailable:
                self.behaviour_error = _("Behaviour figures unavailable: the behaviour log does not answer right "
                                         "now. Sales figures are not affected.")
                return None
        return self._once(name, guarded)

    # -- relational ---------------------------------------------------------------------------------
    def days(self) -> list[dict]:
        return self._once("days", lambda: stats.cached("sales:day", self.scope,
                                                       lambda: stats.sales(scope=self.scope, group_by="day")))

    def totals(self) -> dict:
        return stats.sales_totals(days=self.days())

    def group(self, group_by: str) -> list[dict]:
        return self._once(group_by, lambda: stats.cached(f"sales:{group_by}:200", self.scope, lambda: stats.sales(
            scope=self.scope, group_by=group_by, limit=200)))

    def groups(self) -> list[str]:
        names = ["event", "ticket_type", "city", "category"]
        return ["event", "ticket_type", "publisher", "city", "category"] if self.admin else names

    def sessions(self) -> list[dict]:
        return self._once("sessions", lambda: stats.sell_through(scope=self.scope, limit=100))

    def heat(self) -> list[dict]:
        return self._once("heat", lambda: stats.cached("heat", self.scope, lambda: stats.sales_heat(scope=self.scope)))

    def new_users(self) -> list[dict] | None:
        if not self.admin:  # accounts are platform-wide, not a publisher's figure
            return None
        return self._once("new_users", lambda: stats.new_users_by_day(start=self.scope.start, end=self.scope.end))

    # -- behaviour (MongoDB) ------------------------------------------------------------------------
    def active(self) -> list[dict] | None:
        return self._behaviour("active", lambda: behaviour.active_by_day(scope=self.scope))

    def funnel(self) -> list[dict] | None:
        return self._behaviour("funnel", lambda: behaviour.funnel(scope=self.scope))

    def funnel_by_event(self) -> list[dict] | None:
        def compute():
            rows = behaviour.funnel_by_event(scope=self.scope, limit=20)
            titles = dict(Event.objects.filter(pk__in=[r["event_id"] for r in rows]).values_list("pk", "title"))
            return [{**r, "event": titles.get(r["event_id"], f"#{r['event_id']}")} for r in rows]
        return self._behaviour("funnel_by_event", compute)

    def searches_top(self) -> list[dict] | None:
        if not self.admin:  # what buyers search for is a platform figure
            return None
        return self._behaviour("searches_top", lambda: behaviour.searches_top(
            start=self.scope.start, end=self.scope.end, limit=20))

    def searches_empty(self) -> list[dict] | None:
        if not self.admin:
            return None
        return self._behaviour("searches_empty", lambda: behaviour.searches_empty(
            start=self.scope.start, end=self.scope.end, limit=20))

    # -- tables (what the page shows and the CSV exports) -------------------------------------------
    def table(self, name: str) -> tuple[list[tuple[str, str]], list[dict]] | None:
        """(columns, rows) of one table, or None when this dashboard has no such table."""
        if name == "days":
            return _sales_columns(_("Day")), self.days()
        if name in GROUP_TABLES and GROUP_TABLES[name] in self.groups():
            group = GROUP_TABLES[name]
            return _sales_columns(_group_column(group)), self.group(group)
        if name == "sessions":
            return ([("event", _("Event")), ("session", _("Session")), ("capacity", _("Capacity")),
                     ("sold", _("Sold")), ("held", _("Held now")), ("percent", _("Sell-through (%)"))],
                    [{**r, "percent": round(r["rate"] * 100, 1)} for r in self.sessions()])
        if name == "heat":
            cells = {(c["weekday"], c["hour"]): c["tickets"] for c in self.heat()}
            columns = [("weekday", _("Weekday"))] + [(str(h), f"{h:02d}") for h in range(24)]
            rows = [{"weekday": str(WEEKDAYS[d - 1]), **{str(h): cells.get((d, h), 0) for h in range(24)}}
                    for d in range(1, 8)]
            return columns, rows
        if name == "users":
            new = self.new_users()
            active = self.active()
            if new is None and active is None:
                return None
            columns = [("day", _("Day"))]
            if new is not None:
                columns.append(("new", _("New accounts")))
            if active is not None:
                columns += [("visitors", _("Active visitors")), ("users", _("Active signed-in users"))]
            new_by_day = {r["day"]: r["users"] for r in new or []}
            active_by_day = {r["day"]: r for r in active or []}
            rows = [{"day": day, "new": new_by_day.get(day, 0),
                     "visitors": active_by_day.get(day, {}).get("visitors", 0),
                     "users": active_by_day.get(day, {}).get("users", 0)} for day in self.scope.days]
            return columns, rows
        if name == "funnel":
            rows = self.funnel()
            if rows is None:
                return None
            first = rows[0]["visitors"] if rows else 0
            return ([("step", _("Step")), ("visitors", _("Visitors")), ("percent", _("Of event-page visitors (%)"))],
                    [{"step": str(FUNNEL_LABELS.get(r["step"], r["step"])), "visitors": r["visitors"],
                      "percent": round(100 * r["visitors"] / first, 1) if first else 0} for r in rows])
        if name == "funnel_events":
            rows = self.funnel_by_event()
            if rows is None:
                return None
            return [("event", _("Event"))] + [(step, str(label)) for step, label in FUNNEL_LABELS.items()], rows
        if name == "searches_top":
            rows = self.searches_top()
            if rows is None:
                return None
            return [("query", _("Search")), ("count", _("Searches")), ("avg_results", _("Average results"))], rows
        if name == "searches_empty":
            rows = self.searches_empty()
            if rows is None:
                return None
            return [("query", _("Search")), ("count", _("Searches"))], rows
        return None


def _group_column(group: str) -> str:
    return {"event": _("Event"), "ticket_type": _("Ticket type"), "publisher": _("Publisher"), "city": _("City"),
            "category": _("Category")}[group]


def _cell(value) -> str:
    """A CSV cell a spreadsheet will not run as a formula (as orders.views does)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _csv(dashboard: Dashboard, name: str) -> HttpResponse:
    table = dashboard.table(name)
    if table is None:
        raise Http404(_("No such table."))
    columns, rows = table
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([title for _key, title in columns])
    for row in rows:
        writer.writerow([_cell(row.get(key)) for key, _title in columns])
    response = HttpResponse(out.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8")
    scope = dashboard.scope
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"stats-{name}-{scope.start:%Y%m%d}-{scope.end:%Y%m%d}.csv")
    return response


def _chart_data(dashboard: Dashboard) -> dict:
    """What static/js/stats.js draws (numbers as floats, labels already translated)."""
    days = dashboard.days()
    data = {
        "days": [d["key"].isoformat() for d in days],
        "revenue": [float(d["revenue"]) for d in days],
        "refund_amount": [float(d["refund_amount"]) for d in days],
        "tickets": [d["tickets"] for d in days],
        "orders": [d["orders"] for d in days],
        "aov": [float(d["aov"]) for d in days],
        "groups": {g: [{"label": r["label"], "revenue": float(r["revenue"]), "tickets": r["tickets"]}
                       for r in dashboard.group(g)[:15]] for g in dashboard.groups()},
        "sessions": [{"label": f"{r['event']} · {r['session']}", "percent": round(r["rate"] * 100, 1),
                      "sold": r["sold"], "capacity": r["capacity"]} for r in dashboard.sessions()[:20]],
        "heat": [[c["hour"], c["weekday"] - 1, c["tickets"]] for c in dashboard.heat()],
        "weekdays": [str(w) for w in WEEKDAYS],
        "strings": {
            "revenue": _("Revenue"), "refunds": _("Refunded"), "tickets": _("Tickets sold"), "orders": _("Orders"),
            "aov": _("Average order"), "sell_through": _("Sell-through (%)"),
        },
    }
    return data


def _choices(user: User) -> dict:
    events = Event.objects.order_by("-start_time")
    if user.role != Role.ADMIN:
        events = events.filter(publisher=user)
    choices = {"events": list(events.values_list("pk", "title")[:500]),
               "categories": [(c.pk, c.name_zh if (get_language() or "").startswith("zh") else c.name_en)
                              for c in Category.objects.get_tree()]}
    if user.role == Role.ADMIN:
        choices["publishers"] = [(u.pk, str(u)) for u in User.objects.filter(role=Role.PUBLISHER).order_by("username")[:500]]
    return choices


def _dashboard(request, *, admin: bool):
    form = StatsFilterForm(request.GET, user=request.user)
    if not form.is_valid():
        context = {"form": form, "admin": admin, "choices": _choices(request.user), "query": request.GET}
        return render(request, "analytics/dashboard.html", context, status=400)
    dashboard = Dashboard(scope=form.scope(), admin=admin)
    if request.GET.get("format") == "csv":
        return _csv(dashboard, request.GET.get("table", ""))
    query = dashboard.scope.as_query()
    if request.GET.get("part") == "behaviour":
        return _behaviour_part(request, dashboard, query)
    tables = _tables(dashboard, ("days", *[n for n, g in GROUP_TABLES.items() if g in dashboard.groups()],
                                 "sessions", "heat"))
    context = {
        "form": form, "admin": admin, "scope": dashboard.scope, "totals": dashboard.totals(), "tables": tables,
        "group_sections": [(name, g, GROUP_TITLES[g], tables[name]) for name, g in GROUP_TABLES.items()
                           if g in dashboard.groups()],
        "chart_data": _chart_data(dashboard),
        "choices": _choices(request.user), "query": query,
        "csv_query": urlencode(query),
        "live_events": _live_events(request.user) if not admin else [],
        "yesterday": timezone.localdate() - timedelta(days=1),
    }
    return render(request, "analytics/dashboard.html", context)


def _tables(dashboard: Dashboard, names) -> dict:
    tables = {}
    for name in names:
        table = dashboard.table(name)
        tables[name] = None if table is None else {
            "columns": [title for _key, title in table[0]],
            "rows": [[row.get(key) for key, _title in table[0]] for row in table[1]]}
    return tables


def _behaviour_part(request, dashboard: Dashboard, query: dict):
    """The sections from the behaviour log (users per day, funnel, searches), asked for by the page once it
    has shown the sales: on the embedded MongoDB they take seconds, and the sales never wait for them."""
    tables = _tables(dashboard, BEHAVIOUR_TABLES)
    new_users, active, funnel = dashboard.new_users(), dashboard.active(), dashboard.funnel()
    data = {
        "days": [day.isoformat() for day in dashboard.scope.days],
        "new_users": None if new_users is None else [r["users"] for r in new_users],
        "active": None if active is None else {"visitors": [r["visitors"] for r in active],
                                               "users": [r["users"] for r in active]},
        "funnel": None if funnel is None else [
            {"name": str(FUNNEL_LABELS.get(r["step"], r["step"])), "value": r["visitors"]} for r in funnel],
        "strings": {"new_users": _("New accounts"), "visitors": _("Active visitors"),
                    "users": _("Active signed-in users"), "visitors_short": _("Visitors")},
    }
    context = {"admin": dashboard.admin, "tables": tables, "behaviour_error": dashboard.behaviour_error,
               "behaviour_data": data, "csv_query": urlencode(query)}
    return render(request, "analytics/partials/behaviour.html", context)


def _live_events(user: User) -> list[tuple[int, str]]:
    """The publisher's events that have a session on sale now (for the live counter)."""
    now = timezone.now()
    return list(Event.objects.filter(publisher=user, sessions__sales_start__lte=now, sessions__sales_end__gt=now)
                .distinct().order_by("start_time").values_list("pk", "title")[:50])


@role_required(Role.ADMIN)
@require_GET
def admin_stats(request):
    """Every event's figures; filters by date range, event, publisher and category. Roles: admin."""
    return _dashboard(request, admin=True)


@role_required(Role.PUBLISHER)
@require_GET
def publisher_stats(request):
    """The figures of the publisher's own events, with a live counter during an on-sale. Roles: publisher."""
    return _dashboard(request, admin=False)
