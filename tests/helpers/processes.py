"""Run code in several OS processes at once against the test database.

Concurrency tests need real processes (separate interpreters, connections and
locks), not threads. Children are spawned fresh (not forked: the test process
may hold threads, e.g. Playwright's, that make fork deadlock) and pointed at the
test database through DATABASE_URL before Django starts in them.
"""

import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import Any


def database_url_for_children() -> str:
    """DATABASE_URL of the test database this process is using."""
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return f"mysql://{s['USER']}:{s['PASSWORD']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 3306}/{s['NAME']}"


def _init_child(database_url: str, env: dict[str, str]) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DB_CONN_MAX_AGE"] = "0"
    os.environ.update(env)
    import django

    django.setup()


def _child(fn: Callable, args: tuple, barrier) -> Any:
    from django import db

    barrier.wait(timeout=60)  # start together: the point is to collide
    try:
        return fn(*args)
    finally:
        db.connections.close_all()


def run_in_processes(fn: Callable, args_list: Sequence[tuple], timeout: float = 120,
                     env: dict[str, str] | None = None) -> list[Any]:
    """Call fn(*args) for each args in its own process, all released at once.

    Returns the results in order; an exception in a child is re-raised here.
    The test must use the `transactional_db` fixture (rows must be committed
    to be seen across processes). `fn` must be a module-level function.
    """
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(len(args_list))
        with ctx.Pool(len(args_list), initializer=_init_child, initargs=(database_url_for_children(), env or {})) as pool:
            pending = [pool.apply_async(_child, (fn, tuple(args), barrier)) for args in args_list]
            return [p.get(timeout=timeout) for p in pending]
