from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Compile locale/*/LC_MESSAGES/*.po to .mo with Babel (Django's compilemessages needs GNU gettext)."

    def handle(self, *args, **options):
        for locale_dir in settings.LOCALE_PATHS:
            for po_path in sorted(Path(locale_dir).glob("*/LC_MESSAGES/*.po")):
                with open(po_path, "rb") as fh:
                    catalog = read_po(fh)
                with open(po_path.with_suffix(".mo"), "wb") as fh:
                    write_mo(fh, catalog)
                self.stdout.write(f"compiled {po_path}")
