"""A server process killed (SIGKILL) in the middle of a payment: afterwards all of it happened or none.

The test holds a lock on the buyer's wallet row from its own connection, so the
server's payment stops inside its transaction, right after it marked the order
paid and wrote the payment row, waiting to debit the wallet. Then the server is
killed, the lock let go, and the database must have thrown the half-payment away.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.db import connection

from accounts.serializers import RoleRefreshToken
from orders import services
from orders.models import LedgerEntry, LedgerKind, Order, OrderStatus, Payment, Wallet
from tests.factories import UserFactory
from tests.helpers.processes import database_url_for_children
from tests.orders.flows import assert_wallet_consistent, pending_order
from tickets.models import Hold, HoldStatus, SeatStatus, SessionSeat

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url_for_children(), "DB_CONN_MAX_AGE": "0"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "ticketing.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", "1",
         "--timeout", "120"], cwd=ROOT, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not start")


def mysql_raw():
    import MySQLdb

    s = connection.settings_dict
    return MySQLdb.connect(host=s["HOST"] or "127.0.0.1", port=int(s["PORT"] or 3306), user=s["USER"],
                           passwd=s["PASSWORD"], db=s["NAME"], autocommit=False)


def wait_for(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


@pytest.mark.skipif(os.environ.get("DATABASE_URL", "").startswith("sqlite"),
                    reason="needs a server database with row locks (MariaDB); SQLite locks the whole file")
def test_a_server_killed_mid_payment_leaves_no_half_payment_and_the_order_can_be_paid_again():
    if connection.vendor != "mysql":
        pytest.skip("needs MariaDB/MySQL")
    buyer = UserFactory()
    wallet = services.wallet_ensure(user=buyer)
    order = pending_order(buyer)
    balance = wallet.balance
    port = free_port()
    server = start_server(port)
    locker = mysql_raw()
    try:
        cursor = locker.cursor()
        cursor.execute("SELECT balance FROM orders_wallet WHERE id = %s FOR UPDATE", [wallet.pk])
        token = RoleRefreshToken.for_user(buyer).access_token
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/orders/pay/{order.pk}", method="POST",
            data=json.dumps({"idempotency_key": uuid.uuid4().hex}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        threading.Thread(target=lambda: _ignore_errors(urllib.request.urlopen, request, timeout=60),
                         daemon=True).start()

        def payment_waits_for_the_wallet() -> bool:
            cursor.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE 'UPDATE%%orders_wallet%%'")
            rows = cursor.fetchall()
            payment_waits_for_the_wallet.ids = [r[0] for r in rows]
            return bool(rows)

        wait_for(payment_waits_for_the_wallet)
        os.killpg(server.pid, signal.SIGKILL)  # master and worker, mid-transaction
        server.wait(timeout=10)
        locker.rollback()  # let go of the wallet: the dead connection's statement may now run, but never commit

        def server_connection_gone() -> bool:
            cursor.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID IN (%s)"
                           % ",".join(str(int(i)) for i in payment_waits_for_the_wallet.ids))
            found = cursor.fetchone()[0]
            locker.rollback()
            return found == 0

        wait_for(server_connection_gone)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        locker.close()

    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert not Payment.objects.filter(order=order).exists()
    assert not LedgerEntry.objects.filter(order=order, kind=LedgerKind.PURCHASE).exists()
    assert not order.tickets.exists()
    assert Wallet.objects.get(pk=wallet.pk).balance == balance
    assert Hold.objects.get(order_hold__order=order).status == HoldStatus.ACTIVE
    assert SessionSeat.objects.filter(hold__order_hold__order=order, status=SeatStatus.HELD).count() == 2

    services.order_pay(user=buyer, order_id=order.pk, idempotency_key=uuid.uuid4().hex)  # the retry goes through
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    assert assert_wallet_consistent(buyer).balance == balance - order.total


def _ignore_errors(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except Exception:  # noqa: BLE001 - the server is killed under this request on purpose
        pass
