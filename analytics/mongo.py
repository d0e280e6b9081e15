"""The MongoDB connection that behaviour logs go through (mongoengine)."""

import mongoengine
from django.conf import settings


def connect() -> None:
    """Register the connection lazily: nothing is dialled until first use, so
    forked workers (gunicorn, Celery prefork) each open their own."""
    mongoengine.connect(
        host=settings.MONGODB_URI,
        alias=settings.MONGODB_DB_ALIAS,
        connect=False,
        serverSelectionTimeoutMS=2000,
        tz_aware=True,
        uuidRepresentation="standard",
    )
