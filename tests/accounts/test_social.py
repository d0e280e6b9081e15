"""Social login (Google, WeChat): a provider nobody configured does not exist for visitors."""

import pytest

pytestmark = pytest.mark.django_db

PROVIDER_URLS = ["/accounts/google/login/", "/accounts/google/login/callback/",
                 "/accounts/weixin/login/", "/accounts/weixin/login/callback/"]
BOTH_CONFIGURED = {
    "google": {"APPS": [{"client_id": "google-id", "secret": "google-secret"}], "SCOPE": ["profile", "email"]},
    "weixin": {"APPS": [{"client_id": "wx-app-id", "secret": "wx-secret"}], "SCOPE": ["snsapi_login"]},
}


@pytest.fixture(autouse=True)
def no_provider(settings):
    settings.SOCIALACCOUNT_PROVIDERS = {}


@pytest.mark.parametrize("url", PROVIDER_URLS)
def test_a_provider_that_is_not_configured_answers_404(client, url):
    assert client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").status_code == 404
    assert client.post(url, HTTP_ACCEPT_LANGUAGE="zh-hans").status_code == 404


def test_the_login_page_offers_no_provider_that_is_not_configured(client):
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "/accounts/google/login/" not in page and "/accounts/weixin/login/" not in page


def test_a_configured_provider_has_its_button_and_its_login_page(client, settings):
    settings.SOCIALACCOUNT_PROVIDERS = BOTH_CONFIGURED
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "/accounts/google/login/" in page and "/accounts/weixin/login/" in page
    assert ">微信</a>" in page and ">Google</a>" in page and "Weixin" not in page
    english = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert ">WeChat</a>" in english
    assert client.get("/accounts/google/login/").status_code == 200  # "continue with Google?" page
    assert client.get("/accounts/weixin/login/").status_code == 200


def test_configuring_one_provider_leaves_the_other_absent(client, settings):
    settings.SOCIALACCOUNT_PROVIDERS = {"google": BOTH_CONFIGURED["google"]}
    page = client.get("/accounts/login/").content.decode()
    assert "/accounts/google/login/" in page and "/accounts/weixin/login/" not in page
    assert client.get("/accounts/weixin/login/").status_code == 404
    assert client.get("/accounts/google/login/").status_code == 200
