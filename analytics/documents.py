"""What analytics keeps in MongoDB (mongoengine): the behaviour log and the users' taste vectors.

Both are written in bulk through their collections (analytics.tracking, analytics.recs), so
mongoengine here defines the shape and the indexes; `ensure_indexes()` creates them.
"""

from django.conf import settings
from mongoengine import DateTimeField, DictField, Document, FloatField, IntField, ListField, StringField


class Action:
    """The `action` of a behaviour log line. Pages, services and the click beacon use these names."""

    EVENT_VIEW = "event_view"              # an event page was opened
    SESSION_VIEW = "session_view"          # a session's buy page (seat map or GA form) was opened
    SEATMAP_OPEN = "seatmap_open"          # the seat map was opened (details.source)
    TICKET_TYPE_CHOSEN = "ticket_type_chosen"  # details.ticket_type
    REC_CLICK = "rec_click"                # details.list, details.position
    SEARCH = "search"                      # details.q, details.filters, details.results
    HOLD = "hold"                          # details.hold, details.tickets
    ORDER = "order"                        # details.order, details.tickets, details.amount
    PAY = "pay"                            # details.order, details.amount
    REFUND = "refund"                      # details.order, details.amount
    CHECKIN = "checkin"                    # details.ticket
    FAVOURITE = "favourite"                # the event was marked as wanted (想看)

    # What the browser may report through the beacon (everything else is logged by the server).
    CLIENT = (SEATMAP_OPEN, TICKET_TYPE_CHOSEN, REC_CLICK)
    ALL = (EVENT_VIEW, SESSION_VIEW, SEATMAP_OPEN, TICKET_TYPE_CHOSEN, REC_CLICK, SEARCH,
           HOLD, ORDER, PAY, REFUND, CHECKIN, FAVOURITE)
    # How much an action says about taste (recommendations): purchase > hold > click > view.
    WEIGHT = {PAY: 8.0, ORDER: 5.0, HOLD: 4.0, FAVOURITE: 3.0, TICKET_TYPE_CHOSEN: 2.0, SEATMAP_OPEN: 2.0,
              SESSION_VIEW: 2.0, REC_CLICK: 1.5, EVENT_VIEW: 1.0}


class BehaviourLog(Document):
    user_id = IntField(null=True)          # None for anonymous visitors and for users who opted out
    anon_id = StringField(max_length=40)   # the first-party cookie (analytics.middleware)
    action = StringField(required=True, choices=Action.ALL)
    event_id = IntField(null=True)
    session_id = IntField(null=True)
    timestamp = DateTimeField(required=True)
    details = DictField()

    meta = {
        "collection": "behaviour_logs",
        "db_alias": settings.MONGODB_DB_ALIAS,
        "auto_create_index": False,
        "indexes": [
            ("action", "timestamp"),
            ("user_id", "timestamp"),
            ("anon_id", "timestamp"),
            ("event_id", "action", "timestamp"),
            "timestamp",
        ],
    }


class UserEmbedding(Document):
    """The seed's `user_embeddings` record: {id, vector, metadata{last_updated, preference_tags}}."""

    user_id = IntField(primary_key=True)
    vector = ListField(FloatField())
    metadata = DictField()  # {"last_updated": datetime, "preference_tags": [...], "index_version": str}

    meta = {"collection": "user_embeddings", "db_alias": settings.MONGODB_DB_ALIAS, "auto_create_index": False}


def ensure_indexes() -> None:
    for document in (BehaviourLog, UserEmbedding):
        document.ensure_indexes()
