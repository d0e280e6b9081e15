"""API hygiene: every answer under /api/ is JSON `{detail, code}` in the caller's language, input is bounded,
and the OpenAPI schema says what the endpoints really do (statuses, bodies, who needs a token)."""

import json
from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.serializers import RoleRefreshToken
from events.models import Event
from tests.events.factories import CategoryFactory
from tests.factories import UserFactory
from tests.tickets.factories import seat_ids, seated_session
from tickets.models import Session, TicketType

pytestmark = pytest.mark.django_db


def as_user(user=None, lang="en") -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE=lang)
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RoleRefreshToken.for_user(user).access_token}")
    return client


# --- unknown paths and wrong methods --------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/nothing-here", "/api/events/not-a-number", "/api/orders/1,2/cancel"])
def test_an_unknown_api_path_answers_a_json_404_in_the_callers_language(path):
    english = as_user().post(path)
    assert english.status_code == 404
    assert english["Content-Type"] == "application/json"
    assert english.json() == {"detail": "Not found.", "code": "not_found"}
    chinese = as_user(lang="zh-hans").get(path)
    assert chinese.status_code == 404
    assert chinese.json() == {"detail": "未找到。", "code": "not_found"}


def test_an_unknown_page_path_still_gets_the_html_404_page(client):
    response = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_wrong_method_answers_a_json_405_with_a_code_in_the_callers_language():
    response = as_user(lang="zh-hans").delete("/api/events/search")
    assert response.status_code == 405
    assert response.json() == {"detail": "方法 “DELETE” 不被允许。", "code": "method_not_allowed"}
    assert as_user().delete("/api/events/search").json()["detail"] == 'Method "DELETE" not allowed.'


def test_a_missing_token_answers_401_with_a_code():
    response = as_user().get("/api/user/profile")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_wrong_role_answers_403_with_a_code():
    response = as_user(UserFactory(role=Role.CUSTOMER)).get("/api/refunds")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_a_server_error_under_the_api_answers_json_500(client):
    from ticketing.errors import api_aware
    from ticketing.views import error_500

    request = RequestFactory().get("/api/anything", HTTP_ACCEPT_LANGUAGE="en")
    response = api_aware(error_500)(request)
    assert response.status_code == 500
    assert json.loads(response.content) == {"detail": "Something went wrong on our side; please try again later.",
                                            "code": "server_error"}
    assert api_aware(error_500)(RequestFactory().get("/events/"))["Content-Type"].startswith("text/html")


# --- bounded input ----------------------------------------------------------------------------
MEGABYTE = "票" * (1024 * 1024 // 3)  # 1 MB of UTF-8


@pytest.fixture
def publisher():
    return UserFactory(role=Role.PUBLISHER)


@pytest.fixture
def category():
    return CategoryFactory(slug="shows", name_zh="演出", name_en="Shows")


def event_body(category, **overrides) -> dict:
    start = timezone.now() + timedelta(days=30)
    body = {"title": "周杰伦 嘉年华", "start_time": start.isoformat(), "end_time": (start + timedelta(hours=3)).isoformat(),
            "venue": "国家体育场", "city": "北京", "category": category.pk}
    return {**body, **overrides}


def test_a_megabyte_of_description_is_refused_by_the_api_and_nothing_is_saved(publisher, category):
    response = as_user(publisher, lang="zh-hans").post(
        "/api/events/create", event_body(category, description=MEGABYTE), format="json")
    assert response.status_code == 400
    assert response.json() == {"description": ["请确保这个字段不能超过 20000 个字符。"]}
    assert not Event.objects.exists()


@pytest.mark.parametrize("field", ["start_time", "end_time"])
def test_a_time_in_the_year_1_is_refused_by_the_api_and_nothing_is_saved(publisher, category, field):
    response = as_user(publisher).post("/api/events/create", event_body(category, **{field: "0001-01-01T19:30:00+08:00"}),
                                       format="json")
    assert response.status_code == 400
    assert "Enter a time between 2000-01-01 and" in response.json()[field][0]
    assert not Event.objects.exists()


def test_a_time_more_than_five_years_ahead_is_refused_in_the_callers_language(publisher, category):
    start = timezone.now() + timedelta(days=6 * 365)
    response = as_user(publisher, lang="zh-hans").post(
        "/api/events/create", event_body(category, start_time=start.isoformat(),
                                         end_time=(start + timedelta(hours=2)).isoformat()), format="json")
    assert response.status_code == 400
    assert response.json()["start_time"][0].startswith("请输入 2000-01-01 至 ")
    assert not Event.objects.exists()


def test_an_edit_with_a_megabyte_of_description_changes_nothing(publisher, category):
    api = as_user(publisher)
    event_id = api.post("/api/events/create", event_body(category, description="短介绍"), format="json").json()["id"]
    response = api.patch(f"/api/events/{event_id}", {"description": MEGABYTE}, format="json")
    assert response.status_code == 400
    assert Event.objects.get().description == "短介绍"


def page_form(category, **overrides) -> dict:
    start = timezone.localtime() + timedelta(days=20)
    data = {"title": "Blue Note 爵士之夜", "category": category.pk, "start_time": start.strftime("%Y-%m-%dT19:30"),
            "end_time": start.strftime("%Y-%m-%dT22:00"), "city": "上海", "venue": "Blue Note Shanghai",
            "description": "今晚爵士", "tags": "jazz"}
    return {**data, **overrides}


@pytest.mark.parametrize(("overrides", "chinese"), [
    ({"description": MEGABYTE}, "20000"),
    ({"start_time": "0001-01-01T19:30"}, "请输入 2000-01-01 至 "),
    ({"end_time": "9999-12-31T22:00"}, "请输入 2000-01-01 至 "),
])
def test_the_publisher_form_refuses_unbounded_input_with_a_message_and_saves_nothing(
        client, publisher, category, overrides, chinese):
    client.force_login(publisher)
    response = client.post("/publisher/events/new/", page_form(category, **overrides), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    assert chinese in response.content.decode()
    assert not Event.objects.exists()


def test_a_session_whose_sales_open_in_the_year_1_is_refused(publisher, category):
    event_id = as_user(publisher).post("/api/events/create", event_body(category), format="json").json()["id"]
    event = Event.objects.get(pk=event_id)
    body = {"event": event_id, "start_time": event.start_time.isoformat(), "end_time": event.end_time.isoformat(),
            "sales_start": "0001-01-01T00:00:00Z", "sales_end": event.start_time.isoformat()}
    response = as_user(publisher).post("/api/tickets/sessions/create", body, format="json")
    assert response.status_code == 400
    assert "sales_start" in response.json()
    assert not Session.objects.exists()


def test_a_ticket_price_above_a_million_is_refused(publisher, category):
    event_id = as_user(publisher).post("/api/events/create", event_body(category), format="json").json()["id"]
    response = as_user(publisher).post("/api/tickets/types/create",
                                       {"event": event_id, "name": "VIP", "base_price": "1000000.01"}, format="json")
    assert response.status_code == 400
    assert "base_price" in response.json()
    assert not TicketType.objects.exists()


def test_an_admin_top_up_above_a_million_points_is_refused():
    admin, buyer = UserFactory(role=Role.ADMIN), UserFactory(role=Role.CUSTOMER)
    response = as_user(admin).post(f"/api/wallets/{buyer.pk}/adjust", {"amount": "99999999.00", "reason": "test"},
                                   format="json")
    assert response.status_code == 400
    assert "amount" in response.json()


# --- the schema says what the endpoints do ------------------------------------------------------
@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/api/events/search"), ("get", "/api/events/{event_id}"), ("get", "/api/tickets/{event_id}/stock"),
    ("get", "/api/tickets/sessions/{session_id}/seatmap"), ("get", "/api/categories"),
    ("post", "/api/auth/register"), ("post", "/api/auth/login"), ("post", "/api/auth/refresh"),
    ("post", "/api/payments/callback/{provider}"),
])
def test_endpoints_anyone_may_call_declare_no_security_so_swagger_shows_no_lock(schema, method, path):
    assert schema["paths"][path][method].get("security", []) == []


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/api/user/profile"), ("post", "/api/orders/create"), ("put", "/api/events/{event_id}/approve"),
])
def test_endpoints_that_need_a_token_declare_it(schema, method, path):
    assert {"jwtAuth": []} in schema["paths"][path][method]["security"]


def test_every_error_status_documents_the_json_error_body(schema):
    error = {"$ref": "#/components/schemas/Error"}
    assert set(schema["components"]["schemas"]["Error"]["required"]) == {"detail", "code"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith("4") and status != "414":  # gunicorn's, before the app
                    body = response["content"]["application/json"]["schema"]
                    assert body == error or error in body.get("anyOf", []), (method, path, status)


@pytest.mark.parametrize(("method", "path", "statuses"), [
    ("get", "/api/user/profile", {"401"}),
    ("get", "/api/refunds", {"401", "403"}),
    ("post", "/api/tickets/holds", {"400", "401", "403", "404", "409", "429"}),
    ("get", "/api/events/search", {"400", "404", "414"}),  # bad filters; a page past the last; a huge query
    ("delete", "/api/tickets/lock/{seat_id}", {"400", "404", "429"}),
])
def test_the_statuses_an_endpoint_can_answer_are_documented(schema, method, path, statuses):
    assert statuses <= set(schema["paths"][path][method]["responses"])


def test_a_ledger_entry_of_no_order_is_documented_with_a_null_order_number(schema):
    assert schema["components"]["schemas"]["LedgerEntry"]["properties"]["order_number"]["nullable"] is True
    wallet = as_user(UserFactory()).get("/api/wallet").json()
    assert wallet["entries"] and wallet["entries"][0]["order_number"] is None  # the welcome grant


def test_a_seat_is_released_with_the_session_in_the_query_string():
    session, _types = seated_session()
    seat = seat_ids(session)[0]
    api = as_user(UserFactory())
    assert api.put(f"/api/tickets/lock/{seat}", {"session": session.pk}, format="json").status_code == 201
    assert api.delete(f"/api/tickets/lock/{seat}?session={session.pk}").status_code == 204
    assert api.delete(f"/api/tickets/lock/{seat}").json() == {"session": ["This field is required."]}


def test_the_schema_builds_without_a_warning(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))  # exits 1 on a warning
