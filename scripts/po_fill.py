#!/usr/bin/env python
"""Fill msgstrs of a .po file from a Python dict file: po_fill.py FILE.po TRANSLATIONS.py

Used after `manage.py makemessages` when adding strings; entries already
translated keep their text unless the dict gives a new one. Prints what is
still untranslated or fuzzy, and filled entries whose placeholders differ.

The dict file defines ZH = {key: translation}:
  - key: the msgid (for a plural entry, its singular msgid); for an entry with
    a msgctxt, "context\\x04msgid" (gettext's own key), which only that entry takes;
  - translation: a string, or for a plural entry a tuple with one string per
    plural form (zh has one: ("…",)); a plain string fills every form.
A filled entry loses its fuzzy flag; an entry that is not fuzzy loses msgmerge's
"#| msgid" note of the old msgid it was guessed from (Babel keeps it as a "# |" comment).
"""

import re
import runpy
import sys

from babel.messages.pofile import read_po, write_po

CONTEXT_SEPARATOR = "\x04"
# %(name)s, %s, %d …, {name}, HTML tags: what a translation must keep ("%%" is checked too).
PLACEHOLDER = re.compile(r"%\([^)]+\)[#0 +-]*\d*(?:\.\d+)?[sdifgeEGxXr]|%[sdif]|%%|\{[^{}\s]*\}|</?[a-zA-Z][^>]*>")


def _key(message) -> str:
    msgid = message.id if isinstance(message.id, str) else message.id[0]
    return f"{message.context}{CONTEXT_SEPARATOR}{msgid}" if message.context else msgid


def _forms(message, value, num_plurals: int):
    if not message.pluralizable:
        if not isinstance(value, str):
            raise ValueError(f"{_key(message)!r} is not a plural entry: give a string")
        return value
    if isinstance(value, str):
        return (value,) * num_plurals
    if len(value) != num_plurals:
        raise ValueError(f"{_key(message)!r} needs {num_plurals} plural form(s), got {len(value)}")
    return tuple(value)


def _untranslated(message) -> bool:
    strings = [message.string] if isinstance(message.string, str) else list(message.string or [""])
    return not all(strings)


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def _placeholder_problems(message) -> list[str]:
    ids = [message.id] if isinstance(message.id, str) else list(message.id)
    strings = [message.string] if isinstance(message.string, str) else list(message.string)
    wanted = _placeholders(ids[-1])  # the plural msgid carries the count placeholder too
    return [s for s in strings if _placeholders(s) != wanted and _placeholders(s) != _placeholders(ids[0])]


def _drop_previous_msgid(message) -> None:
    """Babel keeps msgmerge's "#| msgid …" (the fuzzy match's old msgid) as a "# | …" comment."""
    message.user_comments = [c for c in message.user_comments
                             if not re.match(r"\|\s*(msgctxt|msgid|msgid_plural)\b|\|\s*\"", c)]


def main(po_path: str, table_path: str) -> int:
    table = runpy.run_path(table_path)["ZH"]
    with open(po_path, "rb") as fh:
        catalog = read_po(fh)
    missing, fuzzy, suspicious, used = [], [], [], set()
    for message in catalog:
        if not message.id:
            continue
        key = _key(message)
        if key in table:
            used.add(key)
            message.string = _forms(message, table[key], catalog.num_plurals)
            message.flags.discard("fuzzy")
            if _placeholder_problems(message):
                suspicious.append(key)
        elif _untranslated(message):
            missing.append(key)
        elif message.fuzzy:
            fuzzy.append(key)
        if not message.fuzzy:
            _drop_previous_msgid(message)
    with open(po_path, "wb") as fh:
        write_po(fh, catalog, width=100)
    for key in missing:
        print("untranslated:", key.replace(CONTEXT_SEPARATOR, " | "))
    for key in fuzzy:
        print("fuzzy:", key.replace(CONTEXT_SEPARATOR, " | "))
    for key in suspicious:
        print("placeholders differ:", key.replace(CONTEXT_SEPARATOR, " | "))
    for key in sorted(set(table) - used):
        print("not in the catalogue:", key.replace(CONTEXT_SEPARATOR, " | "))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
