"""Search aliases: an artist's other names and a city's English or older name find the same events, on
MariaDB and SQLite; adding, changing or deleting an alias reindexes the catalogue (events.reindex)."""

import pytest
from django.core.exceptions import ValidationError

from events import search
from events.models import Event, SearchAlias
from events.selectors import event_search
from tests.events.factories import ApprovedEventFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def found(query: str) -> set[str]:
    return {event.title for event in event_search(query=query)}


def test_an_artists_other_names_find_their_events_once_the_alias_is_saved():
    ApprovedEventFactory(title="周杰伦 嘉年华 上海站")
    ApprovedEventFactory(title="Jay Chou Carnival World Tour")
    ApprovedEventFactory(title="陈奕迅 Fear and Dreams")
    assert found("Jay Chou") == {"Jay Chou Carnival World Tour"} and found("周董") == set()

    SearchAlias.objects.create(names="周杰伦\nJay Chou\n周董")

    both = {"周杰伦 嘉年华 上海站", "Jay Chou Carnival World Tour"}
    assert found("Jay Chou") == both and found("周杰伦") == both and found("周董") == both
    assert found("jay chou 上海") == {"周杰伦 嘉年华 上海站"}  # the alias joins the other words


def test_a_citys_older_name_finds_its_events_and_a_deleted_alias_finds_nothing_again():
    ApprovedEventFactory(title="新年音乐会", city="北京")
    ApprovedEventFactory(title="新年音乐会 上海", city="上海")
    alias = SearchAlias.objects.get_or_create(names="北京\nPeking")[0]  # also made by migration 0008
    search.reindex_events()
    assert found("peking") == {"新年音乐会"}
    alias.delete()
    assert found("peking") == set() and found("beijing") == {"新年音乐会"}  # its pinyin stays


def test_a_name_only_partly_in_an_event_does_not_pull_in_the_alias():
    ApprovedEventFactory(title="周末 杰出青年 伦敦交响")  # 周, 杰 and 伦, but not 周杰伦
    SearchAlias.objects.create(names="周杰伦\nJay Chou")
    assert found("Jay Chou") == set()


def test_an_alias_needs_two_to_twelve_short_names():
    for names in ["周杰伦", "周杰伦\n  \n周杰伦", "\n".join(f"name {n}" for n in range(13)), "周杰伦\n" + "x" * 65]:
        with pytest.raises(ValidationError):
            SearchAlias(names=names).full_clean()
    alias = SearchAlias(names="  周杰伦 \n\nJay   Chou\n周杰伦")
    alias.full_clean()
    assert alias.names == "周杰伦\nJay Chou" and str(alias) == "周杰伦 / Jay Chou"


def test_admins_manage_aliases_in_the_admin_and_a_save_reindexes(client):
    ApprovedEventFactory(title="郎朗 钢琴独奏音乐会")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.post("/admin/events/searchalias/add/", {"names": "郎朗\nLang Lang", "note": "pianist"})
    assert response.status_code == 302, response.content[:500]
    assert found("lang lang") == {"郎朗 钢琴独奏音乐会"}
    bad = client.post("/admin/events/searchalias/add/", {"names": "郎朗", "note": ""})
    assert bad.status_code == 200 and SearchAlias.objects.filter(note="pianist").count() == 1


def test_a_whole_catalogue_reindex_runs_in_chunks(monkeypatch):
    from events import reindex

    monkeypatch.setattr(reindex, "ALL_CHUNK", 2)
    events = [ApprovedEventFactory(title=f"王菲 演唱会 {n}") for n in range(5)]
    Event.objects.update(search_text="")
    SearchAlias.objects.create(names="王菲\nFaye Wong")  # 3 messages of at most 2 events, one after another
    assert found("faye wong") == {event.title for event in events}
