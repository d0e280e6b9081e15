#!/usr/bin/env python
"""Smoke test of the embedded default, as a newcomer runs it.

    scripts/smoke.py DIR [--python PYTHON]

Runs `make run` in DIR (a clean clone) in its own process group, waits for the
home page, the API schema, a websocket round trip, a Celery task round trip
and a green /healthz, then does what a newcomer does first: signs up by email
and by mobile on the pages and over the API, reads the verification mail and
text where README says they appear (/dev/mail/, /dev/sms/), verifies, logs in
and resets a password; and checks that an error shows the product's own page,
not Django's debug page. Then it stops the group with SIGTERM (as Ctrl-C would)
and checks that no process of DIR and no embedded server port is left. Exits
non-zero on the first failure, printing the tail of the server log.
"""

import argparse
import asyncio
import html
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import psutil
import requests
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
    ours = {os.getpid(), *(parent.pid for parent in psutil.Process().parents())}  # e.g. a `timeout` wrapper
    for p in psutil.process_iter(["pid", "cmdline", "cwd"]):
        try:
            if p.pid not in ours and (
                str(directory) in " ".join(p.info["cmdline"] or []) or (p.info["cwd"] or "").startswith(str(directory))
            ):
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


def listening(port: int) -> bool:
    return any(c.laddr.port == port and c.status == psutil.CONN_LISTEN for c in psutil.net_connections("tcp"))


# --- what a newcomer does first ----------------------------------------------------------
PASSWORD = "Lantern-River-42"


class Browser(requests.Session):
    """A person at the site: cookies, and the CSRF token pages hand out."""

    def __init__(self, base: str):
        super().__init__()
        self.base = base
        self.headers["Accept-Language"] = "zh-CN,zh;q=0.9"

    def form(self, path: str, data: dict, expect_redirect: bool = True) -> requests.Response:
        self.get(self.base + path)  # sets the csrftoken cookie, as opening the page does
        response = self.post(self.base + path, {**data, "csrfmiddlewaretoken": self.cookies.get("csrftoken", "")},
                             headers={"Referer": self.base + path}, allow_redirects=False)
        if expect_redirect and response.status_code != 302:
            raise AssertionError(f"POST {path} answered {response.status_code}: {response.text[-600:]}")
        return response

    def logged_in(self) -> bool:
        return self.get(self.base + "/accounts/profile/", allow_redirects=False).status_code == 200


def dev_outbox_item(base: str, page: str, needle: str, pattern: str, log: Path, proc) -> str:
    """Waits until the dev outbox page shows a message containing `needle`; returns `pattern`'s first group."""
    def look():
        body = requests.get(base + page, timeout=5).text
        for item in body.split('data-testid="')[1:]:
            if needle in item and (found := re.search(pattern, item)):
                return html.unescape(found.group(1))
        return None
    return wait_for(look, 60, f"a message to {needle} on {page}", log, proc)


def newcomer_journey(base: str, log: Path, proc) -> None:
    tag = uuid.uuid4().hex[:6]
    steps = []
    try:
        # Sign up by email on the page, open the link from the mail, and be logged in.
        email = f"newcomer-{tag}@example.com"
        person = Browser(base)
        person.form("/accounts/signup/", {"email": email, "password1": PASSWORD, "password2": PASSWORD})
        link = dev_outbox_item(base, "/dev/mail/", email, r'(/accounts/confirm-email/[^\s"<]+/)', log, proc)
        person.form(link, {})
        assert person.logged_in(), "not logged in after confirming the email"
        steps.append("email sign-up + verification mail")

        # Sign up by mobile on the page, type the texted code.
        mobile = "139" + str(int(tag, 16) % 10**8).zfill(8)
        texter = Browser(base)
        texter.form("/accounts/signup/", {"phone": mobile, "password1": PASSWORD, "password2": PASSWORD})
        code = dev_outbox_item(base, "/dev/sms/", mobile[-8:], r"\b(\d{6})\b", log, proc)
        texter.form("/accounts/phone/verify/", {"code": code})
        assert texter.logged_in(), "not logged in after the texted code"
        steps.append("mobile sign-up + texted code")

        # The API: sign up by email and by mobile, get the mail, log in for tokens.
        api_email = f"api-{tag}@example.com"
        api_mobile = "137" + str(int(tag, 16) % 10**8).zfill(8)
        for body in ({"email": api_email}, {"phone": api_mobile}):
            response = requests.post(base + "/api/auth/register", json={**body, "password": PASSWORD}, timeout=10)
            assert response.status_code == 201, f"API register {body}: {response.status_code} {response.text[:300]}"
        dev_outbox_item(base, "/dev/mail/", api_email, r"(/accounts/confirm-email/[^\s\"<]+/)", log, proc)
        for who in (api_email, api_mobile):
            response = requests.post(base + "/api/auth/login", json={"login": who, "password": PASSWORD}, timeout=10)
            assert response.status_code == 200 and "access" in response.json(), f"API login {who}: {response.text[:300]}"
        steps.append("API sign-up (email, mobile) + login")

        # Log out, log back in on the page; forget the password and reset it from the mail.
        person.form("/accounts/logout/", {})
        person.form("/accounts/login/", {"login": email, "password": PASSWORD})
        assert person.logged_in(), "page login failed"
        forgetful = Browser(base)
        forgetful.form("/accounts/password/reset/", {"email": email})
        key = dev_outbox_item(base, "/dev/mail/", "/accounts/password/reset/key/",
                              r"(/accounts/password/reset/key/[^\s\"<]+/)", log, proc)
        set_page = forgetful.get(base + key).url.removeprefix(base)
        forgetful.form(set_page, {"password1": PASSWORD + "!", "password2": PASSWORD + "!"})
        Browser(base).form("/accounts/login/", {"login": email, "password": PASSWORD + "!"})
        steps.append("page login/logout + password reset mail")

        # An error shows the product's page, never Django's debug page.
        missing = requests.get(base + "/no-such-page/", timeout=10, headers={"Accept-Language": "zh-CN"})
        assert missing.status_code == 404 and "Traceback" not in missing.text and "URLconf" not in missing.text \
            and "DEBUG = True" not in missing.text, "404 shows Django's debug page"
        steps.append("own 404 page (DEBUG off)")
    except AssertionError as error:
        fail(f"newcomer journey, after {steps}: {error}", log)
    print(f"smoke: newcomer journey: {', '.join(steps)}", flush=True)


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
        version = subprocess.run([str(directory / ".venv/bin/python"), "-c",
                                  "import sys, django; print(sys.version.split()[0], django.get_version())"],
                                 capture_output=True, text=True).stdout.split()
        print(f"smoke: Python {version[0]}, Django {version[1]}", flush=True)
        newcomer_journey(base, log, proc)
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
