import signal
import threading

from django.core.management.base import BaseCommand

from ticketing.embedded import from_settings


class Command(BaseCommand):
    help = "Run the embedded Valkey and MongoDB-wire servers until SIGINT/SIGTERM (make run starts this)."

    def handle(self, *args, **options):
        services = from_settings()
        if not (services.redis_port or services.mongo_port):
            self.stdout.write("REDIS_URL and MONGODB_URI are both set: nothing embedded to run.")
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        services.start()
        self.stdout.write(
            f"embedded services ready: started {services.started or 'none'}, reused {services.reused or 'none'}",
        )
        self.stdout.flush()
        try:
            stop.wait()
        finally:
            services.stop()
            self.stdout.write("embedded services stopped")
