#!/usr/bin/env python
"""Fill msgstrs of a .po file from a Python dict file: po_fill.py FILE.po TRANSLATIONS.py

Used after `manage.py makemessages` when adding strings; entries already
translated keep their text unless the dict gives a new one. Prints what is
still untranslated.
"""

import runpy
import sys

from babel.messages.pofile import read_po, write_po


def main(po_path: str, table_path: str) -> int:
    table = runpy.run_path(table_path)["ZH"]
    with open(po_path, "rb") as fh:
        catalog = read_po(fh)
    missing = []
    for message in catalog:
        if not message.id:
            continue
        key = message.id if isinstance(message.id, str) else message.id[0]
        if key in table:
            message.string = table[key]
            message.flags.discard("fuzzy")
        elif not message.string:
            missing.append(key)
    with open(po_path, "wb") as fh:
        write_po(fh, catalog, width=100)
    for key in missing:
        print("untranslated:", key)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
