"""Real-name limits: ID numbers checked (mainland check character, passports as text), kept masked and as a
keyed hash only; one live ticket per ID number per session, by the database, whoever pays first; saved
attendees (常用观演人) picked at checkout."""

import uuid

import pytest
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from orders import identity, services
from orders.identity import BadIdNumber
from orders.models import Attendee, OrderStatus, SavedAttendee, Ticket, Wallet
from tests.factories import UserFactory
from tests.helpers.processes import run_in_processes
from tests.orders.factories import held, mainland_id, paid_order, real_name_event
from tests.orders.flows import pending_order
from tests.tickets.factories import ga_session

pytestmark = pytest.mark.django_db

LI_LEI = "110101199001011237"  # a valid number: born 1990-01-01, check character 7


def key() -> str:
    return uuid.uuid4().hex


def real_name_session(**event_fields):
    session, _types = ga_session(event=real_name_event(**event_fields), stock={"Standard": 50})
    return session


def another_session(session):
    """A second session (another day) of the same event, selling the same ticket type."""
    from tickets import services as inventory

    return inventory.session_create(actor=session.event.publisher, event=session.event, start_time=session.start_time,
                                    end_time=session.end_time, sales_start=session.sales_start,
                                    sales_end=session.sales_end, stock={session.stocks.get().ticket_type_id: 5})


def named(buyer, session, *numbers: str, save: bool = False):
    """A pending order of len(numbers) tickets of `session`, each ticket naming one of `numbers`."""
    order = pending_order(buyer, ga=len(numbers), session=session)
    item = order.order_holds.get().hold.items.get()
    services.order_set_attendees(user=buyer, order=order, save=save, attendees=[
        (item.pk, index, f"观众{index}", number) for index, number in enumerate(numbers)])
    return order


# --- the numbers -----------------------------------------------------------------------------


def test_a_mainland_number_is_normalised_masked_and_hashed_never_kept():
    number = identity.parse(" 110101-19900101 1237 ")
    assert (number.number, number.mainland, number.masked) == (LI_LEI, True, "110***********1237")
    assert number.key == identity.parse(LI_LEI).key != identity.parse(mainland_id(5)).key
    assert LI_LEI not in number.key and len(number.key) == 40


@pytest.mark.parametrize("typed, says", [
    ("110101199001011234", "does not match the others"),      # a typo: the check character is 7
    ("110101199013011236", "real date of birth"),             # month 13
    ("11010119900101123", "18 characters"),                   # 17 digits
    ("！？", "passport number"),
])
def test_a_number_that_cannot_be_right_is_refused_saying_why(typed, says):
    with pytest.raises(BadIdNumber) as refused:
        identity.parse(typed)
    assert says in str(refused.value)


def test_a_passport_is_taken_as_text_whatever_its_spacing_or_case():
    assert identity.parse("e 1234-5678").number == "E12345678"
    assert identity.parse("E12345678").key == identity.parse("e1234 5678").key


# --- one ticket per ID number per session ----------------------------------------------------------


def test_one_order_cannot_name_the_same_id_twice_for_a_session():
    session = real_name_session()
    with pytest.raises(services.DomainError) as refused:
        named(UserFactory(), session, LI_LEI, "110101 19900101 1237")
    assert refused.value.code == "id_number_twice" and "110***********1237" in str(refused.value)
    assert not Attendee.objects.exists()


def test_an_id_that_holds_a_ticket_is_refused_for_that_session_but_not_for_another():
    session = real_name_session()
    first = named(UserFactory(), session, LI_LEI)
    services.order_pay(user=first.user, order_id=first.pk, idempotency_key=key())
    with pytest.raises(services.IdNumberTaken) as refused:
        named(UserFactory(), session, LI_LEI)
    assert "110***********1237" in str(refused.value)
    named(UserFactory(), another_session(session), LI_LEI)  # another day of the same show


def test_the_second_to_pay_for_the_same_id_is_refused_and_charged_nothing():
    session = real_name_session()
    first, second = named(UserFactory(), session, LI_LEI), named(UserFactory(), session, LI_LEI)
    services.order_pay(user=first.user, order_id=first.pk, idempotency_key=key())
    balance = services.wallet_ensure(user=second.user).balance

    with pytest.raises(services.IdNumberTaken):
        services.order_pay(user=second.user, order_id=second.pk, idempotency_key=key())

    second.refresh_from_db()
    assert second.status == OrderStatus.PENDING and not second.tickets.exists()
    assert Wallet.objects.get(user=second.user).balance == balance


def test_a_refunded_ticket_frees_its_id_number():
    session = real_name_session()
    order = named(UserFactory(), session, LI_LEI)
    services.order_pay(user=order.user, order_id=order.pk, idempotency_key=key())
    refund = services.refund_request(user=order.user, order_id=order.pk, reason="去不了了")
    services.refund_review(actor=UserFactory(role="admin"), refund_id=refund.pk, approve=True)
    assert Ticket.objects.get(order=order).id_claim is None

    again = named(UserFactory(), session, LI_LEI)
    services.order_pay(user=again.user, order_id=again.pk, idempotency_key=key())
    assert Ticket.objects.get(order=again).id_claim == identity.id_key(LI_LEI)


def test_an_event_that_allows_several_tickets_per_id_sells_them():
    session = real_name_session(one_ticket_per_id=False)
    for buyer in UserFactory.create_batch(2):
        order = named(buyer, session, LI_LEI)
        services.order_pay(user=buyer, order_id=order.pk, idempotency_key=key())
    assert Ticket.objects.filter(session=session, id_claim__isnull=True).count() == 2


def test_no_table_holds_the_id_number_in_clear():
    order = paid_order(UserFactory(), ga={"Standard": 1}, real_name=True)
    ticket = order.tickets.get()
    with connection.cursor() as cursor:
        for table in ("orders_ticket", "orders_attendee", "orders_savedattendee"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - our own table names
            assert not any("1101011990010" in str(value) for row in cursor.fetchall() for value in row), table
    assert ticket.attendee_id_masked.startswith("110*") and ticket.id_claim


def pay(user_id: int, order_id: int) -> str:
    from accounts.models import User
    from orders import services

    try:
        services.order_pay(user=User.objects.get(pk=user_id), order_id=order_id, idempotency_key=uuid.uuid4().hex)
    except services.DomainError as exc:
        return exc.code
    return "paid"


@pytest.mark.django_db(transaction=True)
def test_four_buyers_paying_for_the_same_id_at_the_same_instant_get_one_ticket():
    session = real_name_session()
    orders = [named(UserFactory(), session, LI_LEI) for _ in range(4)]
    balances = {o.user_id: services.wallet_ensure(user=o.user).balance for o in orders}

    results = run_in_processes(pay, [(o.user_id, o.pk) for o in orders])

    assert sorted(results) == ["id_number_taken"] * 3 + ["paid"]
    assert Ticket.objects.filter(session=session, id_claim=identity.id_key(LI_LEI)).count() == 1
    charged = [o.user_id for o in orders if Wallet.objects.get(user_id=o.user_id).balance != balances[o.user_id]]
    assert len(charged) == 1 and Ticket.objects.get(session=session).user_id == charged[0]


# --- saved attendees -------------------------------------------------------------------------------


def test_people_typed_at_checkout_can_be_saved_and_picked_next_time():
    buyer = UserFactory()
    session = real_name_session()
    named(buyer, session, LI_LEI, save=True)
    person = SavedAttendee.objects.get(user=buyer)
    assert (person.name, person.id_number_masked, person.id_key) == ("观众0", "110***********1237",
                                                                     identity.id_key(LI_LEI))

    later = pending_order(buyer, ga=1, session=another_session(session))
    item = later.order_holds.get().hold.items.get()
    services.order_set_attendees(user=buyer, order=later, attendees=[(item.pk, 0, "", "", person.pk)])
    attendee = later.attendees.get()
    assert (attendee.name, attendee.id_number_masked, attendee.id_key) == ("观众0", "110***********1237",
                                                                           person.id_key)


def test_nobody_picks_another_buyers_saved_attendee():
    stranger = services.saved_attendee_add(user=UserFactory(), name="韩梅梅", id_number=LI_LEI)
    buyer = UserFactory()
    hold = held(buyer, ga={"Standard": 1}, real_name=True)
    order = services.order_create(user=buyer, hold_ids=[hold.pk])
    item = hold.items.get()
    with pytest.raises(services.DomainError) as refused:
        services.order_set_attendees(user=buyer, order=order, attendees=[(item.pk, 0, "", "", stranger.pk)])
    assert refused.value.code == "bad_attendee" and not order.attendees.exists()


def test_a_buyer_keeps_at_most_twenty_and_the_same_number_again_renames():
    buyer = UserFactory()
    for n in range(services.MAX_SAVED_ATTENDEES):
        services.saved_attendee_add(user=buyer, name=f"人{n}", id_number=mainland_id(n))
    renamed = services.saved_attendee_add(user=buyer, name="新名字", id_number=mainland_id(0))
    assert renamed.name == "新名字" and SavedAttendee.objects.filter(user=buyer).count() == 20
    with pytest.raises(services.DomainError) as refused:
        services.saved_attendee_add(user=buyer, name="多一个", id_number=mainland_id(999))
    assert refused.value.code == "too_many_attendees"


def test_the_attendees_page_adds_shows_masked_and_removes(client):
    buyer = UserFactory(language="zh-hans")
    client.force_login(buyer)
    page = client.post(reverse("orders:people"), {"name": "李雷", "id_number": LI_LEI}, follow=True)
    html = page.content.decode()
    assert "李雷" in html and "110***********1237" in html and LI_LEI not in html
    bad = client.post(reverse("orders:people"), {"name": "李雷", "id_number": "110101199001011234"}, follow=True)
    assert "身份证号最后一位与前面的数字不符" in bad.content.decode()
    person = SavedAttendee.objects.get(user=buyer)
    client.post(reverse("orders:people"), {"remove": person.pk})
    assert not SavedAttendee.objects.exists()


def test_the_api_lists_adds_and_forgets_only_the_callers_own():
    buyer, other = UserFactory(), UserFactory()
    theirs = services.saved_attendee_add(user=other, name="韩梅梅", id_number=mainland_id(7))
    api = APIClient()
    api.force_authenticate(buyer)
    made = api.post("/api/attendees", {"name": "李雷", "id_number": LI_LEI}, format="json")
    assert made.status_code == 201 and made.json()["id_number_masked"] == "110***********1237"
    assert "id_key" not in made.json()
    assert [p["name"] for p in api.get("/api/attendees").json()] == ["李雷"]
    assert api.delete(f"/api/attendees/{theirs.pk}").status_code == 204
    assert SavedAttendee.objects.filter(pk=theirs.pk).exists()  # not theirs to forget
    bad = api.post("/api/attendees", {"name": "李雷", "id_number": "110101199001011234"}, format="json",
                   headers={"Accept-Language": "en"})
    assert bad.status_code == 400 and bad.json()["code"] == "bad_id_number"


def test_the_order_api_takes_a_saved_attendee_or_a_name_and_number():
    buyer = UserFactory()
    person = services.saved_attendee_add(user=buyer, name="李雷", id_number=LI_LEI)
    hold = held(buyer, ga={"Standard": 2}, real_name=True)
    order = services.order_create(user=buyer, hold_ids=[hold.pk])
    item = hold.items.get()
    api = APIClient()
    api.force_authenticate(buyer)
    missing = api.post(f"/api/orders/{order.pk}/attendees", {"attendees": [{"hold_item": item.pk, "index": 0}]},
                       format="json")
    assert missing.status_code == 400
    answer = api.post(f"/api/orders/{order.pk}/attendees", {"save": True, "attendees": [
        {"hold_item": item.pk, "index": 0, "saved": person.pk},
        {"hold_item": item.pk, "index": 1, "name": "韩梅梅", "id_number": "E12345678"}]}, format="json")
    assert answer.status_code == 200, answer.content
    assert sorted(order.attendees.values_list("name", flat=True)) == ["李雷", "韩梅梅"]
    assert SavedAttendee.objects.filter(user=buyer).count() == 2  # 韩梅梅 saved for next time
