"""The recommendation blocks of the home and event pages: never an error, never a wait.

Whatever goes wrong (no index, MongoDB away, a bug) the block falls back to the cold-start list read
from the relational database, and the page renders; the failure is logged as a warning.
"""

import logging

from analytics.recs import query

log = logging.getLogger(__name__)

HOME_K = 6
SIMILAR_K = 6


def _safe(make, fallback):
    try:
        return make()
    except Exception:  # noqa: BLE001 - a recommendation block never breaks its page
        log.warning("recommendations: block failed; showing the cold-start list", exc_info=True)
        try:
            return fallback()
        except Exception:  # noqa: BLE001
            log.warning("recommendations: cold-start list failed too", exc_info=True)
            return []


def home_recommendations(request) -> list[query.Rec]:
    """「为你推荐」: personal for signed-in users who allow it, else popular where the visitor browses."""
    anon_id = getattr(request, "anon_id", None)
    return _safe(lambda: query.recommend_for_user(user=request.user, k=HOME_K, anon_id=anon_id),
                 lambda: query.cold_start(k=HOME_K))


def event_page_context(request, event) -> dict:
    """The event page's 「看过此活动的人还看了」 block (registered with events.views at start-up)."""
    if not event.is_public:
        return {"similar_recs": []}
    return {"similar_recs": _safe(lambda: query.similar_events(event=event, k=SIMILAR_K),
                                  lambda: query.cold_start(k=SIMILAR_K, exclude={event.pk}))}
