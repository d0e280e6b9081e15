"""Publisher page input: ticket types with price tiers, the seat map builder, sessions.

Validation of what was typed only (formats, required fields, names to ids);
limits and rules are checked by tickets.services and tickets.seatmaps.
"""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, RegexValidator
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from ticketing.bounds import PRICE_MAX, validate_time_window
from tickets.models import PriceTierKind, SeatMap, Seating, TicketType
from tickets.seatmaps import row_labels
from tickets.services import TierData

MAX_TIERS = 3
MAX_SECTIONS = 12
LOCAL_INPUT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends and shows


def local_datetime_widget() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_INPUT)


class RowFormSet(forms.BaseFormSet):
    """Rows a publisher may leave blank: a blank row is skipped, whether it was prefilled or not."""

    def initial_form_count(self) -> int:
        return 0  # every row is optional (forms decide "blank" in has_changed)


class OptionalRow:
    """Mixin for a formset row form that counts as blank when none of `row_fields` has anything typed in."""

    row_fields: tuple[str, ...] = ()

    def has_changed(self) -> bool:
        if not self.is_bound:
            return False
        return any(str(self.data.get(self.add_prefix(name), "")).strip() for name in self.row_fields)


# --- ticket types -------------------------------------------------------------------


class TicketTypeForm(forms.ModelForm):
    colour = forms.CharField(
        label=capfirst(_("colour")), initial="#0d6efd", max_length=7,
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", _("A colour like #0d6efd."))],
        widget=forms.TextInput(attrs={"type": "color", "class": "form-control-color"}))

    class Meta:
        model = TicketType
        fields = ["name", "base_price", "description", "per_user_limit", "colour", "hidden"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["base_price"].validators.append(MaxValueValidator(PRICE_MAX))
        self.fields["base_price"].widget.attrs["max"] = PRICE_MAX

    def _post_clean(self):
        pass  # the services change the ticket type, not the form

    def service_kwargs(self) -> dict:
        c = self.cleaned_data
        return {"name": c["name"], "base_price": c["base_price"], "description": c.get("description", ""),
                "per_user_limit": c["per_user_limit"], "colour": c["colour"], "hidden": c.get("hidden", False)}


class TierForm(OptionalRow, forms.Form):
    """One price tier (tickets.models.PriceTier); every field is optional so that a row can stay blank."""

    row_fields = ("kind", "label", "until", "sold_percent", "adjust_percent")

    kind = forms.ChoiceField(label=capfirst(_("kind")), required=False, choices=[("", "—"), *PriceTierKind.choices])
    label = forms.CharField(label=capfirst(_("label")), max_length=64, required=False)
    until = forms.DateTimeField(label=capfirst(_("until")), required=False, widget=local_datetime_widget(),
                                validators=[validate_time_window], help_text=_("Time tiers only."))
    sold_percent = forms.IntegerField(label=capfirst(_("sold at least (%)")), required=False, min_value=1,
                                      max_value=100, help_text=_("Demand tiers only."))
    adjust_percent = forms.IntegerField(label=capfirst(_("price change (%)")), required=False, min_value=-90,
                                        max_value=500, help_text=_("E.g. −20 (a fifth off) or 20 (a fifth more)."))

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if cleaned.get("adjust_percent") is None and "adjust_percent" not in self.errors:
            self.add_error("adjust_percent", forms.Field.default_error_messages["required"])
        if not kind:
            self.add_error("kind", _("Choose the kind of tier, or clear the row."))
        elif kind == PriceTierKind.TIME and not cleaned.get("until") and "until" not in self.errors:
            self.add_error("until", _("An early-bird tier needs the date it ends."))
        elif kind == PriceTierKind.DEMAND and not cleaned.get("sold_percent") and "sold_percent" not in self.errors:
            self.add_error("sold_percent", _("A demand tier needs the share sold that starts it."))
        return cleaned

    def tier_data(self) -> TierData:
        c = self.cleaned_data
        return TierData(kind=c["kind"], adjust_percent=c["adjust_percent"], label=c.get("label") or "",
                        until=c.get("until"), sold_percent=c.get("sold_percent"))


class TierFormSet(RowFormSet):
    def tier_data(self) -> list[TierData]:
        return [form.tier_data() for form in self.forms if form.cleaned_data.get("kind")]


TierFormSetClass = forms.formset_factory(TierForm, formset=TierFormSet, extra=MAX_TIERS, max_num=MAX_TIERS,
                                         absolute_max=MAX_TIERS)


def tier_formset(data=None, *, ticket_type: TicketType | None = None) -> TierFormSet:
    initial = []
    if ticket_type is not None:
        initial = [{"kind": t.kind, "label": t.label, "until": t.until, "sold_percent": t.sold_percent,
                    "adjust_percent": t.adjust_percent} for t in ticket_type.tiers.all()[:MAX_TIERS]]
    return TierFormSetClass(data, prefix="tiers", initial=initial)


# --- seat map builder ---------------------------------------------------------------


class SeatMapForm(forms.Form):
    name = forms.CharField(label=capfirst(_("name")), max_length=64, help_text=_("e.g. 主厅, Main hall"))
    stage = forms.CharField(label=capfirst(_("stage label")), max_length=32, required=False,
                            help_text=_("Shown above the seats, e.g. 舞台"))


def parse_aisles(text: str) -> list[int]:
    """"4, 12" → [4, 12]."""
    parts = [p for p in re.split(r"[\s,，、;；]+", text or "") if p]
    if not all(p.isdigit() for p in parts):
        raise ValidationError(_("Aisles are seat numbers separated by commas, e.g. 4, 12."))
    return [int(p) for p in parts]


def parse_row_types(text: str, labels: list[str], type_ids: dict[str, int]) -> dict[str, int]:
    """"A-B:VIP, C:Student" → {"A": vip, "B": vip, "C": student}; ValidationError listing every problem.

    `labels` are the section's rows in order (ranges run along them); `type_ids` maps
    case-folded ticket type names to ids. Rows outside the section are left for layout_clean.
    """
    result: dict[str, int] = {}
    errors = []
    for part in re.split(r"[,，、;；\n]+", text or ""):
        part = part.strip().replace("：", ":")
        if not part:
            continue
        rows, sep, name = part.rpartition(":")
        rows, name = rows.strip().upper(), name.strip()
        if not sep or not rows or not name:
            errors.append(_("“%(part)s”: write rows, a colon and a ticket type, e.g. A-B:VIP.") % {"part": part})
            continue
        type_id = type_ids.get(name.casefold())
        if type_id is None:
            errors.append(_("“%(part)s”: there is no ticket type called %(name)s.") % {"part": part, "name": name})
            continue
        span = re.fullmatch(r"(\w+)\s*[-–~～]\s*(\w+)", rows)
        if span is None:
            result[rows] = type_id
            continue
        first, last = span.groups()
        if first in labels and last in labels and labels.index(first) <= labels.index(last):
            result.update({row: type_id for row in labels[labels.index(first):labels.index(last) + 1]})
        else:
            errors.append(_("“%(part)s”: rows %(first)s to %(last)s are not rows of this section, in order.")
                          % {"part": part, "first": first, "last": last})
    if errors:
        raise ValidationError(errors)
    return result


def _first_row_usable(first: str) -> bool:
    return first.isdigit() or (first.isascii() and first.isalpha() and len(first) <= 2)


class SectionForm(OptionalRow, forms.Form):
    row_fields = ("name", "rows", "seats", "aisles", "row_types")

    name = forms.CharField(label=capfirst(_("section name")), max_length=32)
    ticket_type = forms.TypedChoiceField(label=capfirst(_("ticket type")), coerce=int)
    rows = forms.IntegerField(label=capfirst(_("rows")), min_value=1)
    seats = forms.IntegerField(label=capfirst(_("seats per row")), min_value=1)
    first_row = forms.CharField(label=capfirst(_("first row")), max_length=3, required=False, initial="A",
                                help_text=_("A letter (A) or a number (1)."))
    aisles = forms.CharField(label=capfirst(_("aisles after seats")), required=False, help_text=_("e.g. 4, 12"))
    row_types = forms.CharField(label=capfirst(_("row overrides")), required=False,
                                help_text=_("Rows sold as another type, e.g. A-B:VIP, C:Student"))

    def __init__(self, *args, ticket_types: list[TicketType], **kwargs):
        super().__init__(*args, **kwargs)
        self.ticket_types = ticket_types
        self.fields["ticket_type"].choices = [(t.pk, t.name) for t in ticket_types]

    def clean_first_row(self) -> str:
        return (self.cleaned_data.get("first_row") or "A").strip().upper()

    def clean_aisles(self) -> list[int]:
        return parse_aisles(self.cleaned_data.get("aisles", ""))

    def clean(self):
        cleaned = super().clean()
        first, rows = cleaned.get("first_row") or "A", cleaned.get("rows")
        text = cleaned.get("row_types") or ""
        if text.strip() and rows and _first_row_usable(first):
            labels = row_labels(first, min(rows, 200))
            names = {t.name.casefold(): t.pk for t in self.ticket_types}
            try:
                cleaned["row_types"] = parse_row_types(text, labels, names)
            except ValidationError as exc:
                self.add_error("row_types", exc)
        elif not text.strip():
            cleaned["row_types"] = {}
        return cleaned

    def section_layout(self) -> dict:
        c = self.cleaned_data
        row_types = c.get("row_types")
        return {"name": c["name"].strip(), "ticket_type": c["ticket_type"], "rows": c["rows"], "seats": c["seats"],
                "first_row": c["first_row"], "aisles": c["aisles"],
                "row_types": row_types if isinstance(row_types, dict) else {}}


class SectionFormSet(RowFormSet):
    def layout_sections(self) -> list[dict]:
        return [form.section_layout() for form in self.forms if form.has_changed()]


def section_formset(data=None, *, ticket_types: list[TicketType], initial=None, extra: int = 3) -> SectionFormSet:
    cls = forms.formset_factory(SectionForm, formset=SectionFormSet, extra=min(extra, MAX_SECTIONS),
                                max_num=MAX_SECTIONS, absolute_max=MAX_SECTIONS)
    return cls(data, prefix="sections", initial=initial, form_kwargs={"ticket_types": ticket_types})


def seat_map_layout(form: SeatMapForm, sections: SectionFormSet) -> dict:
    """The layout JSON (tickets.seatmaps) from a valid builder form."""
    return {"stage": form.cleaned_data.get("stage") or "", "sections": sections.layout_sections()}


# --- sessions -----------------------------------------------------------------------


class SessionForm(forms.Form):
    name = forms.CharField(label=capfirst(_("name")), max_length=64, required=False,
                           help_text=_("Optional, e.g. 首场, Matinee"))
    hall = forms.CharField(label=capfirst(_("hall")), max_length=64, required=False)
    start_time = forms.DateTimeField(label=capfirst(_("starts")), widget=local_datetime_widget(),
                                     validators=[validate_time_window])
    end_time = forms.DateTimeField(label=capfirst(_("ends")), widget=local_datetime_widget(),
                                   validators=[validate_time_window])
    sales_start = forms.DateTimeField(label=capfirst(_("sales open")), widget=local_datetime_widget(),
                                      validators=[validate_time_window])
    sales_end = forms.DateTimeField(label=capfirst(_("sales close")), widget=local_datetime_widget(),
                                    validators=[validate_time_window])
    seating = forms.ChoiceField(label=capfirst(_("seating")), choices=Seating.choices, widget=forms.RadioSelect)
    seat_map = forms.ModelChoiceField(label=capfirst(_("seat map")), queryset=SeatMap.objects.none(), required=False,
                                      help_text=_("For reserved seating: buyers pick their seats on this map."))
    waiting_room = forms.BooleanField(
        label=_("Hot sale: waiting room"), required=False,
        help_text=_("From a few minutes before sales open, buyers queue in a fair waiting room (a random order for "
                    "everyone already there when sales open) and are let in a few at a time."))
    admit_per_second = forms.IntegerField(label=capfirst(_("buyers admitted per second")), min_value=1, max_value=1000,
                                          initial=20, required=False,
                                          help_text=_("As many as the sale can serve at once (20 if left empty)."))

    def __init__(self, *args, seat_maps, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["seat_map"].queryset = seat_maps

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("seating") == Seating.SEATED and not cleaned.get("seat_map"):
            self.add_error("seat_map", _("Choose the seat map this session is sold by."))
        return cleaned

    @property
    def seated(self) -> bool:
        return self.cleaned_data.get("seating") == Seating.SEATED


class StockForm(forms.Form):
    """General admission: how many tickets of each type one session sells."""

    def __init__(self, *args, ticket_types: list[TicketType], **kwargs):
        super().__init__(*args, **kwargs)
        for ticket_type in ticket_types:
            self.fields[f"type_{ticket_type.pk}"] = forms.IntegerField(
                label=ticket_type.name, required=False, min_value=0, max_value=100000)

    def stock(self) -> dict[int, int]:
        return {int(name.removeprefix("type_")): n for name, n in self.cleaned_data.items() if n}


class WaitingRoomForm(forms.Form):
    """A session's waiting room, on or off, and its rate (the publisher's sessions list)."""

    waiting_room = forms.BooleanField(label=_("Hot sale: waiting room"), required=False)
    admit_per_second = forms.IntegerField(label=capfirst(_("buyers admitted per second")), min_value=1, max_value=1000)
