"""The behaviour log as the lower apps see it: `track()` / `track_on_commit()` through a hook.

events, tickets and orders report what a visitor did here, and analytics (which stands
above them all) registers its recorder at start-up (analytics.apps), so that no lower app
imports analytics. The recorder is `analytics.tracking`: it returns at once and never
raises, whatever MongoDB is doing. Action names are analytics.documents.Action's.

Who did it: `request` or `user` (only `user.pk` is read: no query on the hot path). The
visitor cookie of the current request is added unless `anon_id=""` says the line is about
someone else (a check-in is the buyer's, though the door staff's request records it).
"""

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

_recorder: dict[str, Callable] = {}


def behaviour_recorder_register(*, track: Callable, track_on_commit: Callable) -> None:
    _recorder.update(track=track, track_on_commit=track_on_commit)


def track(action: str, **fields) -> None:
    """Record one line now (a page view, a search: nothing to roll back)."""
    _call("track", action, fields)


def track_on_commit(action: str, **fields) -> None:
    """Record one line once the surrounding transaction commits (at once outside one)."""
    _call("track_on_commit", action, fields)


def _call(name: str, action: str, fields: dict) -> None:
    recorder = _recorder.get(name)
    if recorder is None:
        return  # no analytics app in this process: nothing records behaviour
    try:
        recorder(action, **fields)
    except Exception:  # noqa: BLE001 - the behaviour log never breaks what it records
        log.warning("behaviour log: could not record %s", action, exc_info=True)
