"""Page input of the orders domain: shape checks only; orders.services decides the rest."""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from ticketing.bounds import POINTS_MAX
from orders.models import PromoKind
from orders.transfers import Attendee
from tickets.models import HoldItem, TicketType


class AttendeesForm(forms.Form):
    """An attendee for every ticket of a real-name order, one per (hold item, n-th): a saved attendee picked
    from the buyer's list, or a name and an ID number typed (checked by orders.services)."""

    save_people = forms.BooleanField(label=_("Save the people I type for my next orders"), required=False,
                                     initial=True)

    def __init__(self, *args, lines: list[HoldItem], saved: dict[tuple[int, int], object], people=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.tickets = []  # (title, person field or None, name field, ID field, saved attendee or None)
        choices = [("", _("Someone else: type below"))] + [(str(p.pk), f"{p.name} · {p.id_number_masked}")
                                                          for p in people]
        number = 0
        for item in lines:
            for index in range(item.quantity):
                number += 1
                key = f"{item.pk}_{index}"
                attendee = saved.get((item.pk, index))
                if len(choices) > 1:
                    self.fields[f"person_{key}"] = forms.ChoiceField(label=_("saved attendee"), choices=choices,
                                                                     required=False)
                self.fields[f"name_{key}"] = forms.CharField(
                    label=_("attendee name"), max_length=64, required=False, initial=attendee.name if attendee else "",
                    widget=forms.TextInput(attrs={"autocomplete": "name"}))
                self.fields[f"id_{key}"] = forms.CharField(
                    label=_("ID number"), max_length=32, required=False,
                    help_text=_("Saved: %(masked)s. Enter it again to change it.") % {
                        "masked": attendee.id_number_masked} if attendee else
                    _("Mainland ID card (18 characters) or passport number."),
                    widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}))
                what = item.seat.label if item.seat_id else item.ticket_type.name
                title = _("Ticket %(number)s · %(what)s") % {"number": number, "what": what}
                person = self[f"person_{key}"] if f"person_{key}" in self.fields else None
                self.tickets.append((title, person, self[f"name_{key}"], self[f"id_{key}"], attendee))
        self.lines = lines

    def clean(self):
        data = super().clean()
        for item in self.lines:
            for index in range(item.quantity):
                key = f"{item.pk}_{index}"
                if data.get(f"person_{key}"):
                    continue
                if not (data.get(f"name_{key}") or "").strip():
                    self.add_error(f"name_{key}", _("Give the attendee's name, or pick a saved attendee."))
                if not (data.get(f"id_{key}") or "").strip():
                    self.add_error(f"id_{key}", _("Give the attendee's ID number."))
        return data

    def attendees(self) -> list[tuple]:
        """(hold item id, index, name, ID number, saved attendee id or None) as order_set_attendees takes them."""
        c = self.cleaned_data
        return [(item.pk, index, c[f"name_{item.pk}_{index}"], c[f"id_{item.pk}_{index}"],
                 int(c[f"person_{item.pk}_{index}"]) if c.get(f"person_{item.pk}_{index}") else None)
                for item in self.lines for index in range(item.quantity)]


class SavedAttendeeForm(forms.Form):
    name = forms.CharField(label=_("attendee name"), max_length=64,
                           widget=forms.TextInput(attrs={"autocomplete": "name"}))
    id_number = forms.CharField(label=_("ID number"), max_length=32,
                                help_text=_("Mainland ID card (18 characters) or passport number."),
                                widget=forms.TextInput(attrs={"autocomplete": "off"}))


class RefundRequestForm(forms.Form):
    reason = forms.CharField(label=_("Why do you want a refund?"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 3}))
    # The fee the page showed: refused if it has changed by the time the request arrives.
    expected_fee = forms.DecimalField(required=False, min_value=0, max_digits=12, decimal_places=2,
                                      widget=forms.HiddenInput)


class RefundReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", _("Approve")), ("reject", _("Reject"))])
    reason = forms.CharField(label=_("Reason"), max_length=2000, required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))
    waive_fee = forms.BooleanField(label=_("Waive the fee (give the reason)"), required=False)


class WalletAdjustForm(forms.Form):
    # One adjustment at most POINTS_MAX either way, as over the API: a mistyped 10^11 would overflow a balance.
    amount = forms.DecimalField(label=_("amount"), max_digits=12, decimal_places=2, min_value=-POINTS_MAX,
                                max_value=POINTS_MAX, help_text=_("Positive to add points, negative to take them away."))
    reason = forms.CharField(label=_("reason"), max_length=255)

    def clean_amount(self) -> Decimal:
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError(_("The amount cannot be zero."))
        return amount


class ScanForm(forms.Form):
    code = forms.CharField(label=_("Ticket code"), max_length=255,
                           widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "off",
                                                         "spellcheck": "false", "autofocus": True}))
    nonce = forms.CharField(max_length=64, widget=forms.HiddenInput)
    # Sent by the "admit anyway" button an admin sees on a refusal for the session's day.
    override = forms.BooleanField(required=False, widget=forms.HiddenInput)


class CheckinEventsForm(forms.Form):
    """The door's event list: a search and today's events or all of them."""

    TODAY, ALL = "today", "all"
    q = forms.CharField(label=_("Search"), max_length=100, required=False)
    when = forms.ChoiceField(choices=[(TODAY, _("Today")), (ALL, _("All"))], required=False)

    def filters(self) -> dict:
        data = self.cleaned_data if self.is_valid() else {}
        return {"query": data.get("q", ""), "today_only": data.get("when") != self.ALL}


class StaffAddForm(forms.Form):
    login = forms.CharField(label=_("Username or email"), max_length=254)


class PromoApplyForm(forms.Form):
    code = forms.CharField(label=_("Promo code"), max_length=40)


class PromoForm(forms.Form):
    """A publisher's new codes: one named code, or `count` single-use codes made up (orders.promo)."""

    code = forms.CharField(label=_("Promo code"), max_length=32, required=False,
                           help_text=_("Letters and digits, e.g. SPRING20. Leave empty to make single-use codes."))
    count = forms.IntegerField(label=_("How many single-use codes"), min_value=1, max_value=5000, initial=1,
                               help_text=_("Used when no code is given: each works once, for one buyer."))
    prefix = forms.CharField(label=_("Prefix of the made-up codes"), max_length=12, required=False)
    kind = forms.ChoiceField(label=_("What the code does"), choices=PromoKind.choices, widget=forms.RadioSelect,
                             initial=PromoKind.PERCENT)
    value = forms.DecimalField(label=_("Percentage or amount"), min_value=Decimal("0.01"), max_digits=10,
                               decimal_places=2, required=False, help_text=_("Not for an access code."))
    ticket_types = forms.ModelMultipleChoiceField(label=_("Ticket types"), queryset=TicketType.objects.none(),
                                                  required=False, widget=forms.CheckboxSelectMultiple,
                                                  help_text=_("None ticked: every ticket type."))
    valid_from = forms.DateTimeField(label=_("Valid from"), required=False,
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    valid_until = forms.DateTimeField(label=_("Valid until"), required=False,
                                      widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    max_uses = forms.IntegerField(label=_("Uses at most (all buyers)"), min_value=1, required=False)
    max_per_buyer = forms.IntegerField(label=_("Uses at most per buyer"), min_value=1, required=False)

    def __init__(self, *args, event, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ticket_types"].queryset = event.ticket_types.order_by("pk")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") != PromoKind.ACCESS and cleaned.get("value") is None and "value" not in self.errors:
            self.add_error("value", _("Give the percentage or the amount off."))
        return cleaned

    def terms(self):
        from orders.promo import PromoData

        c = self.cleaned_data
        return PromoData(kind=c["kind"], value=c.get("value") or Decimal("0"), ticket_type_ids=[t.pk for t in c["ticket_types"]],
                         valid_from=c.get("valid_from"), valid_until=c.get("valid_until"), max_uses=c.get("max_uses"),
                         max_per_buyer=c.get("max_per_buyer"))


class TransferOfferForm(forms.Form):
    to = forms.CharField(label=_("Give it to (email or mobile number)"), max_length=254,
                         widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "email"}),
                         help_text=_("The account must exist; it is told and has to accept."))


class TransferAcceptForm(forms.Form):
    """On real-name events: who the receiver names on the ticket, a saved attendee or typed."""

    person = forms.ChoiceField(label=_("saved attendee"), required=False)
    name = forms.CharField(label=_("attendee name"), max_length=64, required=False,
                           widget=forms.TextInput(attrs={"autocomplete": "name"}))
    id_number = forms.CharField(label=_("ID number"), max_length=32, required=False,
                                help_text=_("Mainland ID card (18 characters) or passport number."),
                                widget=forms.TextInput(attrs={"autocomplete": "off"}))

    def __init__(self, *args, people=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].choices = [("", _("Someone else: type below"))] + [
            (str(p.pk), f"{p.name} · {p.id_number_masked}") for p in people]
        if not people:
            del self.fields["person"]

    def attendee(self) -> Attendee:
        c = self.cleaned_data
        return Attendee(name=c.get("name", ""), id_number=c.get("id_number", ""),
                        saved_id=int(c["person"]) if c.get("person") else None)


class WaitlistJoinForm(forms.Form):
    ticket_type = forms.IntegerField(widget=forms.HiddenInput)
    quantity = forms.IntegerField(label=_("How many tickets"), min_value=1, max_value=50)
    prepaid = forms.BooleanField(label=_("Pay now (候补 pre-paid): the tickets are yours the moment they come back"),
                                 required=False)
