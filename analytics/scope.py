"""Which figures a dashboard or a stats API call is about: a date range and the events in view.

One form parses the filters of every stats page and endpoint (`from`, `to`, or the
seed's single `date`; `event`, `publisher`, `category`) and turns them into a
`StatsScope` for the user asking. A publisher's scope never leaves their own events,
whatever they pass; an admin's is every event unless they filter.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User
from events.models import Category, Event
from events.selectors import category_ids_under

DEFAULT_DAYS = 30
MAX_DAYS = 731


@dataclass(frozen=True)
class StatsScope:
    start: date                   # first local day, inclusive
    end: date                     # last local day, inclusive
    event_ids: list[int] | None   # None: every event (an admin without filters)
    publisher_id: int | None = None
    category_id: int | None = None
    event_id: int | None = None

    @property
    def start_at(self) -> datetime:
        """00:00 local of the first day (aware)."""
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def end_at(self) -> datetime:
        """00:00 local of the day after the last one (aware): ranges are [start_at, end_at)."""
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min))

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def as_query(self) -> dict[str, str]:
        """The filters as query parameters (links to the CSV exports keep what is on screen)."""
        query = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        for name in ("event", "publisher", "category"):
            if (value := getattr(self, f"{name}_id")) is not None:
                query[name] = str(value)
        return query


class StatsFilterForm(forms.Form):
    date = forms.DateField(required=False, label=_("Day"))
    from_ = forms.DateField(required=False, label=_("From"))
    to = forms.DateField(required=False, label=_("To"))
    event = forms.IntegerField(required=False, min_value=1, label=_("Event"))
    publisher = forms.IntegerField(required=False, min_value=1, label=_("Publisher"))
    category = forms.IntegerField(required=False, min_value=1, label=_("Category"))

    def __init__(self, data=None, *, user: User, **kwargs):
        if data is not None and "from" in data:  # "from" is a keyword in Python: the field is from_
            data = data.copy()
            data["from_"] = data.get("from")
        super().__init__(data, **kwargs)
        self.user = user

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        if data.get("date"):
            if data.get("from_") or data.get("to"):
                raise forms.ValidationError(_("Give either one day or a range (from, to), not both."))
            data["from_"] = data["to"] = data["date"]
        end = data.get("to") or today
        start = data.get("from_") or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise forms.ValidationError(_("The range starts after it ends."))
        if (end - start).days >= MAX_DAYS:
            raise forms.ValidationError(_("Choose a range of at most two years."))
        data["from_"], data["to"] = start, end
        if data.get("publisher") and self.user.role != Role.ADMIN:
            raise forms.ValidationError(_("Only administrators can filter by publisher."))
        if data.get("event") and not self._events().filter(pk=data["event"]).exists():
            self.add_error("event", _("No such event among yours."))
        if data.get("category") and not Category.objects.filter(pk=data["category"]).exists():
            self.add_error("category", _("No such category."))
        return data

    def _events(self):
        events = Event.objects.all()
        if self.user.role != Role.ADMIN:
            events = events.filter(publisher=self.user)
        return events

    def scope(self) -> StatsScope:
        """The scope of a valid form."""
        data = self.cleaned_data
        filtered = self.user.role != Role.ADMIN or any(data.get(k) for k in ("event", "publisher", "category"))
        event_ids = None
        if filtered:
            events = self._events()
            if data.get("event"):
                events = events.filter(pk=data["event"])
            if data.get("publisher"):
                events = events.filter(publisher_id=data["publisher"])
            if data.get("category"):
                events = events.filter(category_id__in=category_ids_under(data["category"]))
            event_ids = sorted(events.values_list("pk", flat=True))
        return StatsScope(start=data["from_"], end=data["to"], event_ids=event_ids,
                          publisher_id=data.get("publisher"), category_id=data.get("category"),
                          event_id=data.get("event"))


def may_read_stats(user) -> bool:
    """Admins read every figure, publishers those of their own events; nobody else any."""
    return getattr(user, "is_authenticated", False) and user.role in (Role.ADMIN, Role.PUBLISHER)
