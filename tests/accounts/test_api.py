"""The accounts JSON API: sign-up, JWT login/refresh/logout, profile, roles, brute-force lock."""

import io
import re
from datetime import timedelta

import pytest
import time_machine
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import Role, User
from tests.factories import UserFactory
from tests.helpers.processes import run_in_processes

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"  # UserFactory's
STRONG = "Lantern-River-42"


@pytest.fixture
def api():
    return APIClient()


def post(api, url, data, lang="en", **extra):
    return api.post(url, data, format="json", HTTP_ACCEPT_LANGUAGE=lang, **extra)


def register(api, lang="en", **data):
    return post(api, "/api/auth/register", {"password": STRONG, **data}, lang=lang)


def login(api, who, password=PASSWORD, lang="en"):
    return post(api, "/api/auth/login", {"login": who, "password": password}, lang=lang)


def refresh(api, token, lang="en"):
    return post(api, "/api/auth/refresh", {"refresh": token}, lang=lang)


def bearer(access: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {access}"}


def tokens_of(api, user) -> dict:
    response = login(api, user.email)
    assert response.status_code == 200, response.content
    return response.json()


def png_file(name="me.png", size=(600, 400)) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", size, (20, 120, 200)).save(out, format="PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


# --- sign-up ----------------------------------------------------------------------
def test_register_with_email_creates_an_unverified_customer_and_mails_a_link(api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = register(api, email="Li.Lei@Example.com")

    assert response.status_code == 201
    body = response.json()
    assert body == {"id": body["id"], "email": "li.lei@example.com", "phone": None, "role": "customer", "display_name": ""}
    assert "password" not in response.content.decode()
    user = User.objects.get(pk=body["id"])
    assert user.check_password(STRONG) and user.username.startswith("u")
    assert not EmailAddress.objects.get(user=user, email="li.lei@example.com").verified
    assert mail.outbox[0].to == ["li.lei@example.com"]
    assert re.search(r"https?://testserver/accounts/confirm-email/\S+/", mail.outbox[0].body)
    assert login(api, "li.lei@example.com", STRONG).status_code == 200


def test_register_with_a_mobile_number_stores_it_as_plus_86_unverified(api):
    response = register(api, phone="138 1234 5678")

    assert response.status_code == 201
    assert response.json()["phone"] == "+8613812345678" and response.json()["email"] is None
    user = User.objects.get(mobile="+8613812345678")
    assert not user.mobile_verified
    assert login(api, "13812345678", STRONG).status_code == 200


def test_register_with_neither_email_nor_phone_is_refused(api):
    response = register(api)

    assert response.status_code == 400
    assert response.json()["non_field_errors"] == ["Enter an email address or a mobile number."]
    assert "请输入电子邮箱或手机号码。" in register(api, lang="zh-CN").json()["non_field_errors"]
    assert not User.objects.exists()


def test_register_with_a_taken_email_or_phone_says_which_is_taken(api):
    UserFactory(email="taken@example.com", mobile="+8613900000000")

    by_email = register(api, email="TAKEN@example.com")
    assert by_email.status_code == 400
    assert by_email.json()["email"] == ["A user is already registered with this email address."]
    by_phone = register(api, phone="+86 139-0000-0000")
    assert by_phone.status_code == 400
    assert by_phone.json()["phone"] == ["A user is already registered with this phone number."]
    assert User.objects.count() == 1


def test_register_with_a_malformed_phone_explains_the_format_in_the_clients_language(api):
    english = register(api, phone="12345", lang="en")
    chinese = register(api, phone="12345", lang="zh-CN")

    assert english.status_code == chinese.status_code == 400
    assert "mainland China mobile number" in english.json()["phone"][0]
    assert "中国大陆手机号码" in chinese.json()["phone"][0]
    assert not User.objects.exists()


def test_register_with_a_weak_password_explains_why_in_the_clients_language(api):
    english = register(api, email="weak@example.com", password="1234", lang="en")
    chinese = register(api, email="weak@example.com", password="1234", lang="zh-CN")

    assert english.status_code == chinese.status_code == 400
    assert "This password is too short. It must contain at least 8 characters." in english.json()["password"]
    assert "This password is entirely numeric." in english.json()["password"]
    assert "此密码太短，至少要包含 8 个字符。" in chinese.json()["password"]
    assert not User.objects.exists()


def test_sign_ups_from_one_address_are_limited_like_the_sign_up_page(api):
    for _ in range(20):  # ACCOUNT_RATE_LIMITS["signup"] = 20/m/ip; refused attempts count too
        assert register(api).status_code == 400

    response = register(api, email="late@example.com")

    assert response.status_code == 429 and response.json()["detail"]
    assert not User.objects.exists()


# --- login and tokens ---------------------------------------------------------------
def test_login_by_email_returns_tokens_and_the_user(api):
    user = UserFactory(email="wang@example.com", role=Role.PUBLISHER, display_name="Wang")

    response = login(api, "Wang@Example.com")

    assert response.status_code == 200
    body = response.json()
    assert body["user"] == {"id": user.pk, "email": "wang@example.com", "phone": None, "role": "publisher",
                            "display_name": "Wang"}
    assert api.get("/api/user/profile", **bearer(body["access"])).json()["id"] == user.pk


def test_login_by_mobile_number_in_any_usual_spelling(api):
    user = UserFactory(mobile="+8613700000000")

    for spelling in ("13700000000", "+86 137 0000 0000", "137-0000-0000"):
        response = login(api, spelling)
        assert response.status_code == 200, spelling
        assert response.json()["user"]["id"] == user.pk


def test_the_access_token_carries_user_id_and_role(api):
    user = UserFactory(role=Role.PUBLISHER)

    claims = AccessToken(tokens_of(api, user)["access"])

    assert claims["user_id"] == str(user.pk)
    assert claims["role"] == "publisher"


def test_a_wrong_password_is_refused_with_401_in_the_clients_language(api):
    user = UserFactory()

    english = login(api, user.email, "wrong-password")
    chinese = login(api, user.email, "wrong-password", lang="zh-CN")
    by_phone = login(api, "13800000000", "wrong-password")

    assert english.status_code == chinese.status_code == by_phone.status_code == 401
    assert english.json()["detail"] == "The email address and/or password you specified are not correct."
    assert chinese.json()["detail"] == "您提供的电子邮件地址和/或密码不正确。"
    assert by_phone.json()["detail"] == "The phone number and/or password you specified are not correct."
    assert english["WWW-Authenticate"].startswith("Bearer")
    assert "access" not in english.json()


def test_an_inactive_user_cannot_log_in(api):
    user = UserFactory(is_active=False)

    response = login(api, user.email)

    assert response.status_code == 401
    assert "access" not in response.json()


# --- refresh, idle timeout, logout ------------------------------------------------------
def test_refresh_rotates_the_token_and_the_old_one_is_refused(api):
    first = tokens_of(api, UserFactory())

    rotated = refresh(api, first["refresh"])
    assert rotated.status_code == 200
    assert rotated.json()["refresh"] != first["refresh"]
    assert api.get("/api/user/profile", **bearer(rotated.json()["access"])).status_code == 200

    replay = refresh(api, first["refresh"])
    assert replay.status_code == 401
    assert refresh(api, rotated.json()["refresh"]).status_code == 200


def test_refresh_puts_the_current_role_into_the_new_token(api):
    user = UserFactory(role=Role.CUSTOMER)
    admin = UserFactory(role=Role.ADMIN)
    old = tokens_of(api, user)

    api.put(f"/api/users/{user.pk}/role", {"role": "publisher"}, format="json", **bearer(tokens_of(api, admin)["access"]))
    new = refresh(api, old["refresh"]).json()

    assert AccessToken(old["access"])["role"] == "customer"
    assert AccessToken(new["access"])["role"] == "publisher"


def _refresh_status(token: str) -> int:
    """Runs in a child process."""
    from django.test import Client

    return Client(HTTP_HOST="localhost").post("/api/auth/refresh", {"refresh": token},
                                              content_type="application/json").status_code


@pytest.mark.django_db(transaction=True)
def test_a_refresh_token_replayed_at_the_same_moment_is_honoured_once(api):
    token = tokens_of(api, UserFactory())["refresh"]

    statuses = run_in_processes(_refresh_status, [(token,)] * 8)

    assert sorted(statuses) == [200] + [401] * 7


def test_a_refresh_token_unused_for_more_than_thirty_minutes_is_refused(api):
    user = UserFactory()
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        idle = tokens_of(api, user)["refresh"]
        clock.move_to(start + timedelta(minutes=31))
        response = refresh(api, idle)
    assert response.status_code == 401


def test_an_active_client_keeps_refreshing_past_thirty_minutes(api):
    user = UserFactory()
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        token = tokens_of(api, user)["refresh"]
        for minutes in (20, 40, 60):  # never more than 20 minutes between refreshes
            clock.move_to(start + timedelta(minutes=minutes))
            response = refresh(api, token)
            assert response.status_code == 200, minutes
            token = response.json()["refresh"]


def test_logout_revokes_the_refresh_token(api):
    tokens = tokens_of(api, UserFactory())

    response = post(api, "/api/auth/logout", {"refresh": tokens["refresh"]}, **bearer(tokens["access"]))

    assert response.status_code == 205
    assert refresh(api, tokens["refresh"]).status_code == 401


def test_logout_cannot_revoke_another_users_refresh_token(api):
    mine, theirs = tokens_of(api, UserFactory()), tokens_of(api, UserFactory())

    response = post(api, "/api/auth/logout", {"refresh": theirs["refresh"]}, **bearer(mine["access"]))

    assert response.status_code == 400
    assert refresh(api, theirs["refresh"]).status_code == 200


def test_logout_with_a_token_that_is_not_a_refresh_token_is_refused(api):
    tokens = tokens_of(api, UserFactory())

    response = post(api, "/api/auth/logout", {"refresh": tokens["access"]}, **bearer(tokens["access"]))

    assert response.status_code == 400
    assert refresh(api, tokens["refresh"]).status_code == 200


# --- roles ------------------------------------------------------------------------
def test_a_role_change_applies_at_once_to_an_access_token_already_issued(api):
    admin = UserFactory(role=Role.ADMIN)
    someone = UserFactory(role=Role.CUSTOMER)
    user = UserFactory(role=Role.CUSTOMER)
    as_admin, as_user = bearer(tokens_of(api, admin)["access"]), bearer(tokens_of(api, user)["access"])

    def user_changes_someones_role():
        return api.put(f"/api/users/{someone.pk}/role", {"role": "publisher"}, format="json", **as_user)

    assert user_changes_someones_role().status_code == 403
    promoted = api.put(f"/api/users/{user.pk}/role", {"role": "admin"}, format="json", **as_admin)
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
    assert user_changes_someones_role().status_code == 200
    api.put(f"/api/users/{user.pk}/role", {"role": "customer"}, format="json", **as_admin)
    assert user_changes_someones_role().status_code == 403
    assert User.objects.get(pk=someone.pk).role == "publisher"


def test_changing_the_role_of_an_unknown_user_is_404(api):
    as_admin = bearer(tokens_of(api, UserFactory(role=Role.ADMIN))["access"])

    response = api.put("/api/users/999999/role", {"role": "publisher"}, format="json", **as_admin)

    assert response.status_code == 404


def test_an_unknown_role_or_demoting_the_last_admin_is_refused_with_a_reason(api):
    admin = UserFactory(role=Role.ADMIN)
    as_admin = bearer(tokens_of(api, admin)["access"])

    unknown = api.put(f"/api/users/{admin.pk}/role", {"role": "emperor"}, format="json", **as_admin)
    last = api.put(f"/api/users/{admin.pk}/role", {"role": "customer"}, format="json", HTTP_ACCEPT_LANGUAGE="en",
                   **as_admin)

    assert unknown.status_code == 400 and "role" in unknown.json()
    assert last.status_code == 400 and last.json()["code"] == "last_admin"
    assert last.json()["detail"] == "The platform needs at least one administrator."
    assert User.objects.get(pk=admin.pk).role == "admin"


# --- profile ----------------------------------------------------------------------
def test_profile_shows_the_requesting_users_own_data(api):
    user = UserFactory(email="me@example.com", mobile="+8613600000000", display_name="Me", language="en")

    response = api.get("/api/user/profile", **bearer(tokens_of(api, user)["access"]))

    assert response.status_code == 200
    assert response.json() == {"id": user.pk, "username": user.username, "email": "me@example.com",
                               "phone": "+8613600000000", "role": "customer", "display_name": "Me",
                               "language": "en", "avatar": None, "personalised": True}


def test_profile_patch_changes_name_and_language(api):
    user = UserFactory()
    auth = bearer(tokens_of(api, user)["access"])

    response = api.patch("/api/user/profile", {"display_name": "  Han Meimei ", "language": "zh-hans"}, format="json",
                         **auth)

    assert response.status_code == 200
    assert response.json()["display_name"] == "Han Meimei" and response.json()["language"] == "zh-hans"
    user.refresh_from_db()
    assert (user.display_name, user.language) == ("Han Meimei", "zh-hans")


def test_profile_refuses_an_unknown_language(api):
    auth = bearer(tokens_of(api, UserFactory())["access"])

    response = api.patch("/api/user/profile", {"language": "fr"}, format="json", **auth)

    assert response.status_code == 400 and "language" in response.json()


def test_an_uploaded_png_becomes_a_square_jpeg_avatar(api):
    user = UserFactory()
    auth = bearer(tokens_of(api, user)["access"])

    response = api.patch("/api/user/profile", {"avatar": png_file()}, format="multipart", **auth)

    assert response.status_code == 200
    assert re.match(r"^http://testserver/media/avatars/\d{4}/\d{2}/\S+\.jpg$", response.json()["avatar"])
    user.refresh_from_db()
    with user.avatar.open("rb") as stored, Image.open(stored) as image:
        assert (image.format, image.size) == ("JPEG", (256, 256))


def test_a_file_that_is_not_an_image_is_refused_as_avatar(api):
    user = UserFactory()
    auth = bearer(tokens_of(api, user)["access"])
    fake = SimpleUploadedFile("cat.png", b"<?php system($_GET['c']); ?>", content_type="image/png")

    response = api.patch("/api/user/profile", {"avatar": fake}, format="multipart", HTTP_ACCEPT_LANGUAGE="en", **auth)

    assert response.status_code == 400
    assert response.json() == {"detail": "Upload a JPEG, PNG or WebP image.", "code": "invalid_image"}
    user.refresh_from_db()
    assert not user.avatar


def test_nobody_can_change_another_users_profile_or_their_own_role(api):
    me, other = UserFactory(display_name="Me"), UserFactory(display_name="Other")
    my_email, their_email = me.email, other.email
    auth = bearer(tokens_of(api, me)["access"])

    response = api.patch(
        f"/api/user/profile?user_id={other.pk}",
        {"id": other.pk, "username": other.username, "email": "hijack@example.com", "phone": "13500000000",
         "role": "admin", "display_name": "Changed"},
        format="json", **auth,
    )

    assert response.status_code == 200 and response.json()["id"] == me.pk
    other.refresh_from_db()
    me.refresh_from_db()
    assert (other.display_name, other.email) == ("Other", their_email)
    assert (me.display_name, me.role, me.email, me.mobile) == ("Changed", "customer", my_email, None)
    assert api.get(f"/api/user/profile?user_id={other.pk}", **auth).json()["id"] == me.pk


def test_the_profile_needs_a_login(api):
    assert api.get("/api/user/profile").status_code == 401
    assert api.patch("/api/user/profile", {"display_name": "x"}, format="json").status_code == 401


# --- brute force ----------------------------------------------------------------------
def test_five_wrong_passwords_lock_the_account_even_for_the_right_password(api):
    user = UserFactory()
    for _ in range(5):
        assert login(api, user.email, "wrong-password").status_code == 401

    chinese = login(api, user.email, lang="zh-CN")
    english = login(api, user.email)

    assert chinese.status_code == english.status_code == 429
    assert chinese.json()["detail"] == "登录失败次数过多，请稍后重试。"
    assert english.json()["detail"] == "Too many failed login attempts. Try again later."
    assert "access" not in english.json()


def test_the_lock_is_per_account_and_ends_after_five_minutes(api):
    locked, other = UserFactory(), UserFactory()
    start = timezone.now()
    with time_machine.travel(start, tick=True) as clock:
        for _ in range(5):
            login(api, locked.email, "wrong-password")
        assert login(api, locked.email).status_code == 429
        assert login(api, other.email).status_code == 200
        clock.move_to(start + timedelta(minutes=6))
        assert login(api, locked.email).status_code == 200


def test_the_api_and_the_login_page_share_one_lock(api, client):
    user = UserFactory()
    for _ in range(5):
        login(api, user.email, "wrong-password")

    page = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD}, HTTP_ACCEPT_LANGUAGE="en")

    assert "Too many failed login attempts" in page.content.decode()
    assert "_auth_user_id" not in client.session


def test_wrong_passwords_for_one_mobile_number_do_not_lock_another(api):
    UserFactory(mobile="+8613100000001")
    UserFactory(mobile="+8613100000002")
    for _ in range(5):
        login(api, "13100000001", "wrong-password")

    assert login(api, "13100000002").status_code == 200


def _wrong_logins(login_name: str, attempts: int) -> list[int]:
    """Runs in a child process: wrong passwords through a client of its own."""
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    return [
        client.post("/api/auth/login", {"login": login_name, "password": "wrong-password"},
                    content_type="application/json").status_code
        for _ in range(attempts)
    ]


@pytest.mark.django_db(transaction=True)
def test_wrong_passwords_from_several_processes_count_together(api, settings):
    # A hash the child processes (with the project's hashers) can check too.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.BCryptSHA256PasswordHasher"]
    user = UserFactory()

    results = run_in_processes(_wrong_logins, [(user.email, 3), (user.email, 3)])

    # Six attempts, five allowed per account: exactly one was already refused.
    assert sorted(results[0] + results[1]) == [401] * 5 + [429]
    assert login(api, user.email).status_code == 429


# --- schema -----------------------------------------------------------------------
def test_the_openapi_schema_documents_every_accounts_endpoint(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"post"} <= paths["/api/auth/register"].keys() and {"post"} <= paths["/api/auth/login"].keys()
    assert {"post"} <= paths["/api/auth/refresh"].keys() and {"post"} <= paths["/api/auth/logout"].keys()
    assert {"get", "patch"} <= paths["/api/user/profile"].keys()
    assert {"put"} <= paths["/api/users/{user_id}/role"].keys()
    upload = paths["/api/user/profile"]["patch"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert upload["$ref"].endswith("/PatchedProfileUpdate")
    avatar = response.json()["components"]["schemas"]["PatchedProfileUpdate"]["properties"]["avatar"]
    assert avatar["format"] == "binary"
