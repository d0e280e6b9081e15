"""The door and the day: a ticket for a session on another day is refused with its date, an admin may admit
it anyway (recorded), and /checkin/ lists today's events first with a search, for those who may scan them."""

import re
import uuid
from datetime import date, datetime, time, timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone, translation
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.serializers import RoleRefreshToken
from orders import services
from orders.models import CheckIn, EventStaff, Order, OrderStatus, Scan, ScanResult, Ticket, TicketStatus
from tests.events.factories import ApprovedEventFactory
from tests.factories import UserFactory
from tests.orders.flows import doors_open, move_sessions, paid_order
from tickets.models import Session

pytestmark = pytest.mark.django_db


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def scan(staff, order: Order, *, override: bool = False, ticket: Ticket | None = None) -> services.ScanOutcome:
    ticket = ticket or order.tickets.first()
    return services.checkin_scan(staff=staff, event=order.event, code=ticket.code, nonce=uuid.uuid4().hex,
                                 override=override)


def evening_next_week(order: Order) -> date:
    """Moves the order's sessions to 19:30 a week from today (local), and gives that day."""
    day = timezone.localdate() + timedelta(days=7)
    move_sessions(order, start=local(day, 19, 30))
    return day


def zh_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日 19:30"


def message_in(language: str, outcome: services.ScanOutcome) -> str:
    with translation.override(language):
        return outcome.message


CHRISTMAS_EVE = date(2026, 12, 24)


@pytest.fixture
def christmas_eve_order():
    """A paid order of two seats for the session of 24 December 2026, 19:30 to 22:30 (Asia/Shanghai)."""
    order = paid_order(UserFactory(), seats=2)
    move_sessions(order, start=local(CHRISTMAS_EVE, 19, 30))
    return order


# --- the service -----------------------------------------------------------------------------


def test_a_ticket_for_a_session_on_another_day_is_refused_with_the_sessions_date(christmas_eve_order):
    order = christmas_eve_order
    with time_machine.travel(local(date(2026, 12, 20), 19, 0), tick=False):
        outcome = scan(order.event.publisher, order)

    assert not outcome.admitted and outcome.scan.result == ScanResult.WRONG_DAY
    assert message_in("zh-hans", outcome) == "拒绝入场：此票为 2026年12月24日 19:30 场次，不是今天的场次。"
    assert message_in("en", outcome) == "Refused: this ticket is for the session of Dec. 24, 2026, 7:30 p.m., " \
                                        "not today's."
    assert Scan.objects.get().result == ScanResult.WRONG_DAY
    assert not CheckIn.objects.exists()
    assert not order.tickets.exclude(status=TicketStatus.VALID).exists()


def test_the_same_ticket_is_admitted_on_its_own_day_even_in_the_morning(christmas_eve_order):
    order = christmas_eve_order
    with time_machine.travel(local(date(2026, 12, 20), 19, 0), tick=False):
        assert scan(order.event.publisher, order).scan.result == ScanResult.WRONG_DAY
    with time_machine.travel(local(CHRISTMAS_EVE, 9, 0), tick=False):
        outcome = scan(order.event.publisher, order)

    assert outcome.admitted and outcome.message == "Admitted."
    assert CheckIn.objects.get().overridden_by is None and Scan.objects.filter(override_of="").count() == 2


def test_a_session_starting_at_half_past_eleven_admits_after_midnight_until_it_ends():
    order = paid_order(UserFactory(), seats=2)
    move_sessions(order, start=local(CHRISTMAS_EVE, 23, 30), hours=2)
    first, second = order.tickets.all()

    with time_machine.travel(local(date(2026, 12, 25), 0, 45), tick=False):
        after_midnight = scan(order.event.publisher, order, ticket=first)
    with time_machine.travel(local(date(2026, 12, 25), 1, 45), tick=False):
        after_the_end = scan(order.event.publisher, order, ticket=second)

    assert after_midnight.admitted
    assert after_the_end.scan.result == ScanResult.SESSION_OVER
    assert message_in("zh-hans", after_the_end) == "拒绝入场：此票为 2026年12月24日 23:30 场次，该场次已结束。"
    assert CheckIn.objects.get().ticket == first


def test_doors_open_a_few_hours_before_a_session_just_after_midnight_but_not_earlier():
    order = paid_order(UserFactory(), seats=2)
    move_sessions(order, start=local(date(2026, 12, 25), 0, 30))
    first, second = order.tickets.all()

    with time_machine.travel(local(CHRISTMAS_EVE, 19, 0), tick=False):
        too_early = scan(order.event.publisher, order, ticket=first)
    with time_machine.travel(local(CHRISTMAS_EVE, 21, 30), tick=False):
        doors_open_early = scan(order.event.publisher, order, ticket=second)

    assert too_early.scan.result == ScanResult.WRONG_DAY
    assert "2026年12月25日 00:30" in message_in("zh-hans", too_early)
    assert doors_open_early.admitted


def test_an_admins_override_admits_another_days_ticket_and_records_who_and_when(christmas_eve_order):
    order = christmas_eve_order
    admin = UserFactory(role=Role.ADMIN, display_name="值班经理")
    moment = local(date(2026, 12, 23), 20, 15)
    with time_machine.travel(moment, tick=False):
        refused = scan(admin, order)
        overridden = services.checkin_scan(staff=admin, event=order.event, code=refused.scan.code,
                                           nonce="override-1", override=True)
        resent = services.checkin_scan(staff=admin, event=order.event, code=refused.scan.code,
                                       nonce="override-1", override=True)

    assert refused.scan.result == ScanResult.WRONG_DAY and refused.overridable_by(admin)
    assert overridden.admitted and overridden.scan.override_of == ScanResult.WRONG_DAY
    assert resent.scan.pk == overridden.scan.pk  # a re-sent override is the same scan
    assert message_in("zh-hans", overridden) == "管理员特批入场：此票为 2026年12月24日 19:30 场次。"
    checkin = CheckIn.objects.get()
    assert (checkin.by, checkin.overridden_by, checkin.at) == (admin, admin, moment)
    assert Ticket.objects.get(pk=checkin.ticket_id).status == TicketStatus.USED
    assert list(Scan.objects.order_by("pk").values_list("result", "override_of")) == [
        (ScanResult.WRONG_DAY, ""), (ScanResult.OK, ScanResult.WRONG_DAY)]


def test_an_override_still_admits_a_ticket_once_and_never_a_void_one(christmas_eve_order):
    order = christmas_eve_order
    admin = UserFactory(role=Role.ADMIN)
    first, second = order.tickets.all()
    Ticket.objects.filter(pk=second.pk).update(status=TicketStatus.VOID, seat_claim=None)
    with time_machine.travel(local(date(2026, 12, 23), 20, 0), tick=False):
        admitted = scan(admin, order, ticket=first, override=True)
        again = scan(admin, order, ticket=first, override=True)
        void = scan(admin, order, ticket=second, override=True)

    assert admitted.admitted and again.scan.result == ScanResult.ALREADY_USED
    assert void.scan.result == ScanResult.VOID and not void.overridable_by(admin)
    assert CheckIn.objects.count() == 1


def test_an_override_of_a_ticket_for_today_is_a_plain_admission():
    order = doors_open(paid_order(UserFactory(), seats=1))
    outcome = scan(UserFactory(role=Role.ADMIN), order, override=True)
    assert outcome.admitted and outcome.scan.override_of == "" and CheckIn.objects.get().overridden_by is None


@pytest.mark.parametrize("who", ["publisher", "door staff"])
def test_the_publisher_and_its_door_staff_cannot_override(christmas_eve_order, who):
    order = christmas_eve_order
    staff = order.event.publisher if who == "publisher" else UserFactory()
    EventStaff.objects.get_or_create(event=order.event, user=staff)
    with time_machine.travel(local(date(2026, 12, 23), 20, 0), tick=False):
        refused = scan(staff, order)
        with pytest.raises(services.OverrideNotAllowed) as error:
            scan(staff, order, override=True)

    assert refused.scan.result == ScanResult.WRONG_DAY and not refused.overridable_by(staff)
    assert error.value.status_code == 403 and error.value.code == "override_not_allowed"
    assert Scan.objects.count() == 1 and not CheckIn.objects.exists()
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID


# --- the API ---------------------------------------------------------------------------------


def api_for(user, language: str = "en") -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RoleRefreshToken.for_user(user).access_token}")
    return client


def post_scan(client: APIClient, order: Order, *, override: bool | None = None, nonce: str | None = None):
    body = {"event": order.event.pk, "code": order.tickets.first().code, "nonce": nonce or uuid.uuid4().hex}
    if override is not None:
        body["override"] = override
    return client.post("/api/checkin", body, format="json")


@pytest.mark.parametrize(("language", "detail"), [
    ("zh-hans", "只有管理员可以让非本场次当天的票入场。"),
    ("en", "Only an administrator may admit a ticket outside its session's day."),
])
def test_the_api_refuses_another_days_ticket_with_its_date_and_only_an_admin_overrides(language, detail):
    order = paid_order(UserFactory(), seats=1)
    day = evening_next_week(order)
    door = api_for(order.event.publisher, language)

    refused = post_scan(door, order)
    forbidden = post_scan(door, order, override=True)
    overridden = post_scan(api_for(UserFactory(role=Role.ADMIN), language), order, override=True)

    assert refused.status_code == 200
    body = refused.json()
    assert (body["result"], body["admitted"], body["overridable"]) == ("wrong_day", False, False)
    if language == "zh-hans":
        assert body["message"] == f"拒绝入场：此票为 {zh_date(day)} 场次，不是今天的场次。"
    else:
        assert body["message"].startswith("Refused: this ticket is for the session of ")
        assert body["message"].endswith(f"{day.year}, 7:30 p.m., not today's.")
    assert forbidden.status_code == 403
    assert forbidden.json() == {"detail": detail, "code": "override_not_allowed"}
    assert overridden.status_code == 200
    assert (overridden.json()["result"], overridden.json()["override_of"]) == ("ok", "wrong_day")
    assert CheckIn.objects.get().overridden_by.role == Role.ADMIN


def test_an_admin_scanning_over_the_api_is_told_the_refusal_may_be_overridden():
    order = paid_order(UserFactory(), seats=1)
    evening_next_week(order)
    body = post_scan(api_for(UserFactory(role=Role.ADMIN)), order).json()
    assert (body["result"], body["overridable"], body["override_of"]) == ("wrong_day", True, "")
    assert not CheckIn.objects.exists()


@pytest.mark.parametrize(("language", "detail"), [
    ("zh-hans", "你负责检票的活动中没有此活动。"), ("en", "No such event among those you check in.")])
def test_a_customer_cannot_scan_or_override_over_the_api(language, detail):
    order = paid_order(UserFactory(), seats=1)
    evening_next_week(order)
    customer = api_for(UserFactory(), language)

    for override in (False, True):
        response = post_scan(customer, order, override=override)
        assert response.status_code == 404
        assert response.json() == {"detail": detail, "code": "not_found"}
    assert not Scan.objects.exists() and not CheckIn.objects.exists()


def test_an_override_flag_that_is_not_a_boolean_is_a_400():
    order = paid_order(UserFactory(), seats=1)
    response = post_scan(api_for(UserFactory(role=Role.ADMIN)), order, override="perhaps")
    assert response.status_code == 400 and "override" in response.json()
    assert not Scan.objects.exists()


# --- the door page ---------------------------------------------------------------------------


def browser(user, language: str = "zh-hans") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def text(response) -> str:
    return response.content.decode()


def hidden(page: str, name: str, within: str = "") -> str:
    part = page.split(within, 1)[1] if within else page
    return re.search(rf'name="{name}" value="([^"]*)"', part).group(1)


def door_post(client: Client, order: Order, **extra) -> str:
    page = text(client.get(f"/checkin/{order.event.pk}/"))
    return text(client.post(f"/checkin/{order.event.pk}/", {
        "code": order.tickets.first().code, "nonce": hidden(page, "nonce"), **extra}))


def test_the_door_page_shows_the_refusal_with_the_date_and_an_admin_admits_it_with_one_button():
    order = paid_order(UserFactory(), seats=1)
    day = evening_next_week(order)
    admin = browser(UserFactory(role=Role.ADMIN))

    refused = door_post(admin, order)

    assert 'data-result="wrong_day"' in refused and "非今日场次" in refused
    assert f"此票为 {zh_date(day)} 场次，不是今天的场次" in refused
    assert 'data-testid="override-form"' in refused and "仍然放行（管理员特批）" in refused
    assert not CheckIn.objects.exists()

    form = refused.split('data-testid="override-form"', 1)[1]
    admitted = text(admin.post(f"/checkin/{order.event.pk}/", {
        "code": hidden(form, "code"), "nonce": hidden(form, "nonce"), "override": hidden(form, "override")}))

    assert 'data-result="ok"' in admitted and f"管理员特批入场：此票为 {zh_date(day)} 场次" in admitted
    assert 'data-testid="override-form"' not in admitted
    assert CheckIn.objects.get().overridden_by.role == Role.ADMIN


def test_the_publisher_sees_the_refusal_without_an_override_and_cannot_send_one():
    order = paid_order(UserFactory(), seats=1)
    evening_next_week(order)
    publisher = browser(order.event.publisher)

    refused = door_post(publisher, order)
    forced = publisher.post(f"/checkin/{order.event.pk}/", {
        "code": order.tickets.first().code, "nonce": "forced", "override": "1"})

    assert 'data-result="wrong_day"' in refused and 'data-testid="override-form"' not in refused
    assert forced.status_code == 403 and "只有管理员可以让非本场次当天的票入场" in text(forced)
    assert Scan.objects.count() == 1 and not CheckIn.objects.exists()


def test_a_customer_cannot_open_the_door_page_nor_override_there():
    order = paid_order(UserFactory(), seats=1)
    evening_next_week(order)
    customer = browser(UserFactory())

    assert customer.get(f"/checkin/{order.event.pk}/").status_code == 403
    response = customer.post(f"/checkin/{order.event.pk}/", {
        "code": order.tickets.first().code, "nonce": "n", "override": "1"})
    assert response.status_code == 403
    assert not Scan.objects.exists() and not CheckIn.objects.exists()


def test_the_door_page_in_english_names_the_date_of_another_days_session():
    order = paid_order(UserFactory(), seats=1)
    day = evening_next_week(order)
    page = door_post(browser(order.event.publisher, "en"), order)
    assert "Not today&#x27;s session" in page and f"{day.day}, {day.year}, 7:30 p.m., not today&#x27;s." in page


# --- /checkin/: today's events, search, pages ----------------------------------------------------


def event_with_session(publisher, *, title: str, start: datetime, venue: str = "梅赛德斯奔驰文化中心",
                       city: str = "上海", hours: int = 3):
    event = ApprovedEventFactory(publisher=publisher, title=title, venue=venue, city=city, start_time=start,
                                 end_time=start + timedelta(hours=hours))
    Session.objects.create(event=event, start_time=start, end_time=start + timedelta(hours=hours),
                           sales_start=start - timedelta(days=30), sales_end=start)
    return event


def titles(page: str) -> list[str]:
    return re.findall(r'data-testid="checkin-event">.*?<div class="fw-semibold">(?:<span[^>]*>[^<]*</span>)?([^<]+)<',
                      page, re.S)


def test_the_checkin_list_shows_todays_events_by_default_and_all_with_the_toggle_todays_first():
    publisher = UserFactory(role=Role.PUBLISHER)
    now = timezone.now()
    event_with_session(publisher, title="下周音乐会", start=now + timedelta(days=7))
    event_with_session(publisher, title="今晚话剧", start=now + timedelta(hours=1))
    event_with_session(publisher, title="明年展览", start=now + timedelta(days=300))
    event_with_session(publisher, title="昨天的演出", start=now - timedelta(days=1))  # over: never listed
    client = browser(publisher)

    today = text(client.get("/checkin/"))
    every = text(client.get("/checkin/?when=all"))

    assert titles(today) == ["今晚话剧"]
    assert 'data-testid="today-badge"' in today and 'aria-current="page" href="?when=today"' in today
    assert titles(every) == ["今晚话剧", "下周音乐会", "明年展览"]
    assert every.count('data-testid="today-badge"') == 1


def test_a_day_without_sessions_says_so_and_links_to_all_events():
    publisher = UserFactory(role=Role.PUBLISHER)
    event_with_session(publisher, title="下周音乐会", start=timezone.now() + timedelta(days=7))

    page = text(browser(publisher).get("/checkin/"))

    assert titles(page) == [] and "今天没有可检票的场次。" in page and 'href="?when=all"' in page


def test_the_checkin_list_searches_title_venue_and_city():
    publisher = UserFactory(role=Role.PUBLISHER)
    soon = timezone.now() + timedelta(hours=1)
    event_with_session(publisher, title="周杰伦演唱会", start=soon, venue="鸟巢", city="北京")
    event_with_session(publisher, title="Swan Lake", start=soon, venue="大剧院", city="上海")
    event_with_session(publisher, title="脱口秀", start=soon, venue="共舞台", city="Shenzhen")
    client = browser(publisher)

    assert titles(text(client.get("/checkin/?q=杰伦"))) == ["周杰伦演唱会"]
    assert titles(text(client.get("/checkin/?q=swan"))) == ["Swan Lake"]
    assert titles(text(client.get("/checkin/?q=鸟巢"))) == ["周杰伦演唱会"]
    assert titles(text(client.get("/checkin/?q=shenzhen&when=all"))) == ["脱口秀"]
    missing = text(client.get("/checkin/?q=没有这个"))
    assert titles(missing) == [] and "没有与“没有这个”匹配的活动。" in missing
    assert 'value="没有这个"' in missing


def test_the_checkin_list_comes_in_pages_that_keep_the_search_and_filter():
    publisher = UserFactory(role=Role.PUBLISHER)
    start = timezone.now() + timedelta(days=3)
    for n in range(21):
        event_with_session(publisher, title=f"巡演 {n:02d}", start=start + timedelta(minutes=n))
    client = browser(publisher)

    first = text(client.get("/checkin/?when=all&q=巡演"))
    second = text(client.get("/checkin/?when=all&q=巡演&page=2"))

    assert len(titles(first)) == 20 and titles(second) == ["巡演 20"]
    assert "1 / 2" in first and 'href="?when=all&amp;q=%E5%B7%A1%E6%BC%94&amp;page=2"' in first


def test_staff_see_only_the_events_they_may_scan():
    publisher = UserFactory(role=Role.PUBLISHER)
    soon = timezone.now() + timedelta(hours=1)
    staffed = event_with_session(publisher, title="我守的门", start=soon)
    event_with_session(publisher, title="别人的门", start=soon)
    event_with_session(UserFactory(role=Role.PUBLISHER), title="另一家的活动", start=soon)
    door = UserFactory()
    EventStaff.objects.create(event=staffed, user=door)
    stranger = UserFactory()

    assert titles(text(browser(door).get("/checkin/?when=all"))) == ["我守的门"]
    assert titles(text(browser(publisher).get("/checkin/?when=all"))) == ["我守的门", "别人的门"]
    assert len(titles(text(browser(UserFactory(role=Role.ADMIN)).get("/checkin/?when=all")))) == 3
    nothing = text(browser(stranger).get("/checkin/?when=all"))
    assert titles(nothing) == [] and "暂无可检票的活动" in nothing


def test_the_django_admin_shows_who_overrode_in_the_check_ins_and_the_scan_history():
    order = paid_order(UserFactory(), seats=1)
    evening_next_week(order)
    boss = UserFactory(role=Role.ADMIN, is_staff=True, is_superuser=True, username="boss")
    scan(boss, order, override=True)
    client = browser(boss, "en")

    checkins = text(client.get("/admin/orders/checkin/"))
    overridden_only = text(client.get("/admin/orders/checkin/?overridden_by__isempty=0"))
    scans = text(client.get("/admin/orders/scan/"))

    overridden = f'<td class="field-overridden_by nowrap">{boss}</td>'
    assert "Override by" in checkins and overridden in checkins and overridden in overridden_only
    assert '<td class="field-override_of">Not today&#x27;s session</td>' in scans
    checkin = CheckIn.objects.get()
    assert client.get(f"/admin/orders/checkin/{checkin.pk}/change/").status_code == 200
