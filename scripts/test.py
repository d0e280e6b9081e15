#!/usr/bin/env python
"""`make test`: pick the backing services, say which, run the whole suite.

- MariaDB at 127.0.0.1:3306 (root, no password) and Redis at 127.0.0.1:6379
  are used when they answer; otherwise SQLite and an embedded Valkey.
- MongoDB tests always run against an embedded nx-27017 server (no MongoDB
  server exists on these machines) unless MONGODB_URI is set.
- DATABASE_URL / REDIS_URL / MONGODB_URI set by the caller win.

Exit status: pytest's, except that "no tests ran" (5) is a failure.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_VAR = ROOT / "var" / "test"
TEST_REDIS_PORT = 16380
TEST_MONGO_PORT = 27118


def port_answers(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def mysql_usable() -> str | None:
    try:
        import MySQLdb
    except ImportError:
        return None
    try:
        conn = MySQLdb.connect(host="127.0.0.1", port=3306, user="root", passwd="", connect_timeout=2)
    except MySQLdb.Error:
        return None
    cursor = conn.cursor()
    cursor.execute("SELECT VERSION()")
    version = cursor.fetchone()[0]
    conn.close()
    return version


def redis_usable() -> str | None:
    import redis

    try:
        return redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).info("server")["redis_version"]
    except redis.RedisError:
        return None


def main(argv: list[str]) -> int:
    if argv[:1] == ["--mysql-reachable"]:
        return 0 if port_answers(3306) else 1

    sys.path.insert(0, str(ROOT))
    env = os.environ.copy()
    env.setdefault("DJANGO_SETTINGS_MODULE", "ticketing.settings")
    env["TICKETING_VAR_DIR"] = str(TEST_VAR)
    env.setdefault("CACHE_KEY_PREFIX", "tktest")
    # Outbox messages (emails, texts) are delivered in the committing thread, not by a
    # worker; the dev outboxes (/dev/mail/, /dev/sms/) are on, as in `make run`.
    env.setdefault("OUTBOX_DISPATCH", "inline")
    env.setdefault("DEV_OUTBOX", "1")
    # Live-server threads must not keep connections that outlive the test database.
    env["DB_CONN_MAX_AGE"] = "0"
    lines = []
    # TEST_SERVICES=embedded tests as a fresh machine would, even here.
    probe = env.get("TEST_SERVICES") != "embedded"

    if "DATABASE_URL" in env:
        lines.append(f"database: {env['DATABASE_URL'].split('@')[-1]} (from DATABASE_URL)")
    elif probe and (version := mysql_usable()):
        env["DATABASE_URL"] = "mysql://root@127.0.0.1:3306/ticketing"
        lines.append(f"database: MariaDB/MySQL {version} at 127.0.0.1:3306 (real server)")
    else:
        lines.append("database: SQLite (embedded; no MariaDB answered at 127.0.0.1:3306)")

    embedded_redis = None
    if "REDIS_URL" in env:
        lines.append(f"redis:    {env['REDIS_URL']} (from REDIS_URL)")
    elif probe and (version := redis_usable()):
        # Database 15 keeps the suite away from anything a developer stored in 0.
        env["REDIS_URL"] = "redis://127.0.0.1:6379/15"
        lines.append(f"redis:    Redis {version} at 127.0.0.1:6379/15 (real server)")
    else:
        embedded_redis = TEST_REDIS_PORT
        env["REDIS_URL"] = f"redis://127.0.0.1:{TEST_REDIS_PORT}/15"
        lines.append(f"redis:    embedded Valkey at 127.0.0.1:{TEST_REDIS_PORT} (no Redis answered at 6379)")

    embedded_mongo = None
    if "MONGODB_URI" in env:
        lines.append(f"mongodb:  {env['MONGODB_URI']} (from MONGODB_URI)")
    else:
        embedded_mongo = TEST_MONGO_PORT
        # One database per CACHE_KEY_PREFIX, so parallel runs don't clear each other's logs.
        env["MONGODB_URI"] = f"mongodb://127.0.0.1:{TEST_MONGO_PORT}/ticketing_{env['CACHE_KEY_PREFIX']}"
        lines.append(f"mongodb:  embedded nx-27017 at 127.0.0.1:{TEST_MONGO_PORT}")

    print("=" * 72)
    print("Backing services for this test run")
    for line in lines:
        print("  " + line)
    print("=" * 72, flush=True)

    from ticketing.embedded import EmbeddedServices

    with EmbeddedServices(var_dir=TEST_VAR / "services", redis_port=embedded_redis, mongo_port=embedded_mongo):
        rc = subprocess.call([sys.executable, "-m", "pytest", *argv], cwd=ROOT, env=env)
    if rc == 5:
        print("no tests ran: that is a failure", file=sys.stderr)
        return 1
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
