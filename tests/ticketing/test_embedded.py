"""The embedded servers start, keep their data across a restart, are reused, and stop."""

import os
import signal
import subprocess
import sys
import time

import psutil
import pymongo
import redis

from tests.conftest import ROOT, free_port
from ticketing.embedded import EmbeddedServices


def start_embedded(tmp_path, redis_port, mongo_port) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "MONGODB_URI", "DATABASE_URL")}
    env.update(TICKETING_VAR_DIR=str(tmp_path), EMBEDDED_REDIS_PORT=str(redis_port), EMBEDDED_MONGO_PORT=str(mongo_port))
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "embedded_services"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    for line in proc.stdout:
        if "embedded services ready" in line:
            return proc
    raise AssertionError(f"embedded services did not start (exit {proc.wait()})")


def stop(proc: subprocess.Popen) -> list[int]:
    children = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    return children


def gone(pids: list[int]) -> bool:
    deadline = time.monotonic() + 5
    while any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_embedded_servers_persist_across_a_restart_and_stop_cleanly(tmp_path):
    redis_port, mongo_port = free_port(), free_port()
    proc = start_embedded(tmp_path, redis_port, mongo_port)
    r = redis.Redis(port=redis_port)
    m = pymongo.MongoClient(port=mongo_port, serverSelectionTimeoutMS=3000)
    r.set("survives", "restart")
    m.ticketing.logs.insert_one({"action": "view", "event_id": 7})
    m.close()

    children = stop(proc)
    assert children, "Valkey runs as a child process"
    assert gone(children), "no orphan server process is left behind"
    for port in (redis_port, mongo_port):
        assert not psutil.net_connections() or all(
            c.laddr.port != port for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN
        )

    proc = start_embedded(tmp_path, redis_port, mongo_port)
    try:
        assert redis.Redis(port=redis_port).get("survives") == b"restart"
        m = pymongo.MongoClient(port=mongo_port, serverSelectionTimeoutMS=3000)
        assert [d["event_id"] for d in m.ticketing.logs.find({"action": "view"})] == [7]
        m.close()
    finally:
        stop(proc)


def test_a_running_server_is_reused_not_started_twice(tmp_path):
    redis_port, mongo_port = free_port(), free_port()
    proc = start_embedded(tmp_path, redis_port, mongo_port)
    try:
        with EmbeddedServices(var_dir=tmp_path / "second", redis_port=redis_port, mongo_port=mongo_port) as second:
            assert second.started == []
            assert second.reused == ["valkey", "mongodb"]
        # The second owner stopping must not stop the first one's servers.
        assert redis.Redis(port=redis_port).ping()
    finally:
        stop(proc)
