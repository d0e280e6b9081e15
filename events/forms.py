from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from events.models import Category, Event
from events.refunds import MAX_HOURS, MAX_TIERS, RefundPolicyKind, clean_tiers
from events.services import EventData
from events.validators import validate_cover
from ticketing.bounds import DESCRIPTION_MAX, REASON_MAX, validate_time_window

class CategoryChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, category: Category) -> str:
        return ("— " * (category.depth - 1)) + category.name


class EventForm(forms.ModelForm):
    """What a publisher fills in. Validation only; the services decide the rest."""

    category = CategoryChoiceField(label=_("category"), queryset=Category.objects.order_by("path"))
    tags = forms.CharField(label=_("tags"), required=False, help_text=_("Separate tags with commas, e.g. 流行, jazz"))
    start_time = forms.DateTimeField(label=_("starts"), validators=[validate_time_window],
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    end_time = forms.DateTimeField(label=_("ends"), validators=[validate_time_window],
                                   widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    class Meta:
        model = Event
        fields = ["title", "category", "start_time", "end_time", "city", "venue", "address", "description", "tags",
                  "cover", "real_name_required", "one_ticket_per_id", "refund_policy",
                  "transfers_allowed", "transfer_cutoff_hours"]
        widgets = {"description": forms.Textarea(attrs={"rows": 6}), "refund_policy": forms.RadioSelect}
        # What the detail page renders (events.templatetags.event_text.rich_text).
        help_texts = {"description": _("A blank line starts a new paragraph; **bold**, *italic*, lists (lines starting "
                                       "with - or 1.) and links [text](https://…) are kept. Scripts are removed.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for i in range(1, MAX_TIERS + 1):  # the `tiered` policy's rows: until H hours before, a fee of P %
            self.fields[f"refund_hours_{i}"] = forms.IntegerField(
                label=_("Tier %(n)d: until hours before the session") % {"n": i}, required=False, min_value=0,
                max_value=MAX_HOURS, help_text=_("168 = 7 days, 24 = 1 day, 0 = until the start") if i == 1 else "")
            self.fields[f"refund_fee_{i}"] = forms.DecimalField(
                label=_("Tier %(n)d: fee (%%)") % {"n": i}, required=False, min_value=0, max_value=100,
                decimal_places=1)
        self.fields["refund_policy"].required = False  # older clients send none: free refunds, as before
        self.fields["transfer_cutoff_hours"].required = False  # empty: until the session starts
        description = self.fields["description"]
        description.max_length = DESCRIPTION_MAX
        description.validators.append(MaxLengthValidator(DESCRIPTION_MAX))
        description.widget.attrs["maxlength"] = DESCRIPTION_MAX
        if self.instance.pk and not self.is_bound:
            self.initial["tags"] = ", ".join(self.instance.tags.values_list("name", flat=True))
            for name in ("start_time", "end_time"):
                value = getattr(self.instance, name)
                if value:
                    self.initial[name] = timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")
            for i, (hours, percent) in enumerate(self.instance.refund_tiers or [], start=1):
                self.initial[f"refund_hours_{i}"], self.initial[f"refund_fee_{i}"] = hours, percent

    def clean_cover(self):
        cover = self.cleaned_data.get("cover")
        if cover and hasattr(cover, "image"):  # a new upload (not the stored file)
            validate_cover(cover)
        return cover

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start_time"), cleaned.get("end_time")
        if start and end and end <= start:
            self.add_error("end_time", _("The event must end after it starts."))
        if cleaned.get("refund_policy") == RefundPolicyKind.TIERED:
            try:
                cleaned["refund_tiers"] = clean_tiers(self._tier_rows())
            except ValidationError as error:
                self.add_error("refund_hours_1", error)
        return cleaned

    def _tier_rows(self) -> list[tuple]:
        rows = []
        for i in range(1, MAX_TIERS + 1):
            hours, fee = self.cleaned_data.get(f"refund_hours_{i}"), self.cleaned_data.get(f"refund_fee_{i}")
            if hours is not None or fee is not None:  # a row without hours is refused by clean_tiers
                rows.append((hours, 0 if fee is None else fee))
        return rows

    TRANSFER_FIELDS = ("transfers_allowed", "transfer_cutoff_hours")

    def main_fields(self) -> list:
        """The visible fields but the tier rows (the template lays those out as a table) and the transfer
        fields (after the tiers)."""
        return [f for f in self.visible_fields()
                if not f.name.startswith(("refund_hours_", "refund_fee_")) and f.name not in self.TRANSFER_FIELDS]

    def transfer_fields(self) -> list:
        return [self[name] for name in self.TRANSFER_FIELDS]

    def tier_fields(self) -> list[tuple]:
        """The tier rows' bound fields, (hours, fee), for the template."""
        return [(self[f"refund_hours_{i}"], self[f"refund_fee_{i}"]) for i in range(1, MAX_TIERS + 1)]

    def _post_clean(self):
        pass  # the model instance is changed by the services, not by the form

    def event_data(self) -> EventData:
        c = self.cleaned_data
        cover = c.get("cover")
        return EventData(
            title=c["title"], start_time=c["start_time"], end_time=c["end_time"], venue=c["venue"], city=c["city"],
            category=c["category"], description=c.get("description", ""), address=c.get("address", ""),
            tags=[t for t in c.get("tags", "").replace("，", ",").split(",")],
            real_name_required=c.get("real_name_required", False),
            one_ticket_per_id=c.get("one_ticket_per_id", False),
            refund_policy=c.get("refund_policy") or RefundPolicyKind.FREE, refund_tiers=c.get("refund_tiers", []),
            transfers_allowed=c.get("transfers_allowed", False),
            transfer_cutoff_hours=c.get("transfer_cutoff_hours") or 0,
            cover=cover if cover and hasattr(cover, "image") else None,
        )


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), choices=[("approve", _("Approve")), ("reject", _("Reject"))], widget=forms.RadioSelect)
    reason = forms.CharField(label=_("Reason"), required=False, max_length=REASON_MAX,
                             widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=_("Required when rejecting; the publisher sees it."))


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)


class SearchForm(forms.Form):
    """The list page's filters (GET). Invalid values are ignored with a message."""

    q = forms.CharField(required=False, max_length=100)
    category = forms.ModelChoiceField(queryset=Category.objects.all(), required=False)
    city = forms.CharField(required=False, max_length=64)
    date_from = forms.DateField(required=False, validators=[validate_time_window],
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, validators=[validate_time_window],
                              widget=forms.DateInput(attrs={"type": "date"}))
    price_min = forms.DecimalField(required=False, min_value=0, decimal_places=2)
    price_max = forms.DecimalField(required=False, min_value=0, decimal_places=2)
    available = forms.BooleanField(required=False)
    sort = forms.ChoiceField(required=False, choices=[
        ("", _("Best match / soonest")), ("start", _("Soonest")), ("price", _("Price: low to high")),
        ("-price", _("Price: high to low")), ("newest", _("Newest")),
    ])
