"""A publisher's inventory pages: ticket types with tiers, the seat map builder, sessions."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from events.models import Event, EventStatus
from tests.events.factories import ApprovedEventFactory
from tests.factories import UserFactory
from tests.tickets.factories import ticket_types
from tickets import services
from tickets.forms import parse_row_types
from tickets.models import PriceTier, Seat, SeatMap, Session, SessionSeat, Stock, TicketType
from tickets.services import TierData

pytestmark = pytest.mark.django_db
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def publisher():
    return UserFactory(role=Role.PUBLISHER)


@pytest.fixture
def event(publisher):
    start = timezone.now().replace(second=0, microsecond=0) + timedelta(days=30)
    return ApprovedEventFactory(publisher=publisher, start_time=start, end_time=start + timedelta(hours=3))


@pytest.fixture
def types(event):
    return ticket_types(event, {"VIP": 880, "Standard": 380, "Student": 180})


@pytest.fixture
def owner(client, publisher):
    client.force_login(publisher)
    return client


def url(name: str, event: Event, **kwargs) -> str:
    return reverse(f"tickets:{name}", kwargs={"pk": event.pk, **kwargs})


def local(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


def pages(event, types) -> list[str]:
    return [url("manage", event), url("manage_ticket_type_create", event),
            url("manage_ticket_type_edit", event, type_pk=types["VIP"].pk), url("manage_seat_map_create", event),
            url("manage_session_create", event)]


def sections_data(*sections: dict, extra: int = 1) -> dict:
    data = {"sections-TOTAL_FORMS": str(len(sections) + extra), "sections-INITIAL_FORMS": "0"}
    for i, section in enumerate(sections):
        data.update({f"sections-{i}-{key}": value for key, value in section.items()})
    for i in range(len(sections), len(sections) + extra):
        data[f"sections-{i}-first_row"] = "A"  # a blank row as the page sends it
    return data


def builder_data(types, *sections, name="主厅", stage="舞台", **extra) -> dict:
    sections = sections or ({"name": "池座", "ticket_type": types["Standard"].pk, "rows": "3", "seats": "10",
                             "first_row": "A", "aisles": "5", "row_types": "A-B:vip"},)
    return {"name": name, "stage": stage, **sections_data(*sections), **extra}


def tier_rows(*rows: dict) -> dict:
    data = {"tiers-TOTAL_FORMS": "3", "tiers-INITIAL_FORMS": "0"}
    for i in range(3):
        row = rows[i] if i < len(rows) else {}
        data.update({f"tiers-{i}-{key}": row.get(key, "") for key in
                     ("kind", "label", "until", "sold_percent", "adjust_percent")})
    return data


# --- who may see what ---------------------------------------------------------------


def test_every_inventory_page_renders_for_the_events_publisher(owner, event, types):
    for page in pages(event, types):
        assert owner.get(page).status_code == 200, page


def test_another_publisher_finds_none_of_the_pages(client, event, types):
    client.force_login(UserFactory(role=Role.PUBLISHER))
    for page in pages(event, types):
        assert client.get(page).status_code == 404, page
    assert client.post(url("manage_seat_map_preview", event), builder_data(types)).status_code == 404
    assert client.post(url("manage_ticket_type_create", event), {"name": "Free"}).status_code == 404
    assert not TicketType.objects.filter(name="Free").exists()


@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.ADMIN])
def test_customers_and_admins_are_forbidden(client, event, types, role):
    client.force_login(UserFactory(role=role))
    for page in pages(event, types):
        assert client.get(page).status_code == 403, page


def test_an_anonymous_visitor_is_sent_to_log_in(client, event, types):
    for page in pages(event, types):
        response = client.get(page)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), page


def test_my_events_and_the_event_page_link_to_the_inventory(owner, event):
    assert url("manage", event) in owner.get("/publisher/events/").content.decode()
    assert url("manage", event) in owner.get(f"/events/{event.pk}/").content.decode()


# --- the overview -------------------------------------------------------------------


def test_the_manage_page_shows_types_with_tiers_in_words_maps_and_session_stock(owner, event, publisher):
    until = timezone.now() + timedelta(days=10)
    vip = services.ticket_type_create(
        actor=publisher, event=event, name="VIP", base_price=Decimal("100"), per_user_limit=4,
        tiers=[TierData(kind="time", until=until, adjust_percent=-20, label="Early bird"),
               TierData(kind="demand", sold_percent=80, adjust_percent=20)])
    layout = {"stage": "Stage", "sections": [{"name": "Stalls", "ticket_type": vip.pk, "rows": 2, "seats": 5}]}
    seat_map = services.seat_map_create(actor=publisher, event=event, name="Main hall", layout=layout)
    services.session_create(actor=publisher, event=event, hall="Hall 1", start_time=event.start_time,
                            end_time=event.end_time, sales_start=timezone.now() - timedelta(hours=1),
                            sales_end=event.start_time, seat_map=seat_map)
    page = owner.get(url("manage", event), **EN).content.decode()
    assert f"Early bird −20% until {timezone.localtime(until):%m-%d %H:%M}" in page
    assert "+20% once 80% sold" in page
    assert "Main hall" in page and "10 seats" in page and 'class="seatmap-svg"' in page
    assert "Hall 1" in page and "On sale" in page and "Reserved seating" in page
    assert "¥80.00" in page  # the early-bird price a hold gets now
    assert page.count('data-testid="stock-row"') == 1


def test_a_cancelled_events_inventory_is_read_only(owner, event, types):
    Event.objects.filter(pk=event.pk).update(status=EventStatus.CANCELLED)
    page = owner.get(url("manage", event), **EN).content.decode()
    assert "can no longer be changed" in page
    assert url("manage_ticket_type_create", event) not in page and url("manage_session_create", event) not in page
    assert owner.get(url("manage_ticket_type_create", event)).status_code == 409
    owner.post(url("manage_ticket_type_create", event), {"name": "Late", "base_price": "1", "per_user_limit": "1",
                                                         "colour": "#000000", **tier_rows()})
    assert not TicketType.objects.filter(name="Late").exists()


# --- ticket types -------------------------------------------------------------------


def test_the_ticket_type_form_creates_a_type_with_its_tiers_and_skips_empty_rows(owner, event):
    until = timezone.localtime() + timedelta(days=14)
    response = owner.post(url("manage_ticket_type_create", event), {
        "name": "Standard", "base_price": "380", "description": "Good seats", "per_user_limit": "6",
        "colour": "#198754", **tier_rows({"kind": "time", "label": "早鸟", "until": until.strftime("%Y-%m-%dT%H:%M"),
                                          "adjust_percent": "-20"},
                                         {"kind": "demand", "sold_percent": "80", "adjust_percent": "20"})})
    assert response.status_code == 302 and response["Location"] == url("manage", event)
    ticket_type = TicketType.objects.get(event=event)
    assert (ticket_type.name, ticket_type.base_price, ticket_type.colour) == ("Standard", Decimal("380"), "#198754")
    tiers = {t.kind: t for t in ticket_type.tiers.all()}
    assert len(tiers) == 2
    assert tiers["time"].label == "早鸟" and tiers["time"].until == until.replace(second=0, microsecond=0)
    assert (tiers["demand"].sold_percent, tiers["demand"].adjust_percent) == (80, 20)


def test_editing_a_ticket_type_changes_it_and_replaces_its_tiers(owner, event, publisher):
    vip = services.ticket_type_create(
        actor=publisher, event=event, name="VIP", base_price=Decimal("880"),
        tiers=[TierData(kind="demand", sold_percent=80, adjust_percent=20),
               TierData(kind="demand", sold_percent=95, adjust_percent=50)])
    form = owner.get(url("manage_ticket_type_edit", event, type_pk=vip.pk)).content.decode()
    assert 'value="880.00"' in form and 'value="95"' in form
    response = owner.post(url("manage_ticket_type_edit", event, type_pk=vip.pk), {
        "name": "VIP Gold", "base_price": "980", "per_user_limit": "2", "colour": "#c2185b",
        **tier_rows({"kind": "demand", "sold_percent": "90", "adjust_percent": "30"})})
    assert response.status_code == 302
    vip.refresh_from_db()
    assert (vip.name, vip.base_price, vip.per_user_limit) == ("VIP Gold", Decimal("980"), 2)
    assert list(vip.tiers.values_list("sold_percent", "adjust_percent")) == [(90, 30)]


def test_a_time_tier_without_its_date_is_explained_and_nothing_is_saved(owner, event):
    response = owner.post(url("manage_ticket_type_create", event), {
        "name": "Standard", "base_price": "380", "per_user_limit": "6", "colour": "#0d6efd",
        **tier_rows({"kind": "time", "adjust_percent": "-20"})}, **EN)
    assert response.status_code == 200
    assert "An early-bird tier needs the date it ends." in response.content.decode()
    assert not TicketType.objects.exists() and not PriceTier.objects.exists()


def test_a_second_type_with_the_same_name_is_refused_on_the_form(owner, event, types):
    response = owner.post(url("manage_ticket_type_create", event), {
        "name": "VIP", "base_price": "1", "per_user_limit": "6", "colour": "#0d6efd", **tier_rows()}, **EN)
    assert response.status_code == 200 and "already exists" in response.content.decode()
    assert TicketType.objects.filter(event=event, name="VIP").count() == 1


# --- seat maps ----------------------------------------------------------------------


def test_row_overrides_read_ranges_single_rows_and_chinese_punctuation():
    labels = ["A", "B", "C", "D"]
    assert parse_row_types("A-B:VIP, D：student", labels, {"vip": 1, "student": 2}) == {"A": 1, "B": 1, "D": 2}
    with pytest.raises(Exception) as problems:
        parse_row_types("C-A:VIP; B:Gold; nonsense", labels, {"vip": 1})
    assert len(problems.value.messages) == 3


def test_the_seat_map_builder_saves_sections_with_their_row_overrides(owner, event, types):
    data = builder_data(types, {"name": "池座", "ticket_type": types["Standard"].pk, "rows": "3", "seats": "10",
                                "first_row": "A", "aisles": "5", "row_types": "A-B:vip"},
                        {"name": "楼座", "ticket_type": types["Student"].pk, "rows": "2", "seats": "8",
                         "first_row": "1", "aisles": "", "row_types": ""}, save="1")
    response = owner.post(url("manage_seat_map_create", event), data)
    assert response.status_code == 302 and response["Location"] == url("manage", event)
    seat_map = SeatMap.objects.get(event=event)
    assert seat_map.name == "主厅" and seat_map.layout["stage"] == "舞台"
    assert seat_map.layout["sections"][0]["row_types"] == {"A": types["VIP"].pk, "B": types["VIP"].pk}
    assert seat_map.layout["sections"][0]["aisles"] == [5]
    seats = Seat.objects.filter(seat_map=seat_map)
    assert seats.count() == 46
    assert seats.filter(ticket_type=types["VIP"]).count() == 20
    assert seats.filter(section="楼座", row="2", ticket_type=types["Student"]).count() == 8


def test_a_bad_layout_shows_its_problems_and_creates_nothing(owner, event, types):
    data = builder_data(types, {"name": "Stalls", "ticket_type": types["Standard"].pk, "rows": "100", "seats": "20",
                                "first_row": "A", "aisles": "30", "row_types": ""},
                        {"name": "Balcony", "ticket_type": types["Student"].pk, "rows": "3", "seats": "10",
                         "first_row": "A", "aisles": "", "row_types": "E:VIP"}, save="1")
    response = owner.post(url("manage_seat_map_create", event), data, **EN)
    page = response.content.decode()
    assert response.status_code == 200
    assert "between 1 and 60 rows" in page
    assert "an aisle must come after a seat between 1 and 19" in page
    assert "Section Balcony has no row E." in page
    assert not SeatMap.objects.exists() and not Seat.objects.exists()


def test_unreadable_section_input_is_listed_in_the_preview(owner, event, types):
    data = builder_data(types, {"name": "Stalls", "ticket_type": types["Standard"].pk, "rows": "3", "seats": "10",
                                "first_row": "A", "aisles": "4, x", "row_types": "A:Gold"})
    page = owner.post(url("manage_seat_map_preview", event), data, HTTP_HX_REQUEST="true", **EN).content.decode()
    assert "Aisles are seat numbers separated by commas" in page
    assert "there is no ticket type called Gold" in page
    assert "<svg" not in page


def test_preview_draws_the_map_with_seats_per_type_and_saves_nothing(owner, event, types):
    htmx = owner.post(url("manage_seat_map_preview", event), builder_data(types), HTTP_HX_REQUEST="true", **EN)
    fragment = htmx.content.decode()
    assert htmx.status_code == 200 and "<html" not in fragment
    assert 'class="seatmap-svg"' in fragment and types["VIP"].colour in fragment
    assert "VIP: 20" in fragment and "Standard: 10" in fragment and "30 seats in all" in fragment

    plain = owner.post(url("manage_seat_map_create", event), builder_data(types, preview="1"), **EN)
    page = plain.content.decode()
    assert plain.status_code == 200 and "<html" in page and "30 seats in all" in page
    assert 'value="A-B:vip"' in page  # what was typed stays in the form
    assert not SeatMap.objects.exists()


def test_add_a_section_keeps_what_was_typed_and_adds_a_blank_section(owner, event, types):
    response = owner.post(url("manage_seat_map_create", event), builder_data(types, add_section="1"))
    page = response.content.decode()
    assert page.count('data-testid="section-row"') == 3
    assert 'value="池座"' in page and 'value="A-B:vip"' in page and 'value="主厅"' in page
    assert "This field is required" not in page and not SeatMap.objects.exists()


def test_the_builder_asks_for_a_ticket_type_first(owner, event):
    response = owner.get(url("manage_seat_map_create", event))
    assert response.status_code == 302 and response["Location"] == url("manage", event)


# --- sessions -----------------------------------------------------------------------


def session_data(event, **overrides) -> dict:
    data = {"name": "首场", "hall": "1号厅", "start_time": local(event.start_time), "end_time": local(event.end_time),
            "sales_start": local(timezone.now() - timedelta(hours=1)), "sales_end": local(event.start_time),
            "seating": "ga"}
    data.update(overrides)
    return data


def test_the_session_form_creates_a_general_admission_session_with_stock(owner, event, types):
    data = session_data(event, **{f"stock-type_{types['Standard'].pk}": "500", f"stock-type_{types['VIP'].pk}": "50",
                                  f"stock-type_{types['Student'].pk}": ""})
    response = owner.post(url("manage_session_create", event), data)
    assert response.status_code == 302
    session = Session.objects.get(event=event)
    assert (session.name, session.hall, session.seating) == ("首场", "1号厅", "ga")
    assert session.start_time == event.start_time and session.sales_open()
    stock = dict(Stock.objects.filter(session=session).values_list("ticket_type__name", "available"))
    assert stock == {"Standard": 500, "VIP": 50}
    assert "On sale" in owner.get(url("manage", event), **EN).content.decode()


def test_the_session_form_creates_a_seated_session_from_a_map(owner, event, types, publisher):
    layout = {"sections": [{"name": "A", "ticket_type": types["VIP"].pk, "rows": 2, "seats": 6}]}
    seat_map = services.seat_map_create(actor=publisher, event=event, name="Hall", layout=layout)
    form = owner.get(url("manage_session_create", event)).content.decode()
    assert f'value="{local(event.start_time)}"' in form  # prefilled with the event's times
    data = session_data(event, seating="seated", seat_map=str(seat_map.pk), **{f"stock-type_{types['VIP'].pk}": "9"})
    assert owner.post(url("manage_session_create", event), data).status_code == 302
    session = Session.objects.get(event=event)
    assert session.seat_map == seat_map and session.is_seated
    assert SessionSeat.objects.filter(session=session).count() == 12 and not Stock.objects.exists()


def test_a_seated_session_without_a_map_is_explained(owner, event, types):
    response = owner.post(url("manage_session_create", event), session_data(event, seating="seated"), **EN)
    assert "Choose the seat map this session is sold by." in response.content.decode()
    assert not Session.objects.exists()


def test_a_session_outside_the_events_dates_is_explained_and_not_created(owner, event, types):
    later = event.end_time + timedelta(days=1)
    data = session_data(event, end_time=local(later), **{f"stock-type_{types['VIP'].pk}": "10"})
    response = owner.post(url("manage_session_create", event), data, **EN)
    assert response.status_code == 200
    assert "A session takes place within the event&#x27;s dates" in response.content.decode()
    assert not Session.objects.exists()


# --- demo data ----------------------------------------------------------------------


def test_demo_seeding_is_idempotent_and_puts_sessions_on_sale(publisher):
    from events.demo import seed_events
    from tickets.demo import seed_tickets

    seed_events(publishers=[publisher, UserFactory(role=Role.PUBLISHER)], admin=UserFactory(role=Role.ADMIN),
                count=60)
    now = timezone.now()
    assert seed_tickets(Event.objects.all()) > 0
    counts = (TicketType.objects.count(), PriceTier.objects.count(), SeatMap.objects.count(), Session.objects.count(),
              Stock.objects.count(), SessionSeat.objects.count())
    assert seed_tickets(Event.objects.all()) == 0
    assert counts == (TicketType.objects.count(), PriceTier.objects.count(), SeatMap.objects.count(),
                      Session.objects.count(), Stock.objects.count(), SessionSeat.objects.count())

    assert {"VIP", "标准票"} <= set(TicketType.objects.values_list("name", flat=True))
    assert PriceTier.objects.filter(kind="time").exists() and PriceTier.objects.filter(kind="demand").exists()
    seat_map = SeatMap.objects.first()
    assert seat_map is not None and 150 <= seat_map.seats.count() <= 400 and len(seat_map.layout["sections"]) >= 2
    assert Session.objects.filter(seating="ga").count() > Session.objects.filter(seating="seated").count()
    upcoming = Event.objects.filter(status=EventStatus.APPROVED, start_time__gt=now)
    assert upcoming.exists()
    for event in upcoming:
        sessions = list(event.sessions.all())
        assert sessions and all(s.sales_open(now) for s in sessions), event
        assert all(event.start_time <= s.start_time < s.end_time <= event.end_time for s in sessions), event
        assert all(s.sales_end == s.start_time for s in sessions)

    buyer = UserFactory()
    seated = Session.objects.filter(seating="seated").select_related("event").first()
    hold = services.hold_create(user=buyer, session=seated, seat_ids=[seated.seat_map.seats.first().pk])
    assert hold.quantity == 1
