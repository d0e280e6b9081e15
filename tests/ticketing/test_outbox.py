"""Work after a commit goes through the outbox: never lost, never in the request's way."""

import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from orders.models import Order
from tests.conftest import ROOT, HungServer, free_port, reset_redis_backoff
from tests.factories import UserFactory
from tests.orders.flows import pending_order
from ticketing import outbox, tasks
from ticketing.celery import app as celery_app
from ticketing.mail import dev_outbox
from ticketing.models import OutboxMessage

pytestmark = pytest.mark.django_db


@pytest.fixture
def failing_handler():
    calls = []

    @outbox.outbox_handler("test.flaky")
    def flaky(*, fail: bool):
        calls.append(fail)
        if fail:
            raise OSError("provider unreachable")

    yield calls
    outbox._handlers.pop("test.flaky")


@pytest.fixture
def broker(settings, request):
    """Celery's broker pointed at a closed port ("refused") or a server that never answers ("hung")."""
    hung = HungServer() if request.param == "hung" else None
    url = f"redis://127.0.0.1:{hung.port if hung else free_port()}/0"
    saved = celery_app.conf.broker_url
    celery_app.conf.broker_url = url
    drop_producer_pools()
    settings.OUTBOX_DISPATCH = "celery"
    reset_redis_backoff()
    yield hung
    if hung:
        hung.close()
    outbox.wait_dispatched()
    celery_app.conf.broker_url = saved
    drop_producer_pools()
    reset_redis_backoff()


def drop_producer_pools() -> None:
    """Celery builds its producer pools from broker_url on first use (as after a fork)."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def test_mail_sent_in_a_transaction_that_rolls_back_is_never_sent(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        with transaction.atomic():
            send_mail("Hi", "body", None, ["a@example.com"])
            raise RuntimeError("the change failed")

    assert not OutboxMessage.objects.exists()
    assert mail.outbox == []


def test_mail_is_queued_with_the_change_and_sent_once_it_commits(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            send_mail("订单已支付", "正文", None, ["a@example.com"], html_message="<p>正文</p>")
            assert mail.outbox == []  # not before the commit

    assert [(m.subject, m.to, m.alternatives[0].content) for m in mail.outbox] == [("订单已支付", ["a@example.com"], "<p>正文</p>")]
    assert OutboxMessage.objects.get().state == OutboxMessage.State.DELIVERED


def test_a_failing_delivery_is_retried_later_and_given_up_after_the_last_attempt(failing_handler):
    message = OutboxMessage.objects.create(handler="test.flaky", payload={"fail": True})

    assert outbox.outbox_deliver(message_id=message.pk) is False
    message.refresh_from_db()
    assert (message.state, message.attempts, "provider unreachable" in message.last_error) == ("pending", 1, True)
    assert message.due_at > timezone.now() + timedelta(seconds=20)  # backs off
    assert outbox.outbox_sweep() == 0  # not due yet: left alone

    OutboxMessage.objects.filter(pk=message.pk).update(attempts=outbox.MAX_ATTEMPTS - 1, due_at=timezone.now())
    outbox.outbox_sweep()
    message.refresh_from_db()
    assert (message.state, message.attempts) == ("failed", outbox.MAX_ATTEMPTS)
    assert outbox.backlog()["failed"] == 1


def test_a_message_being_delivered_is_not_delivered_again_until_its_claim_lapses(failing_handler):
    message = OutboxMessage.objects.create(handler="test.flaky", payload={"fail": False},
                                           claimed_until=timezone.now() + timedelta(minutes=1))

    assert outbox.outbox_deliver(message_id=message.pk) is False  # another worker has it
    OutboxMessage.objects.filter(pk=message.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert outbox.outbox_deliver(message_id=message.pk) is True  # that worker died: taken over
    assert outbox.outbox_deliver(message_id=message.pk) is False  # delivered: never twice
    assert failing_handler == [False]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("broker", ["refused", "hung"], indirect=True)
def test_a_payment_answers_while_the_broker_is_down_and_its_email_goes_out_later(broker):
    buyer = UserFactory(email="buyer@example.com")
    order = pending_order(buyer)
    api = APIClient()
    api.force_authenticate(buyer)

    response = api.post(f"/api/orders/pay/{order.pk}", {"idempotency_key": uuid.uuid4().hex}, format="json")

    assert response.status_code == 200 and response.json()["status"] == "paid"
    assert Order.objects.get(pk=order.pk).status == "paid"
    paid = OutboxMessage.objects.get(handler="orders.paid")  # the buyer's notice, written with the payment
    assert paid.state == "pending" and paid.payload == {"order": order.pk}
    if broker:  # hung: the answer came back while the hand-off to the broker still waits
        assert outbox._dispatcher.queue.unfinished_tasks >= 1
    outbox.wait_dispatched()
    assert mail.outbox == []

    outbox.outbox_sweep()  # beat, once the broker is back: the notice, which queues its mail
    waiting = OutboxMessage.objects.get(handler="mail.send")
    assert "buyer@example.com" in json.dumps(waiting.payload)
    outbox.wait_dispatched()
    outbox.outbox_sweep()

    assert [m.to for m in mail.outbox] == [["buyer@example.com"]]
    assert {m.state for m in OutboxMessage.objects.all()} == {"delivered"}


@pytest.mark.parametrize("broker", ["refused"], indirect=True)
def test_a_broker_that_failed_is_left_alone_for_a_while_and_the_sweep_has_the_rest(broker, caplog):
    with caplog.at_level(logging.WARNING, logger="ticketing.background"):
        outbox._hand_to_broker([1])
        outbox._hand_to_broker([2, 3])

    assert outbox._broker.is_down() and outbox._broker.skipped == 2
    assert len(caplog.records) == 1 and "broker" in caplog.records[0].getMessage()


def test_ids_committed_while_a_hand_off_is_under_way_go_to_the_broker_in_one_task(monkeypatch, settings):
    settings.OUTBOX_DISPATCH = "celery"
    sent, publishing = [], threading.Event()

    def apply_async(args, retry):
        sent.append(list(args[0]))
        publishing.wait(5)  # the broker takes its time over the first one

    monkeypatch.setattr(tasks.outbox_deliver_many_task, "apply_async", apply_async)
    outbox._dispatch(1)
    deadline = time.monotonic() + 5
    while not sent:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    for message_id in (2, 3, 4):
        outbox._dispatch(message_id)
    publishing.set()
    outbox.wait_dispatched()

    assert sent == [[1], [2, 3, 4]]


@pytest.mark.django_db(transaction=True)
def test_a_worker_process_delivers_what_a_request_queued(celery_worker_process, settings):
    settings.OUTBOX_DISPATCH = "celery"
    client = APIClient()

    response = client.post("/api/auth/register", {"email": "new@example.com", "password": "Tk-9f3#kq2-Lm"},
                           format="json", HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert response.status_code == 201
    deadline = time.monotonic() + 30
    while not OutboxMessage.objects.filter(state="delivered").exists():
        assert time.monotonic() < deadline, list(OutboxMessage.objects.values())
        time.sleep(0.2)
    sent = dev_outbox()[0]  # what the worker's console backend "sent", as /dev/mail/ shows it
    assert sent["to"] == "new@example.com" and "/accounts/confirm-email/" in sent["body"]


@pytest.mark.parametrize("email_url,backend", [
    ("consolemail://", "ticketing.mail.DevConsoleEmailBackend"),
    ("filemail:///tmp/ticketing-mail-test", "django.core.mail.backends.filebased.EmailBackend"),
    ("smtp+tls://user:pw@127.0.0.1:2525", "django.core.mail.backends.smtp.EmailBackend"),
])
def test_every_documented_email_url_makes_a_mailer_that_django_accepts(email_url, backend):
    # The settings as the site loads them (tests swap the last hop for locmem), on this Django.
    code = (
        "import django; django.setup()\n"
        "from ticketing.mail import delivery_mailer\n"
        "from django.core import mail\n"
        "m = delivery_mailer(); d = mail.get_connection() if django.VERSION < (6, 1) else mail.mailers.default\n"
        "print(type(m).__module__ + '.' + type(m).__name__, type(d).__name__, getattr(m, 'file_path', ''))\n"
    )
    env = {**os.environ, "EMAIL_URL": email_url, "DJANGO_SETTINGS_MODULE": "ticketing.settings"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)

    assert result.returncode == 0, result.stderr[-2000:]
    made, default, file_path = (result.stdout.split() + [""])[:3]
    assert (made, default) == (backend, "OutboxEmailBackend")
    if "filemail" in email_url:
        assert file_path == "/tmp/ticketing-mail-test"
