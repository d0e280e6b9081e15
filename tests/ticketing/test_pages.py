"""Base pages, error pages, language choice, health report and the API schema."""

import pytest

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db  # the home page reads the catalogue


def test_home_page_answers_in_chinese_for_a_chinese_browser(client):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert response.status_code == 200
    body = response.content.decode()
    assert '<html lang="zh-hans">' in body
    assert "选座" in body or "座位" in body


def test_home_page_answers_in_english_for_an_english_browser(client):
    body = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert '<html lang="en">' in body
    assert "book your seat" in body


def test_chinese_is_the_default_when_the_browser_says_nothing(client):
    assert '<html lang="zh-hans">' in client.get("/").content.decode()


def test_language_switch_sticks_for_later_pages(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"}, HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 302
    body = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert '<html lang="en">' in body
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert '<html lang="zh-hans">' in client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_unknown_page_gets_the_styled_404_in_the_users_language(client):
    response = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    assert "This page does not exist." in response.content.decode()
    response = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert "页面不存在" in response.content.decode()


def test_navigation_shows_administration_only_to_staff(client):
    customer = UserFactory(role="customer")
    client.force_login(customer)
    assert "/admin/" not in client.get("/").content.decode()
    admin = UserFactory(role="admin", is_staff=True, is_superuser=True)
    client.force_login(admin)
    assert "/admin/" in client.get("/").content.decode()


def test_healthz_reports_every_backing_service(client):
    report = client.get("/healthz").json()
    for name in ("database", "redis", "mongodb", "celery"):
        assert "ok" in report[name]
    assert report["database"]["ok"] and report["redis"]["ok"] and report["mongodb"]["ok"], report


def test_healthz_is_503_when_no_worker_is_alive(client, settings):
    settings.CELERY_HEARTBEAT_STALE_AFTER = -1  # every heartbeat, if any, counts as too old
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["celery"]["ok"] is False


def test_every_response_carries_a_request_id(client):
    response = client.get("/", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    assert client.get("/")["X-Request-ID"]


def test_api_schema_and_docs_are_served_locally(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "Ticketing API"
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert "drf_spectacular_sidecar/swagger-ui-dist" in docs.content.decode()
    assert "cdn" not in docs.content.decode().lower()


def test_healthz_is_503_while_beat_has_never_been_seen(client):
    from django.core.cache import cache

    from ticketing import heartbeat

    heartbeat.record_worker("worker@test")  # a live worker, but nothing schedules the sweeps
    cache.delete(heartbeat.BEAT_KEY)

    response = client.get("/healthz")

    celery = response.json()["celery"]
    assert response.status_code == 503
    assert celery["ok"] is False and "beat not seen yet" in celery["error"]
