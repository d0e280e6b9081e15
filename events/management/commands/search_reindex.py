"""manage.py search_reindex: rewrite every event's search document (after a change to the encoding, or
to repair an index), with a progress bar."""

from django.core.management.base import BaseCommand
from django.db import connection
from tqdm import tqdm

from events.models import Event
from events.search import FTS_TABLE, reindex_events

CHUNK = 500


class Command(BaseCommand):
    help = "Rewrites the search document of every event (or of events from --from-id on), showing progress."

    def add_arguments(self, parser):
        parser.add_argument("--from-id", type=int, default=0, help="start at this event id (resume a run)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs, cron)")

    def handle(self, *args, from_id: int, no_progress: bool, **options):
        ids = list(Event.objects.filter(pk__gte=from_id).order_by("pk").values_list("pk", flat=True))
        done = 0
        # tqdm redraws its line with "\r"; Django's OutputWrapper would end every write with a newline,
        # so the bar goes to the stream it wraps.
        with tqdm(total=len(ids), unit="event", disable=no_progress, file=self.stderr._out,
                  desc="search documents") as bar:
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start:start + CHUNK]
                done += reindex_events(Event.objects.filter(pk__in=chunk))
                bar.update(len(chunk))
                bar.set_postfix(last_id=chunk[-1])
        if connection.vendor == "sqlite":  # the FTS5 table from the documents, in case it drifted
            with connection.cursor() as cursor:
                cursor.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
        self.stdout.write(self.style.SUCCESS(f"{done} events reindexed"))
