"""gunicorn for every HTTP page and API call in the services mode.

Measured on a 2-core machine (shared/research/ceiling-django.md): 4 sync
workers served ~1,150 holds/s at p99 < 80 ms; more connections only queued.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2))
worker_class = "sync"
timeout = 30
graceful_timeout = 30
# Recycle slowly to bound any leak: at 1,000+ requests/s (availability reads) 5,000 a worker meant
# a restart every ~20 s, all workers within a second of each other (a 1 s stall: p99 ~1 s,
# bench/availability.py). 200,000 ± 50,000 is minutes apart at that rate, and staggered.
max_requests = 200_000
max_requests_jitter = 50_000
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms req=%({x-request-id}o)s'
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
