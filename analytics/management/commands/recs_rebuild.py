from django.core.management.base import BaseCommand

from analytics.recs.build import recs_rebuild


class Command(BaseCommand):
    help = "Build a new recommendation index version from the behaviour logs (as the beat task does)."

    def handle(self, *args, **options):
        result = recs_rebuild()
        self.stdout.write(str(result))
