"""Cities' English and older names that are not their pinyin (which search knows by itself), as search
aliases; then every event's search_text again, with its aliases (events.search)."""

from django.db import migrations

from events.search import reindex_events_operation

CITY_ALIASES = [
    ["北京", "Peking"], ["广州", "Canton"], ["南京", "Nanking"], ["厦门", "Amoy"], ["重庆", "Chungking"],
    ["青岛", "Tsingtao"], ["天津", "Tientsin"], ["苏州", "Soochow"], ["香港", "Hong Kong", "HK"],
    ["澳门", "Macau", "Macao"], ["台北", "Taipei"], ["乌鲁木齐", "Urumqi"], ["呼和浩特", "Hohhot"],
]


def add_city_aliases(apps, schema_editor):
    SearchAlias = apps.get_model("events", "SearchAlias")
    db = schema_editor.connection.alias
    SearchAlias.objects.using(db).bulk_create(
        [SearchAlias(names="\n".join(names), note="city") for names in CITY_ALIASES])


def remove_city_aliases(apps, schema_editor):
    apps.get_model("events", "SearchAlias").objects.using(schema_editor.connection.alias).filter(note="city").delete()


class Migration(migrations.Migration):

    dependencies = [
        ("events", "0007_search_alias"),
    ]

    operations = [
        migrations.RunPython(add_city_aliases, remove_city_aliases),
        migrations.RunPython(reindex_events_operation, migrations.RunPython.noop),
    ]
