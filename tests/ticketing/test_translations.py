"""The Chinese catalogue is complete: no empty or fuzzy entry (gettext skips fuzzy ones: the page shows English),
and Chinese text ends with Chinese punctuation (。，：？！（）), also where it overrides Django's and allauth's."""

import re
from pathlib import Path

import allauth
import django
from babel.messages.pofile import read_po
from django.utils import translation

from scripts.po_fill import PLACEHOLDER
from tests.conftest import ROOT

CATALOGUE = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def entries(catalogue: Path = CATALOGUE):
    with open(catalogue, "rb") as po:
        return [m for m in read_po(po) if m.id]


# Latin punctuation right after Chinese text (or a bracket opening before it): "请登录." instead of "请登录。".
# Placeholders are dropped first, so "请%(link)s登录%(end_link)s." counts as what the page shows.
_CJK = r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]"
LATIN_AFTER_CHINESE = re.compile(rf"{_CJK}[.,:;?!)]|\({_CJK}")


def latin_punctuation(text: str) -> bool:
    return bool(LATIN_AFTER_CHINESE.search(PLACEHOLDER.sub("", text)))


def test_every_entry_is_translated_and_none_is_fuzzy():
    missing = [m.id for m in entries() if m.fuzzy or not all(m.string if isinstance(m.string, tuple) else [m.string])]

    assert missing == []


def test_translations_keep_every_placeholder():
    def marks(text) -> list[str]:
        return sorted(PLACEHOLDER.findall(text))

    wrong = [m.id for m in entries() if not isinstance(m.id, tuple) and marks(m.id) != marks(m.string)]

    assert wrong == []


def test_chinese_translations_use_full_width_punctuation():
    wrong = [m.string for m in entries()
             if any(latin_punctuation(s) for s in (m.string if isinstance(m.string, tuple) else [m.string]))]

    assert wrong == []


# Strings of Django's and allauth's that no page of ours shows: admin-only field
# descriptions and OAuth-provider settings, and yesno's comma-separated argument.
NOT_ON_OUR_PAGES = {"yes,no,maybe", "Big (8 byte) integer", "Slug (up to %(max_length)s)",
                    "Foreign Key (type determined by related field)"}


def test_django_and_allauth_chinese_that_pages_show_is_fixed_by_our_catalogue():
    libraries = [Path(django.__file__).parent / "conf", Path(allauth.__file__).parent]
    theirs = [m for library in libraries for m in entries(library / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")
              if m.id not in NOT_ON_OUR_PAGES and "(ENTER)" not in str(m.id)
              and latin_punctuation(m.string[0] if isinstance(m.string, tuple) else m.string)]
    with translation.override("zh-hans"):
        shown = [translation.ngettext(m.id[0], m.id[1], 1) if isinstance(m.id, tuple) else translation.gettext(m.id)
                 for m in theirs]

    assert theirs and [s for s in shown if latin_punctuation(s)] == []
