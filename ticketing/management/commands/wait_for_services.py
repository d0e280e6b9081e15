import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from ticketing.health import health_report


class Command(BaseCommand):
    help = "Wait until the database, Redis and MongoDB answer (and, with --migrated, migrations are applied)."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=60)
        parser.add_argument("--migrated", action="store_true", help="also wait for every migration to be applied")

    def _pending_migrations(self) -> bool:
        executor = MigrationExecutor(connection)
        return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))

    def handle(self, *args, timeout, migrated, **options):
        deadline = time.monotonic() + timeout
        while True:
            report = health_report()
            waiting = [name for name in ("database", "redis", "mongodb") if not report[name]["ok"]]
            if not waiting and migrated:
                try:
                    if self._pending_migrations():
                        waiting.append("migrations")
                except Exception:
                    waiting.append("migrations")
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise CommandError(f"still waiting for {', '.join(waiting)} after {timeout:.0f} s: {report}")
            connection.close()
            time.sleep(0.5)
