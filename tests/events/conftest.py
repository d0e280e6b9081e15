import pytest

from events import selectors


@pytest.fixture(autouse=True)
def _fresh_category_counts(monkeypatch):
    """The selector keeps per-category event counts for minutes (they steer how a text search runs);
    each test has its own events."""
    monkeypatch.setattr(selectors, "_category_counts", (float("-inf"), {}))
