"""The full-text index behind event search (events.search, events.selectors).

MariaDB/MySQL: a FULLTEXT index on events_event.search_text (default parser and
settings: the encoded words are built for them).
SQLite: an external-content FTS5 table over the same column, kept in step by
triggers. Caution: when a later migration makes Django rebuild events_event on
SQLite (AlterField, a CHECK constraint …), the table is dropped and recreated and
its triggers go with it; such a migration must end with
RunPython(events.search.install_sqlite_fts_triggers_operation) (tests/events/
test_search.py fails while the triggers are missing).
"""

from django.db import migrations

from events.search import FTS_TABLE as FTS
from events.search import SQLITE_FTS_TRIGGERS, index_text_from, install_sqlite_fts_triggers


def create_index(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "mysql":
        schema_editor.execute("ALTER TABLE events_event ADD FULLTEXT INDEX event_search_ft (search_text)")
    elif vendor == "sqlite":
        schema_editor.execute(
            f"CREATE VIRTUAL TABLE {FTS} USING fts5(search_text, content='events_event', content_rowid='id', "
            "tokenize='unicode61')"
        )
        install_sqlite_fts_triggers(schema_editor)
        schema_editor.execute(f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')")
    else:
        raise NotImplementedError(f"event search has no full-text index for {vendor}")


def drop_index(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "mysql":
        schema_editor.execute("ALTER TABLE events_event DROP INDEX event_search_ft")
    elif vendor == "sqlite":
        for name in SQLITE_FTS_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
        schema_editor.execute(f"DROP TABLE IF EXISTS {FTS}")


def fill_search_text(apps, schema_editor):
    """Events saved before this migration get their search words (the triggers index them)."""
    Event = apps.get_model("events", "Event")
    Category = apps.get_model("events", "Category")
    steplen = 4  # treebeard MP_Node: a node's ancestors are the prefixes of its path
    by_path = {c.path: c for c in Category.objects.all()}
    for event in Event.objects.filter(search_text="").select_related("category").prefetch_related("tags"):
        path = event.category.path
        chain = [by_path[path[:i]] for i in range(steplen, len(path) + 1, steplen) if path[:i] in by_path]
        text = index_text_from(
            title=event.title, description=event.description, venue=event.venue, city=event.city,
            address=event.address, category_names=[n for c in chain for n in (c.name_zh, c.name_en)],
            tags=[t.name for t in event.tags.all()], category_ids=[c.pk for c in chain],
            start_time=event.start_time,
        )
        Event.objects.filter(pk=event.pk).update(search_text=text)


class Migration(migrations.Migration):

    dependencies = [
        ("events", "0001_initial"),
    ]

    operations = [
        # Not atomic: MySQL cannot roll DDL back, and Django refuses DDL inside a transaction there.
        migrations.RunPython(create_index, drop_index, atomic=False),
        migrations.RunPython(fill_search_text, migrations.RunPython.noop),
    ]
