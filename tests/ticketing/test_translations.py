"""The Chinese catalogue is complete: no empty or fuzzy entry (gettext skips fuzzy ones: the page shows English)."""

from babel.messages.pofile import read_po

from scripts.po_fill import PLACEHOLDER
from tests.conftest import ROOT

CATALOGUE = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def entries():
    with open(CATALOGUE, "rb") as po:
        return [m for m in read_po(po) if m.id]


def test_every_entry_is_translated_and_none_is_fuzzy():
    missing = [m.id for m in entries() if m.fuzzy or not all(m.string if isinstance(m.string, tuple) else [m.string])]

    assert missing == []


def test_translations_keep_every_placeholder():
    def marks(text) -> list[str]:
        return sorted(PLACEHOLDER.findall(text))

    wrong = [m.id for m in entries() if not isinstance(m.id, tuple) and marks(m.id) != marks(m.string)]

    assert wrong == []
