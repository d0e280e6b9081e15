"""What this app announces to the apps above it, which it may not import (STYLE.md)."""

from django.dispatch import Signal

# Sent inside events.services.event_cancel's transaction, with event_id and reason (str).
event_cancelled = Signal()
