#!/usr/bin/env python
"""schemathesis against the served OpenAPI schema, in the services layout (exit 1 on any failure).

    .venv/bin/python scripts/schemathesis_check.py                  # as in .ci/run
    .venv/bin/python scripts/schemathesis_check.py --max-examples 20 --seed 7

Builds a MariaDB database of its own, `ticketing_schemathesis` (dropped and made anew each run;
BENCH_DATABASE_SERVER, default mysql://root@127.0.0.1:3306, names the server), migrates it and
loads the demo data (manage.py seed_demo); uses Redis database 10 under the key prefix
`schemathesis` (BENCH_REDIS_URL) and deletes only those keys. gunicorn (deploy/gunicorn.conf.py)
and uvicorn run as subprocesses on free ports, as bench/_services.Servers starts them (logs in
var/bench/). Then schemathesis runs (examples, coverage and fuzzing phases) against
http://127.0.0.1:PORT/api/schema/ as the demo customer on every operation, then as the demo publisher
and the demo admin on the operations of their role, each with a fresh access JWT, with the checks: no
server error, and status codes, content types and response bodies as the schema documents them. It
prints one line, `schemathesis: N operations, S server errors, F schema failures`, and exits 1 unless
both are 0; the failures themselves are printed above it, and the JSON reports are in var/schemathesis/.
"""

import argparse
import io
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import _services  # noqa: E402

DATABASE = "ticketing_schemathesis"
REDIS_DB = 10  # 7-9: the sale benches
PREFIX = "schemathesis"
REPORT_DIR = ROOT / "var" / "schemathesis"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
SERVER_ERRORS = {"ST101", "ST102"}  # what not_a_server_error reports; every other failure breaks the schema
NO_THROTTLE = "100000/min"  # one client sends every request; 429s would hide the other answers
# (role, operations): the customer calls everything (and is refused the rest), then each role its own.
# The admin goes last: it may change the others' roles.
PASSES = (
    ("customer", None),
    ("publisher", r"^/api/(events/(create|mine|\{event_id\}(/submit|/cancel)?)"
                  r"|tickets/(types|seatmaps|sessions)/create|orders/event/)"),
    ("admin", r"^/api/(events/(review-queue|\{event_id\}/(approve|cancel))|users/|wallets/|refunds)"),
)


def prepare() -> dict[str, str]:
    """This check's database (made anew, migrated, demo data) and Redis namespace (emptied)."""
    env = _services.configure(database=DATABASE, redis_db=REDIS_DB, prefix=PREFIX, conn_max_age=60)
    _services.clear_redis(env["REDIS_URL"], PREFIX)
    _services.prepare_database(refill=True)
    from django.core.management import call_command

    call_command("seed_demo", stdout=io.StringIO())
    return env


def access_token(username: str) -> str:
    from accounts.models import User

    return _services.mint_tokens([User.objects.get(username=username)])[0]


def run_pass(base: str, role: str, paths: str | None, *, max_examples: int, seed: int) -> dict:
    """One schemathesis run as `role` (a fresh 5-minute token); returns its JSON report ({} if it made none)."""
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    report = REPORT_DIR / f"{role}.json"
    report.unlink(missing_ok=True)
    argv = [str(_services.VENV_BIN / "st"), "run", f"{base}/api/schema/", "--checks", CHECKS,
            "--header", f"Authorization: Bearer {access_token(role)}", "--header", "Accept-Language: zh-hans",
            "--phases", "examples,coverage,fuzzing", "--max-examples", str(max_examples), "--seed", str(seed),
            "--workers", "2", "--request-timeout", "20", "--no-color",
            "--report", "json", "--report-json-path", str(report)]
    if paths:
        argv += ["--include-path-regex", paths]
    started = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(f"  as {role}: exit {done.returncode} in {time.monotonic() - started:.0f} s", flush=True)
    if done.returncode != 0:
        print(done.stdout[-30000:], flush=True)
    return json.loads(report.read_text()) if report.exists() else {}


def tally(reports: dict[str, dict]) -> tuple[int, int, int]:
    """(operations tested, server errors, schema failures) over the passes; a pass without a report,
    or one that could not test something, counts as a schema failure."""
    operations = server = schema = 0
    for report in reports.values():
        if not report:
            schema += 1
            continue
        operations = max(operations, report["operations"]["tested"])
        for failure in report["failures"]:
            if failure["code"] in SERVER_ERRORS:
                server += failure["count"]
            else:
                schema += failure["count"]
        schema += len(report["errors"]) + report["operations"]["errored"]
    return operations, server, schema


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=10, help="test cases per operation and phase (default 10)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    _services.stop_on_sigterm()
    env = prepare()
    throttles = {"THROTTLE_HOLDS": NO_THROTTLE, "THROTTLE_ORDERS": NO_THROTTLE}
    reports = {}
    with _services.Servers(env, name="schemathesis", workers=2, server_env=throttles) as servers:
        for role, paths in PASSES:
            reports[role] = run_pass(servers.http, role, paths, max_examples=args.max_examples, seed=args.seed)
    operations, server, schema = tally(reports)
    print(f"schemathesis: {operations} operations, {server} server errors, {schema} schema failures", flush=True)
    return 0 if operations and not server and not schema else 1


if __name__ == "__main__":
    _services.exit_with(main())
