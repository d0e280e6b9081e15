"""Page input of webhooks: shape checks only; webhooks.services decides the rest."""

from django import forms
from django.utils.translation import gettext_lazy as _

from events.models import EventStatus
from webhooks.models import WebhookKind
from webhooks.services import SUBSCRIBABLE


class EndpointForm(forms.Form):
    url = forms.URLField(label=_("Endpoint URL"), max_length=500, assume_scheme="https",
                         help_text=_("HTTPS. We POST signed JSON to it and expect a 2xx answer within a few seconds."),
                         widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/tickets",
                                                      "autocomplete": "off"}))
    event = forms.ModelChoiceField(label=_("Events"), queryset=None, required=False,
                                   empty_label=_("All my events"))
    kinds = forms.MultipleChoiceField(label=_("Send"), widget=forms.CheckboxSelectMultiple,
                                      choices=[(k, WebhookKind(k).label) for k in SUBSCRIBABLE])
    description = forms.CharField(label=_("Note for yourself"), max_length=200, required=False)
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args, publisher, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["event"].queryset = (publisher.events.exclude(status=EventStatus.CANCELLED)
                                         .order_by("-start_time"))
