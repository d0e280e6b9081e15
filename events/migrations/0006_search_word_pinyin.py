"""Every event's search_text again: the words jieba cuts a Chinese run into now get
their own pinyin and initials (events.search). No schema change; see 0005."""

from django.db import migrations

from events.search import reindex_events_operation


class Migration(migrations.Migration):

    dependencies = [
        ("events", "0005_search_language_tokens"),
    ]

    operations = [
        migrations.RunPython(reindex_events_operation, migrations.RunPython.noop),
    ]
