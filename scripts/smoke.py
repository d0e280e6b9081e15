#!/usr/bin/env python
"""Smoke test of the embedded default, as a newcomer runs it.

    scripts/smoke.py DIR [--python PYTHON]

Runs `make run` in DIR (a clean clone) in its own process group, waits for the
home page, the API schema, a websocket round trip, a Celery task round trip
and a green /healthz, then stops the group with SIGTERM (as Ctrl-C would) and
checks that no process of DIR and no embedded server port is left. Exits
non-zero on the first failure, printing the tail of the server log.
"""

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import websockets

PORT = 8765
EMBEDDED_PORTS = (16379, 27117)


def fail(message: str, log: Path) -> None:
    print(f"SMOKE FAILED: {message}\n--- last lines of {log} ---")
    print("\n".join(log.read_text(errors="replace").splitlines()[-60:]))
    sys.exit(1)


def get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_for(check, timeout: float, what: str, log: Path, proc: subprocess.Popen):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            fail(f"`make run` exited ({proc.returncode}) while waiting for {what}", log)
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # not up yet
            last = exc
        time.sleep(1)
    fail(f"timed out waiting for {what} (last error: {last})", log)


def processes_of(directory: Path) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["pid", "cmdline", "cwd"]):
        try:
            if p.pid != os.getpid() and (
                str(directory) in " ".join(p.info["cmdline"] or []) or (p.info["cwd"] or "").startswith(str(directory))
            ):
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


def listening(port: int) -> bool:
    return any(c.laddr.port == port and c.status == psutil.CONN_LISTEN for c in psutil.net_connections("tcp"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("directory", type=Path)
    parser.add_argument("--python", default=None, help="interpreter for the newcomer's virtualenv")
    args = parser.parse_args()
    directory = args.directory.resolve()
    base = f"http://127.0.0.1:{PORT}"
    log = directory / "smoke-run.log"
    for port in (PORT, *EMBEDDED_PORTS):
        if listening(port):
            print(f"SMOKE FAILED: port {port} is already in use before `make run`")
            sys.exit(1)

    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "DATABASE_URL", "REDIS_URL", "MONGODB_URI")}
    command = ["make", "run", f"PORT={PORT}"] + ([f"PYTHON={args.python}"] if args.python else [])
    started = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=directory, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    print(f"smoke: {' '.join(command)} in {directory} (pid {proc.pid})", flush=True)
    try:
        wait_for(lambda: get(base + "/")[0] == 200, 600, "the home page", log, proc)
        print(f"smoke: home page up after {time.monotonic() - started:.0f} s", flush=True)

        status, body = get(base + "/api/schema/?format=json")
        if status != 200 or "openapi" not in json.loads(body):
            fail(f"API schema answered {status}", log)
        print("smoke: API schema served", flush=True)

        async def ws_round_trip():
            async with websockets.connect(f"ws://127.0.0.1:{PORT}/ws/ping/", origin=base) as ws:
                await ws.send(json.dumps({"message": "smoke"}))
                return json.loads(await asyncio.wait_for(ws.recv(), 10))

        if asyncio.run(ws_round_trip()) != {"echo": "smoke"}:
            fail("websocket echo came back wrong", log)
        print("smoke: websocket round trip through the channel layer", flush=True)

        task = subprocess.run(
            [str(directory / ".venv/bin/python"), "manage.py", "shell", "-c",
             "from ticketing.tasks import ping; print(ping.delay().get(timeout=60))"],
            cwd=directory, env=env, capture_output=True, text=True, timeout=120,
        )
        if task.stdout.strip().splitlines()[-1:] != ["pong"]:
            fail(f"Celery round trip failed: {task.stdout[-500:]} {task.stderr[-1500:]}", log)
        print("smoke: Celery task round trip", flush=True)

        report = wait_for(lambda: (lambda r: r if r["ok"] else None)(json.loads(get(base + "/healthz")[1])),
                          90, "a green /healthz", log, proc)
        print(f"smoke: /healthz ok: { {k: v['ok'] for k, v in report.items() if isinstance(v, dict)} }", flush=True)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # what Ctrl-C in the terminal amounts to
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            fail("`make run` did not stop within 60 s of SIGTERM", log)

    deadline = time.monotonic() + 15
    while (left := processes_of(directory)) or any(listening(p) for p in (PORT, *EMBEDDED_PORTS)):
        if time.monotonic() > deadline:
            for p in left:
                p.kill()
            fail(f"processes left after stopping: {[' '.join(p.cmdline()) for p in left if p.is_running()]}", log)
        time.sleep(0.5)
    print("smoke: stopped cleanly, no process or port left behind")


if __name__ == "__main__":
    main()
