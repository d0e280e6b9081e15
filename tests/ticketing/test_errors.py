"""One domain-error pattern: the API answers JSON, pages show a message."""

import pytest
from django.http import HttpResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny

from ticketing import urls as site_urls
from ticketing.errors import Conflict, DomainError


class SoldOut(Conflict):
    code = "sold_out"
    default_message = _("Not found.")


def page_view(request):
    if request.method == "POST":
        raise SoldOut()
    return HttpResponse("form")


@api_view(["POST"])
@permission_classes([AllowAny])
def api_view_raising(request):
    raise DomainError(_("Not found."), code="custom")


def broken_view(request):
    raise RuntimeError("a bug")


urlpatterns = [
    path("broken/", broken_view),
    path("page/", page_view),
    path("api/thing/", api_view_raising),
    *site_urls.urlpatterns,
]

pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db]


def test_api_turns_a_domain_error_into_json_in_the_users_language(client):
    response = client.post("/api/thing/", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 400
    assert response.json() == {"detail": "未找到。", "code": "custom"}
    response = client.post("/api/thing/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.json() == {"detail": "Not found.", "code": "custom"}


def test_a_plain_form_post_gets_a_flash_message_and_goes_back(client):
    response = client.post("/page/", HTTP_REFERER="http://testserver/page/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    assert response["Location"] == "http://testserver/page/"


def test_an_htmx_post_gets_the_message_swapped_into_the_message_box(client):
    response = client.post("/page/", HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 409
    assert response["HX-Retarget"] == "#messages"
    assert "Not found." in response.content.decode()


def test_without_a_referer_the_error_page_shows_the_message(client):
    response = client.post("/page/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 409
    assert "Not found." in response.content.decode()


def test_an_unexpected_error_gets_the_bilingual_500_page(client):
    client.raise_request_exception = False
    response = client.get("/broken/")
    assert response.status_code == 500
    assert "服务器开小差了" in response.content.decode() and "Something went wrong" in response.content.decode()
