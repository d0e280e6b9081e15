from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Role, User
from accounts.services import user_create
from analytics import demo as history
from analytics.documents import ensure_indexes
from events.demo import seed_events, seed_posters
from events.models import Event
from tickets.demo import seed_tickets

# Demo accounts for the embedded mode; never run this against production data.
DEMO_ACCOUNTS = [
    {"username": "admin", "email": "admin@demo.local", "password": "demo-admin-pass", "role": Role.ADMIN, "display_name": "平台管理员"},
    {"username": "publisher", "email": "publisher@demo.local", "password": "demo-publisher-pass", "role": Role.PUBLISHER, "display_name": "星光演艺"},
    {"username": "customer", "email": "customer@demo.local", "password": "demo-customer-pass", "role": Role.CUSTOMER, "display_name": "小王"},
]
# More organisers, so the catalogue is not all one company's.
EXTRA_PUBLISHERS = [("livenation", "乐享演出"), ("citysports", "城市体育"), ("artspace", "艺术空间")]


class Command(BaseCommand):
    help = "Load demo data (idempotent: running it again changes nothing) and print the demo accounts."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000/", help="URL to print for the newcomer")
        parser.add_argument("--buyers", type=int, default=history.DEFAULT_BUYERS,
                            help="demo buyers with a history (besides the demo customer)")
        parser.add_argument("--history-days", type=int, default=history.DEFAULT_DAYS,
                            help="days of behaviour and sales history up to now (0: none)")

    def handle(self, *args, url, buyers, history_days, **options):
        created, events, stocked, posters = self._catalogue()
        # Once the catalogue is committed: InnoDB's full-text index (the searches' result counts) sees no other rows.
        try:
            ensure_indexes()
        except Exception as exc:  # noqa: BLE001 - MongoDB away: the history below says so too
            self.stderr.write(f"MongoDB indexes not made: {exc}")
        made = history.seed_history(buyers=buyers, days=history_days)
        if made.orders:  # backdated sales: the roll-up of every day (a beat during the seeding may have rolled some up)
            from analytics.services import sales_days_all, sales_rollup_refresh

            sales_rollup_refresh(days=sales_days_all())
        if made.lines:  # a new history: build the recommendations from it in the background (the outbox)
            from analytics.tasks import recs_rebuild_soon  # noqa: F401 - registers the outbox handler
            from ticketing.outbox import outbox_add

            outbox_add(handler="analytics.recs_rebuild", payload={})
        self.stdout.write(self.style.SUCCESS(
            f"demo data ready ({created} accounts, {events} events, tickets for {stocked} events, "
            f"{posters} posters created)"))
        self.stdout.write(made.summary())
        self.stdout.write(f"\n  Open {url}\n\n  Demo accounts (log in with the email):")
        for account in DEMO_ACCOUNTS:
            self.stdout.write(f"    {account['role']:<10} {account['email']:<24} {account['password']}")
        self.stdout.write("")

    @transaction.atomic
    def _catalogue(self) -> tuple[int, int, int, int]:
        """Accounts, events, tickets and posters: (accounts, events, events stocked, posters) created."""
        created = 0
        for account in DEMO_ACCOUNTS:
            if not User.objects.filter(username=account["username"]).exists():
                user_create(**account)
                created += 1
        for username, name in EXTRA_PUBLISHERS:
            if not User.objects.filter(username=username).exists():
                user_create(username=username, email=f"{username}@demo.local", password=None, role=Role.PUBLISHER,
                            display_name=name)
                created += 1
        publishers = [User.objects.get(username="publisher")] + list(
            User.objects.filter(username__in=[u for u, _ in EXTRA_PUBLISHERS]).order_by("username"))
        events = seed_events(publishers=publishers, admin=User.objects.get(username="admin"))
        stocked = seed_tickets(Event.objects.all())
        posters = seed_posters(Event.objects.filter(publisher__in=publishers))
        return created, events, stocked, posters
