"""Search documents follow their parts: tags and categories renamed, moved or deleted are reindexed
(events.reindex, through the outbox after commit), and manage.py search_reindex rewrites everything.

Real commits (InnoDB's full-text index sees committed rows only); runs on MariaDB and SQLite (.ci/run).
"""

from io import StringIO

import pytest
from django.core.management import call_command

from events.models import Category, Event, Tag
from events.selectors import event_search
from tests.events.factories import ApprovedEventFactory, CategoryFactory

pytestmark = pytest.mark.django_db(transaction=True)


def found(query: str) -> set[str]:
    return {event.title for event in event_search(query=query)}


def test_a_renamed_tag_is_found_by_its_new_name_only():
    ApprovedEventFactory(title="夜场演出", tags=["爵士乐"])
    ApprovedEventFactory(title="别的演出", tags=["民谣"])
    tag = Tag.objects.get(name="爵士乐")
    tag.name = "蓝调"
    tag.save()
    assert found("蓝调") == {"夜场演出"} and found("爵士乐") == set()


def test_a_deleted_tag_no_longer_finds_its_events():
    ApprovedEventFactory(title="夜场演出", tags=["爵士乐"])
    assert found("爵士乐") == {"夜场演出"}
    Tag.objects.get(name="爵士乐").delete()
    assert found("爵士乐") == set() and found("夜场演出") == {"夜场演出"}


def test_renaming_a_category_reindexes_the_events_of_its_whole_subtree():
    shows = CategoryFactory(name_zh="演出", name_en="Shows")
    concerts = CategoryFactory(parent=shows, name_zh="演唱会", name_en="Concerts")
    ApprovedEventFactory(title="周末专场", category=concerts)
    ApprovedEventFactory(title="别处的活动", category=CategoryFactory(name_zh="展览", name_en="Exhibitions"))
    shows = Category.objects.get(pk=shows.pk)
    shows.name_zh, shows.name_en = "现场", "Live"
    shows.save()
    assert found("现场") == {"周末专场"} and found("live") == {"周末专场"}
    assert found("演出") == set() and found("shows") == set()


def test_moving_a_category_under_another_parent_reindexes_its_events():
    shows, sports = CategoryFactory(name_zh="演出", name_en="Shows"), CategoryFactory(name_zh="体育", name_en="Sports")
    marathon = CategoryFactory(parent=shows, name_zh="马拉松", name_en="Marathon")
    ApprovedEventFactory(title="城市长跑", category=marathon)
    assert found("演出") == {"城市长跑"}
    Category.objects.move(Category.objects.get(pk=marathon.pk), Category.objects.get(pk=sports.pk), pos="sorted-child")
    assert found("体育") == {"城市长跑"} and found("演出") == set()


def test_search_reindex_rewrites_every_document_and_shows_its_progress():
    events = [ApprovedEventFactory(title=f"音乐节 {n}", tags=["户外"]) for n in range(3)]
    Event.objects.update(search_text="")  # what a change of encoding leaves behind
    assert found("音乐节") == set()
    out, err = StringIO(), StringIO()
    call_command("search_reindex", stdout=out, stderr=err)
    assert found("音乐节") == {event.title for event in events} and found("户外") == {e.title for e in events}
    assert "3 events reindexed" in out.getvalue()
    assert "search documents" in err.getvalue() and "3/3" in err.getvalue()  # the progress bar


def test_search_reindex_resumes_from_an_id():
    first, second = ApprovedEventFactory(title="第一场"), ApprovedEventFactory(title="第二场")
    Event.objects.update(search_text="")
    out = StringIO()
    call_command("search_reindex", "--from-id", str(second.pk), "--no-progress", stdout=out, stderr=StringIO())
    assert found("第二场") == {"第二场"} and found("第一场") == set() and first.pk < second.pk
    assert "1 events reindexed" in out.getvalue()
