"""Check-in that keeps working offline: the session's ticket list for scanners, short codes typed at the door,
and the sync of scans made offline (idempotent; a ticket admitted at two doors is a conflict the publisher
sees, with who, where and when)."""

import uuid
from datetime import datetime, time, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from orders import codes, services, transfers
from orders.models import (
    CheckIn, CheckinConflict, ConflictKind, EventStaff, Order, Scan, ScanResult, Ticket, TicketStatus,
)
from tests.factories import UserFactory
from tests.orders.flows import doors_open, move_sessions, paid_order
from tests.tickets.factories import ga_session

pytestmark = pytest.mark.django_db


def api_for(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def tickets_url(order: Order, session_id: int | None = None) -> str:
    session_id = session_id or order.tickets.first().session_id
    return f"/api/checkin/events/{order.event_id}/sessions/{session_id}/tickets"


def offline_scan(ticket_or_code, *, local_result=ScanResult.OK, ago=timedelta(minutes=5), gate="North gate",
                 device="D-AAAAAA", nonce=None) -> dict:
    code = ticket_or_code if isinstance(ticket_or_code, str) else ticket_or_code.code
    return {"nonce": nonce or uuid.uuid4().hex, "code": code, "scanned_at": (timezone.now() - ago).isoformat(),
            "local_result": local_result, "gate": gate, "device": device}


def sync(user, order: Order, *scans: dict):
    return api_for(user).post("/api/checkin/sync", {"event": order.event_id, "scans": list(scans)}, format="json")


# --- short codes ------------------------------------------------------------------------------


def test_short_codes_read_as_typed_in_any_case_without_spaces_or_dashes_and_o_as_zero():
    assert codes.short_code(" abcde-0fg1h ") == "ABCDE0FG1H"
    assert codes.short_code("ABCDE OFGIH") == "ABCDE0FG1H"  # O and I misread for 0 and 1
    assert codes.short_code("ABCDE-0FG1") == ""  # too short
    assert codes.short_code("ABCDE-0FGU1") == ""  # U is not in the alphabet
    made = {codes.new_short_code() for _ in range(200)}
    assert len(made) == 200 and all(codes.short_code(code) == code for code in made)


def test_every_new_ticket_has_its_own_short_code_shown_on_its_pages():
    order = paid_order(UserFactory(), seats=2)
    first, second = order.tickets.all()
    assert first.short_code != second.short_code and len(first.short_code) == 10
    client = Client()
    client.force_login(order.user)
    page = client.get(f"/tickets/mine/{first.pk}/").content.decode()
    assert f"{first.short_code[:5]}-{first.short_code[5:]}" in page
    assert first.short_code_shown in client.get(f"/orders/{order.pk}/").content.decode()
    assert api_for(order.user).get(f"/api/etickets/{first.pk}").json()["short_code"] == first.short_code_shown


def test_a_short_code_checks_a_ticket_in_online_and_a_second_time_is_refused():
    order = doors_open(paid_order(UserFactory(), seats=1))
    ticket = order.tickets.get()
    typed = f"{ticket.short_code[:5].lower()} - {ticket.short_code[5:]}"
    api = api_for(order.event.publisher)
    first = api.post("/api/checkin", {"event": order.event_id, "code": typed, "nonce": "n1", "gate": "East",
                                      "device": "D-PHONE1"}, format="json").json()
    assert first["result"] == ScanResult.OK and first["ticket"]["id"] == ticket.pk
    checkin = CheckIn.objects.get(ticket=ticket)
    assert (checkin.gate, checkin.device, checkin.offline) == ("East", "D-PHONE1", False)
    again = api.post("/api/checkin", {"event": order.event_id, "code": ticket.short_code, "nonce": "n2"},
                     format="json").json()
    assert again["result"] == ScanResult.ALREADY_USED
    assert Scan.objects.get(nonce="n1").code == ticket.short_code


def test_the_no_js_form_accepts_a_short_code_too():
    order = doors_open(paid_order(UserFactory(), seats=1))
    ticket = order.tickets.get()
    client = Client()
    client.force_login(order.event.publisher)
    page = client.post(f"/checkin/{order.event_id}/", {"code": ticket.short_code_shown, "nonce": "form-1"})
    assert page.status_code == 200
    assert 'data-result="ok"' in page.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.USED


def test_an_unknown_or_another_events_short_code_is_refused_and_admits_nothing():
    order = doors_open(paid_order(UserFactory(), seats=1))
    other = doors_open(paid_order(UserFactory(), seats=1))
    staff = order.event.publisher
    made_up = services.checkin_scan(staff=staff, event=order.event, code="ZZZZZ-ZZZZZ", nonce="a")
    elsewhere = services.checkin_scan(staff=staff, event=order.event, code=other.tickets.get().short_code, nonce="b")
    assert (made_up.scan.result, elsewhere.scan.result) == (ScanResult.FORGED, ScanResult.OTHER_EVENT)
    assert not CheckIn.objects.exists()


def test_a_short_code_for_another_days_session_is_refused_with_its_date():
    order = paid_order(UserFactory(), seats=1)
    day = timezone.localdate() + timedelta(days=7)
    move_sessions(order, start=timezone.make_aware(datetime.combine(day, time(19, 30))))
    outcome = services.checkin_scan(staff=order.event.publisher, event=order.event,
                                    code=order.tickets.get().short_code, nonce="x")
    assert outcome.scan.result == ScanResult.WRONG_DAY
    assert outcome.message == f"Refused: this ticket is for the session of {day:%b. %-d, %Y}, 7:30 p.m., not today's."
    assert not CheckIn.objects.exists()


def test_a_transfer_gives_a_new_short_code_and_the_old_one_is_refused_and_revoked():
    order = paid_order(UserFactory(), seats=1)
    ticket = order.tickets.get()
    old_short = ticket.short_code
    receiver = UserFactory()
    offer = transfers.transfer_offer(user=order.user, ticket_id=ticket.pk, to=receiver.email)
    given = transfers.transfer_accept(user=receiver, transfer_id=offer.pk)
    doors_open(order)
    assert given.short_code != old_short
    refused = services.checkin_scan(staff=order.event.publisher, event=order.event, code=old_short, nonce="old")
    assert refused.scan.result == ScanResult.TRANSFERRED
    revoked = api_for(order.event.publisher).get(f"/api/checkin/events/{order.event_id}/revocations").json()
    assert {"serial": codes.serial(offer.ticket.code), "short_code": old_short, "reason": "transferred",
            "session": ticket.session_id} in revoked["revoked"]
    assert services.checkin_scan(staff=order.event.publisher, event=order.event, code=given.short_code,
                                 nonce="new").admitted


# --- the session's ticket list ---------------------------------------------------------------


def test_the_ticket_list_names_each_live_ticket_of_the_session_by_serial_with_what_the_door_checks():
    order = doors_open(paid_order(UserFactory(), seats=3))
    used, named, refunded = order.tickets.order_by("pk")
    Ticket.objects.filter(pk=named.pk).update(attendee_name="王小明", attendee_id_masked="110***********1234")
    services.checkin_scan(staff=order.event.publisher, event=order.event, code=used.code, nonce="u")
    Ticket.objects.filter(pk=refunded.pk).update(status=TicketStatus.VOID, seat_claim=None)
    other_session, _types = ga_session(event=order.event, stock={"Floor": 50})
    pending_other = paid_order(UserFactory(), ga=1, session=other_session)

    body = api_for(order.event.publisher).get(tickets_url(order)).json()

    rows = {row["serial"]: row for row in body["tickets"]}
    assert set(rows) == {codes.serial(used.code), codes.serial(named.code)}  # not the void one, nor the other session's
    row = rows[codes.serial(named.code)]
    assert row["short_code"] == named.short_code
    assert row["attendee_name"] == "王小明" and row["attendee_id_masked"] == "110***********1234"
    assert row["seat"].startswith("A") and row["type"] == "Standard" and row["checked_in_at"] is None
    assert rows[codes.serial(used.code)]["checked_in_at"] is not None
    assert body["session"]["id"] == used.session_id
    assert {s["id"] for s in body["sessions"]} == {used.session_id, other_session.pk}
    assert body["session"]["admits_from"] < body["session"]["start_time"]
    assert codes.serial(pending_other.tickets.get().code) not in rows


def test_the_ticket_list_costs_the_same_queries_for_one_ticket_or_six():
    small = doors_open(paid_order(UserFactory(), seats=1))
    big = doors_open(paid_order(UserFactory(), seats=6))
    Ticket.objects.filter(order=big).update(attendee_name="张三")
    counts = []
    for order in (small, big):
        api = api_for(order.event.publisher)
        with CaptureQueriesContext(connection) as queries:
            assert api.get(tickets_url(order)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_only_the_events_door_staff_read_its_ticket_list_and_others_get_404():
    order = doors_open(paid_order(UserFactory(), seats=1))
    staff = UserFactory()
    EventStaff.objects.create(event=order.event, user=staff)
    url = tickets_url(order)
    assert api_for(staff).get(url).status_code == 200
    assert api_for(UserFactory(role=Role.ADMIN)).get(url).status_code == 200
    assert api_for(order.user).get(url).status_code == 404  # the buyer
    assert api_for(UserFactory(role=Role.PUBLISHER)).get(url).status_code == 404  # another publisher
    assert APIClient().get(url).status_code == 401
    elsewhere = paid_order(UserFactory(), seats=1)
    assert api_for(order.event.publisher).get(tickets_url(order, elsewhere.tickets.get().session_id)).status_code == 404


# --- sync ------------------------------------------------------------------------------------


def test_a_synced_offline_admission_is_checked_in_at_the_devices_time_and_the_same_batch_again_changes_nothing():
    order = doors_open(paid_order(UserFactory(), seats=2))
    first, second = order.tickets.order_by("pk")
    staff = order.event.publisher
    batch = [offline_scan(first, ago=timedelta(minutes=10)),
             offline_scan(second.short_code, ago=timedelta(minutes=8)),
             offline_scan(first, local_result=ScanResult.ALREADY_USED, ago=timedelta(minutes=7))]

    answer = sync(staff, order, *batch)
    assert answer.status_code == 200
    results = [(s["result"], s["admitted"], s["conflict"]) for s in answer.json()["scans"]]
    assert results == [(ScanResult.OK, True, False), (ScanResult.OK, True, False),
                       (ScanResult.ALREADY_USED, False, False)]
    checkin = CheckIn.objects.get(ticket=first)
    assert abs(checkin.at - (timezone.now() - timedelta(minutes=10))) < timedelta(seconds=30)
    assert (checkin.gate, checkin.device, checkin.offline) == ("North gate", "D-AAAAAA", True)
    scan = Scan.objects.get(nonce=batch[0]["nonce"])
    assert scan.scanned_at == checkin.at and scan.local_result == ScanResult.OK
    assert Order.objects.get(pk=order.pk).status == "used"

    again = sync(staff, order, *batch)
    assert again.json()["scans"] == answer.json()["scans"]
    assert Scan.objects.count() == 3 and CheckIn.objects.count() == 2 and not CheckinConflict.objects.exists()


def test_a_ticket_admitted_offline_at_two_gates_is_a_conflict_with_who_where_and_when():
    order = doors_open(paid_order(UserFactory(), seats=1))
    ticket = order.tickets.get()
    north, south = UserFactory(display_name="北门小李"), UserFactory(display_name="南门小王")
    for staff in (north, south):
        EventStaff.objects.create(event=order.event, user=staff)
    sync(north, order, offline_scan(ticket, gate="North gate", device="D-NORTH1", ago=timedelta(minutes=9)))

    answer = sync(south, order, offline_scan(ticket, gate="South gate", device="D-SOUTH1", ago=timedelta(minutes=6)))

    scan = answer.json()["scans"][0]
    assert (scan["result"], scan["admitted"], scan["conflict"]) == (ScanResult.CONFLICT, False, True)
    assert "北门小李" in scan["message"] and "North gate" in scan["message"]
    conflict = CheckinConflict.objects.get()
    assert (conflict.kind, conflict.reason, conflict.ticket) == (ConflictKind.TWICE, ScanResult.ALREADY_USED, ticket)
    assert (conflict.checkin.by, conflict.checkin.gate, conflict.checkin.device) == (north, "North gate", "D-NORTH1")
    assert (conflict.scan.by, conflict.scan.gate, conflict.scan.device) == (south, "South gate", "D-SOUTH1")
    assert CheckIn.objects.count() == 1

    client = Client()
    client.force_login(order.event.publisher)
    page = client.get(f"/checkin/{order.event_id}/conflicts/").content.decode()
    assert "北门小李" in page and "南门小王" in page and "South gate" in page and "D-NORTH1" in page
    stranger = Client()
    stranger.force_login(UserFactory())
    assert stranger.get(f"/checkin/{order.event_id}/conflicts/").status_code == 403


def test_an_offline_admission_of_a_ticket_refunded_since_the_download_is_reported_not_admitted():
    order = doors_open(paid_order(UserFactory(), seats=1))
    ticket = order.tickets.get()
    Ticket.objects.filter(pk=ticket.pk).update(status=TicketStatus.VOID, seat_claim=None)

    scan = sync(order.event.publisher, order, offline_scan(ticket)).json()["scans"][0]

    assert (scan["result"], scan["conflict"]) == (ScanResult.CONFLICT, True)
    conflict = CheckinConflict.objects.get()
    assert (conflict.kind, conflict.reason, conflict.checkin) == (ConflictKind.REFUSED, ScanResult.VOID, None)
    assert not CheckIn.objects.exists()


def test_an_offline_admission_is_judged_at_the_time_of_the_scan_not_of_the_sync():
    order = doors_open(paid_order(UserFactory(), seats=2))
    early, refused = order.tickets.order_by("pk")
    # Scanned two days before the session: not its day, whatever the device's answer.
    too_early = sync(order.event.publisher, order, offline_scan(early, ago=timedelta(days=2))).json()["scans"][0]
    assert too_early["result"] == ScanResult.CONFLICT
    assert CheckinConflict.objects.get().reason == ScanResult.WRONG_DAY
    # A refusal on the device stays a refusal: nothing is admitted after the fact.
    kept = sync(order.event.publisher, order,
                offline_scan(refused, local_result=ScanResult.WRONG_DAY)).json()["scans"][0]
    assert (kept["result"], kept["admitted"]) == (ScanResult.WRONG_DAY, False)
    assert not CheckIn.objects.exists()


def test_a_forged_code_sent_as_admitted_is_recorded_as_forged():
    order = doors_open(paid_order(UserFactory(), seats=1))
    forged = order.tickets.get().code[:-4] + "AAAA"
    scan = sync(order.event.publisher, order, offline_scan(forged)).json()["scans"][0]
    assert (scan["result"], scan["conflict"]) == (ScanResult.FORGED, False)
    assert not CheckIn.objects.exists() and not CheckinConflict.objects.exists()


def test_a_scan_dated_in_the_future_is_refused_with_a_clear_message_and_the_batch_records_nothing():
    order = doors_open(paid_order(UserFactory(), seats=2))
    first, second = order.tickets.all()
    answer = api_for(order.event.publisher).post("/api/checkin/sync", {"event": order.event_id, "scans": [
        offline_scan(first), offline_scan(second, ago=-timedelta(hours=1))]}, format="json",
        HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 400
    assert "cannot have been made in the future" in str(answer.json())
    assert not Scan.objects.exists() and not CheckIn.objects.exists()


@pytest.mark.parametrize("who", ["buyer", "other publisher"])
def test_only_the_events_door_staff_may_sync_and_others_get_404_changing_nothing(who):
    order = doors_open(paid_order(UserFactory(), seats=1))
    caller = order.user if who == "buyer" else UserFactory(role=Role.PUBLISHER)
    answer = sync(caller, order, offline_scan(order.tickets.get()))
    assert answer.status_code == 404
    assert not Scan.objects.exists() and not CheckIn.objects.exists()


def test_an_online_admission_from_another_gate_before_the_sync_makes_the_offline_one_a_conflict():
    order = doors_open(paid_order(UserFactory(), seats=1))
    ticket = order.tickets.get()
    staff = UserFactory()
    EventStaff.objects.create(event=order.event, user=staff)
    services.checkin_scan(staff=order.event.publisher, event=order.event, code=ticket.code, nonce="online",
                          gate="VIP gate")
    scan = sync(staff, order, offline_scan(ticket, gate="Side gate")).json()["scans"][0]
    assert scan["result"] == ScanResult.CONFLICT
    assert CheckinConflict.objects.get().checkin.gate == "VIP gate"


# --- the PWA's files ---------------------------------------------------------------------------


def test_the_service_worker_covers_the_door_and_names_assets_that_exist():
    client = Client()
    worker = client.get("/checkin/sw.js")
    assert worker.status_code == 200 and worker["Content-Type"].startswith("text/javascript")
    assert worker["Service-Worker-Allowed"] == "/checkin/"
    body = worker.content.decode()
    assert "/static/js/checkin.js" in body and "/static/vendor/jsqr-1.4.0/jsQR.js" in body
    assert "/static/js/checkin-offline.js" in body
    from django.contrib.staticfiles import finders

    for path in ("js/checkin.js", "js/checkin-offline.js", "img/checkin-192.png", "img/checkin-512.png"):
        assert finders.find(path), path


def test_the_manifest_makes_the_door_an_installable_app_in_the_visitors_language():
    manifest = Client().get("/checkin/manifest.webmanifest", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert manifest["Content-Type"] == "application/manifest+json"
    body = manifest.json()
    assert body["start_url"] == "/checkin/" and body["scope"] == "/checkin/" and body["display"] == "standalone"
    assert {icon["sizes"] for icon in body["icons"]} == {"192x192", "512x512"}
    assert body["lang"] == "zh-hans" and body["name"]
