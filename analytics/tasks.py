"""Celery tasks of analytics: thin wrappers around its services."""

import logging

from celery import shared_task

from ticketing.outbox import outbox_handler

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def recs_rebuild() -> str:
    """Beat (CELERY_BEAT_SCHEDULE "recs-rebuild"): a new recommendation index version and user embeddings;
    web processes switch to it by themselves (analytics.recs.index)."""
    from analytics.recs.build import recs_rebuild as rebuild

    result = rebuild()
    log.info("recommendations: %s", result)
    return result.version


@shared_task(ignore_result=True)
def sales_rollup() -> int:
    """Beat (CELERY_BEAT_SCHEDULE "sales-rollup"): the sales roll-up of yesterday and today, and of past days
    never rolled up (analytics.services.sales_rollup_beat); the rows written."""
    from analytics.services import sales_rollup_beat

    return sales_rollup_beat()


@outbox_handler("analytics.recs_rebuild")
def recs_rebuild_soon() -> None:
    """An index now rather than at beat's next turn (seed_demo after making the demo history: a new
    machine's first pages get personal recommendations within a minute, not fifteen)."""
    recs_rebuild()
