"""What this app announces to the apps above it, which it may not import (STYLE.md)."""

from django.dispatch import Signal

# Sent inside the transaction that cancelled sessions (tickets.services.session_cancel, or the event's
# cancellation), with event_id, session_ids (list) and reason (str).
sessions_cancelled = Signal()
