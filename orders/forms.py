"""Page input of the orders domain: shape checks only; orders.services decides the rest."""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from ticketing.bounds import POINTS_MAX
from tickets.models import HoldItem


class AttendeesForm(forms.Form):
    """A name and an ID number for every ticket of a real-name order: one pair per (hold item, n-th)."""

    def __init__(self, *args, lines: list[HoldItem], saved: dict[tuple[int, int], object], **kwargs):
        super().__init__(*args, **kwargs)
        self.tickets = []  # (title, name field, ID field, saved attendee or None) for the template
        number = 0
        for item in lines:
            for index in range(item.quantity):
                number += 1
                key = f"{item.pk}_{index}"
                attendee = saved.get((item.pk, index))
                self.fields[f"name_{key}"] = forms.CharField(
                    label=_("attendee name"), max_length=64, initial=attendee.name if attendee else "",
                    widget=forms.TextInput(attrs={"autocomplete": "name"}))
                self.fields[f"id_{key}"] = forms.CharField(
                    label=_("ID number"), min_length=6, max_length=32,
                    help_text=_("Saved: %(masked)s. Enter it again to change it.") % {
                        "masked": attendee.id_number_masked} if attendee else "",
                    widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}))
                what = item.seat.label if item.seat_id else item.ticket_type.name
                title = _("Ticket %(number)s · %(what)s") % {"number": number, "what": what}
                self.tickets.append((title, self[f"name_{key}"], self[f"id_{key}"], attendee))
        self.lines = lines

    def attendees(self) -> list[tuple[int, int, str, str]]:
        """(hold item id, index, name, ID number) as order_set_attendees takes them."""
        return [(item.pk, index, self.cleaned_data[f"name_{item.pk}_{index}"],
                 self.cleaned_data[f"id_{item.pk}_{index}"])
                for item in self.lines for index in range(item.quantity)]


class RefundRequestForm(forms.Form):
    reason = forms.CharField(label=_("Why do you want a refund?"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 3}))


class RefundReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", _("Approve")), ("reject", _("Reject"))])
    reason = forms.CharField(label=_("Reason"), max_length=2000, required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))


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
