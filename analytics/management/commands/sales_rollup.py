from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError

from analytics.services import sales_days_all, sales_rollup_refresh


class Command(BaseCommand):
    help = ("Recompute the daily sales roll-up (analytics.stats reads it for complete days): yesterday and today "
            "by default, --all (every day from the first paid order to today) or --from/--to (local days).")

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="every day from the first paid order to today")
        parser.add_argument("--from", dest="start", type=date.fromisoformat, help="first local day (YYYY-MM-DD)")
        parser.add_argument("--to", dest="end", type=date.fromisoformat, help="last local day (YYYY-MM-DD)")

    def handle(self, *args, all, start, end, **options):
        if all and (start or end):
            raise CommandError("Give either --all or --from/--to, not both.")
        if all:
            days = sales_days_all()  # every day, also those rolled up already
        elif start or end:
            start, end = start or end, end or start
            if start > end:
                raise CommandError("--from is after --to.")
            days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
        else:
            days = None
        rows = sales_rollup_refresh(days=days)
        count = len(days) if days is not None else 2
        self.stdout.write(f"sales roll-up: {count} days, {rows} rows")
