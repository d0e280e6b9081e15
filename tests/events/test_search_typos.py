"""One typo forgiven in words of 5+ letters, two in 9+ (events.selectors.typo_corrections), when a
search finds little; on MariaDB and SQLite."""

import pytest

from events import selectors
from events.selectors import event_search, typo_corrections
from tests.events.factories import ApprovedEventFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def catalogue():
    titles = ["Coldplay Music of the Spheres", "Tchaikovsky Violin Concerto", "Shakespeare Hamlet", "Jazz Night"]
    for title in titles:
        ApprovedEventFactory(title=title)
    return titles


def found(query: str) -> set[str]:
    return {event.title for event in event_search(query=query)}


@pytest.mark.parametrize("typed, title", [
    ("coldpaly", "Coldplay Music of the Spheres"),  # two letters swapped: one edit
    ("coldpla", "Coldplay Music of the Spheres"),  # one letter short (the prefix also finds it)
    ("spheers", "Coldplay Music of the Spheres"),
    ("tchaikovksy", "Tchaikovsky Violin Concerto"),  # 11 letters, one swap
    ("tchiakovksy", "Tchaikovsky Violin Concerto"),  # 11 letters, two swaps
    ("shakespere hamlet", "Shakespeare Hamlet"),
])
def test_a_mistyped_word_still_finds_its_event(catalogue, typed, title):
    assert found(typed) == {title}


def test_short_words_and_too_many_typos_are_not_forgiven(catalogue):
    assert found("jaz nite") == set()  # 3 and 4 letters: exact (or prefix) only
    assert found("cldply") == set()  # two edits in an 8-letter word
    assert found("tchkvsky") == set()  # three edits


def test_corrections_are_known_words_only_and_never_for_a_known_word(catalogue):
    assert typo_corrections("coldpaly violin") == {"coldpaly": ["coldplay"]}
    assert typo_corrections("Coldplay 2026") == {}


def test_without_a_shared_cache_the_vocabulary_is_built_once_per_process_not_per_search(catalogue, monkeypatch):
    class NoCache:  # Redis away: every read misses, nothing is kept
        builds = 0

        def get_or_set(self, key, default, timeout):
            NoCache.builds += 1
            return default()

    monkeypatch.setattr(selectors, "cache", NoCache())
    assert found("coldpaly") == found("spheers") == {"Coldplay Music of the Spheres"}
    assert NoCache.builds == 1
