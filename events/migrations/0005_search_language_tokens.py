"""Every event's search_text again, in the encoding that adds traditional → simplified
folding, pinyin (full and initials) and English stems (events.search). No schema
change: on SQLite the FTS5 triggers stay installed and carry the new words into
the index; InnoDB's FULLTEXT index follows on commit."""

from django.db import migrations

from events.search import reindex_events_operation


class Migration(migrations.Migration):

    dependencies = [
        ("events", "0004_bounds"),
    ]

    operations = [
        # Reversed, the new words stay: they hold all the older ones (traditional characters now simplified).
        migrations.RunPython(reindex_events_operation, migrations.RunPython.noop),
    ]
