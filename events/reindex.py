"""Search documents follow what they are made of, whoever changes it.

An event's search_text holds the names of its tags and of its category and every ancestor category
(events.search.index_text). Event edits refresh it at once (events.services, the Django admin); what
changes many events at a time is reindexed here, after the change commits, through the outbox (a rename
of 演唱会 rewrites thousands of documents: not in the admin's request, and never lost):

- a tag renamed (saved again): its events;
- a tag deleted: the events that had it (collected before the delete, when the links still exist);
- a category renamed or moved in the tree (treebeard moves a subtree with one path UPDATE and sends
  `path_updated`; its admin then saves the node): the events of that category and everything under it;
- a search alias added, changed or deleted: every event, ALL_CHUNK at a time, each chunk its own outbox
  message (a long delivery would outlive its claim and run twice).

Prices and sessions are not in search_text: price filters and sorts read Event.price_min/price_max,
which tickets.services keeps in step with the ticket types (event_summary_refresh).
"""

from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver
from treebeard.mp_tree import path_updated

from events.models import Category, Event, SearchAlias, Tag
from events.search import reindex_events
from ticketing.outbox import outbox_add, outbox_handler

HANDLER = "events.reindex"
ALL_CHUNK = 2000  # events a message of a whole-catalogue reindex rewrites


@receiver(post_save, sender=Tag, dispatch_uid="events-reindex-tag-saved")
def _tag_saved(sender, instance: Tag, created: bool, raw: bool = False, **kwargs) -> None:
    if not created and not raw:
        outbox_add(handler=HANDLER, payload={"tag": instance.pk})


@receiver(pre_delete, sender=Tag, dispatch_uid="events-reindex-tag-deleted")
def _tag_deleted(sender, instance: Tag, **kwargs) -> None:
    events = list(Event.tags.through.objects.filter(tag_id=instance.pk).values_list("event_id", flat=True))
    if events:
        outbox_add(handler=HANDLER, payload={"events": events})


@receiver(post_save, sender=Category, dispatch_uid="events-reindex-category-saved")
def _category_saved(sender, instance: Category, created: bool, raw: bool = False, **kwargs) -> None:
    if not created and not raw:
        outbox_add(handler=HANDLER, payload={"path": instance.path})


@receiver(path_updated, sender=Category, dispatch_uid="events-reindex-category-moved")
def _category_moved(sender, old_path: str, new_path: str, **kwargs) -> None:
    if old_path[:-Category.steplen] != new_path[:-Category.steplen]:  # a new parent (not a sibling's sorted insert)
        outbox_add(handler=HANDLER, payload={"path": new_path})


@receiver(post_save, sender=SearchAlias, dispatch_uid="events-reindex-alias-saved")
@receiver(post_delete, sender=SearchAlias, dispatch_uid="events-reindex-alias-deleted")
def _alias_changed(sender, instance: SearchAlias, raw: bool = False, **kwargs) -> None:
    if not raw:
        outbox_add(handler=HANDLER, payload={"all_from": 0})


@outbox_handler(HANDLER)
def reindex_affected(*, tag: int | None = None, path: str | None = None, events: list[int] | None = None,
                     all_from: int | None = None) -> int:
    """Rewrites the search documents of a tag's events, of a category subtree's events, of these events,
    or of ALL_CHUNK events from id all_from on (then queues the next chunk)."""
    if all_from is not None:
        ids = list(Event.objects.filter(pk__gte=all_from).order_by("pk").values_list("pk", flat=True)[:ALL_CHUNK + 1])
        if len(ids) > ALL_CHUNK:
            outbox_add(handler=HANDLER, payload={"all_from": ids[ALL_CHUNK]})
        return reindex_events(Event.objects.filter(pk__in=ids[:ALL_CHUNK]))
    if tag is not None:
        affected = Event.objects.filter(tags__pk=tag)
    elif path is not None:
        affected = Event.objects.filter(category__in=Category.objects.filter(path__startswith=path))
    else:
        affected = Event.objects.filter(pk__in=events or [])
    return reindex_events(affected.distinct())
