"""Sign-up, verification, login, password reset, idle logout and profile, as pages."""

import io
import re
from datetime import timedelta

import pytest
import time_machine
from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from accounts import sms
from accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
# Emails and texts leave through the outbox once the request's transaction commits:
# these tests let it commit, as a real request does.
COMMITS = pytest.mark.django_db(transaction=True)

STRONG = "Lantern-River-42"


def signup(client, lang="en", **data):
    return client.post("/accounts/signup/", {"password1": STRONG, "password2": STRONG, **data},
                       HTTP_ACCEPT_LANGUAGE=lang)


def last_code() -> str:
    return re.search(r"\b([A-Z0-9]{6})\b", sms.outbox()[0]["message"]).group(1)


def png_bytes(size=(600, 400)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 90)).save(out, format="PNG")
    return out.getvalue()


# --- sign-up and verification ---------------------------------------------------
@COMMITS
def test_sign_up_with_email_sends_a_link_that_verifies_the_address(client):
    response = signup(client, email="li.lei@example.com")
    assert response.status_code == 302
    user = User.objects.get(email="li.lei@example.com")
    assert user.role == "customer"
    assert not EmailAddress.objects.get(user=user).verified
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[0].body).group(0)
    client.post(link.split("testserver", 1)[-1])
    assert EmailAddress.objects.get(user=user).verified


@COMMITS
def test_sign_up_with_a_mobile_number_is_verified_by_a_texted_code(client):
    response = signup(client, phone="138 1234 5678")
    assert response.status_code == 302
    user = User.objects.get(mobile="+8613812345678")
    assert not user.mobile_verified
    assert sms.outbox()[0]["phone"] == "+8613812345678"

    wrong = client.post("/accounts/phone/verify/", {"code": "AAAAAA"}, HTTP_ACCEPT_LANGUAGE="en")
    assert wrong.status_code == 200 and "Incorrect code." in wrong.content.decode()
    client.post("/accounts/phone/verify/", {"code": last_code()})
    user.refresh_from_db()
    assert user.mobile_verified


def test_sign_up_needs_an_email_or_a_mobile_number_in_both_languages(client):
    assert "Enter an email address or a mobile number." in signup(client).content.decode()
    assert "请输入电子邮箱或手机号码。" in signup(client, lang="zh-CN").content.decode()
    assert User.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "english", "chinese"),
    [
        ({"phone": "12345"}, "mainland China mobile number", "中国大陆手机号码"),
        ({"email": "a@example.com", "password1": "12345678", "password2": "12345678"},
         "This password is entirely numeric.", "密码只包含数字"),
    ],
)
def test_bad_sign_up_input_gets_a_message_in_the_users_language(client, data, english, chinese):
    assert english in signup(client, lang="en", **data).content.decode()
    assert chinese in signup(client, lang="zh-CN", **data).content.decode()
    assert User.objects.count() == 0


def test_a_taken_email_or_mobile_cannot_sign_up_again(client):
    UserFactory(email="taken@example.com", mobile="+8613900000000")
    assert "already registered" in signup(client, email="Taken@example.com").content.decode()
    assert User.objects.count() == 1
    signup(client, phone="13900000000")
    assert User.objects.filter(mobile="+8613900000000").count() == 1


# --- login, logout, passwords ---------------------------------------------------
def test_login_with_email_or_mobile_and_logout(client):
    UserFactory(email="wang@example.com", mobile="+8613700000000", mobile_verified=True)
    response = client.post("/accounts/login/", {"login": "wang@example.com", "password": "correct-horse-battery"})
    assert response.status_code == 302 and "_auth_user_id" in client.session
    client.post("/accounts/logout/")
    assert "_auth_user_id" not in client.session
    client.post("/accounts/login/", {"login": "13700000000", "password": "correct-horse-battery"})
    assert "_auth_user_id" in client.session


def test_passwords_are_hashed_with_bcrypt_and_old_hashes_upgrade_on_login(client, settings):
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    signup(client, email="new@example.com")
    assert User.objects.get(email="new@example.com").password.startswith("bcrypt_sha256$")

    old = UserFactory(email="old@example.com")
    old.password = make_password("correct-horse-battery", hasher="pbkdf2_sha256")
    old.save()
    client.logout()
    response = client.post("/accounts/login/", {"login": "old@example.com", "password": "correct-horse-battery"})
    assert response.status_code == 302, response.content.decode()[-3000:]
    old.refresh_from_db()
    assert old.password.startswith("bcrypt_sha256$")


@COMMITS
def test_password_reset_link_works_once_and_a_tampered_one_is_refused(client):
    UserFactory(email="forgot@example.com")
    client.post("/accounts/password/reset/", {"email": "forgot@example.com"})
    link = re.search(r"https?://testserver(/accounts/password/reset/key/\S+/)", mail.outbox[-1].body).group(1)
    ending = "00" if link[-3:-1] != "00" else "11"  # a token that ends in "00" already was not tampered with
    tampered = client.get(link[:-3] + ending + "/", follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "Bad Token" in tampered.content.decode()

    page = client.get(link, follow=True)
    client.post(page.redirect_chain[-1][0], {"password1": STRONG, "password2": STRONG})
    assert User.objects.get(email="forgot@example.com").check_password(STRONG)
    again = client.get(link, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "Bad Token" in again.content.decode()


@COMMITS
def test_an_expired_email_confirmation_link_is_refused(client, settings):
    signup(client, email="late@example.com")
    link = re.search(r"https?://testserver(/accounts/confirm-email/\S+/)", mail.outbox[0].body).group(1)
    later = timezone.now() + timedelta(days=settings.ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS + 1)
    with time_machine.travel(later, tick=False):
        assert "expired or is invalid" in client.get(link, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert client.post(link).status_code == 404
    assert not EmailAddress.objects.get(email="late@example.com").verified


def test_too_many_wrong_passwords_lock_the_account_for_a_while(client):
    UserFactory(email="target@example.com")
    for _ in range(5):
        client.post("/accounts/login/", {"login": "target@example.com", "password": "wrong"})
    response = client.post("/accounts/login/", {"login": "target@example.com", "password": "correct-horse-battery"},
                           HTTP_ACCEPT_LANGUAGE="en")
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


# --- idle logout ------------------------------------------------------------------
def test_a_page_session_ends_after_thirty_idle_minutes_with_a_message(client):
    user = UserFactory()
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        client.force_login(user)
        assert client.get("/accounts/profile/").status_code == 200
        clock.shift(timedelta(minutes=29))
        assert client.get("/accounts/profile/").status_code == 200  # activity slides the window
        clock.shift(timedelta(minutes=29))
        assert client.get("/accounts/profile/").status_code == 200
        clock.shift(timedelta(minutes=31))
        response = client.get("/accounts/profile/", follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert response.redirect_chain[0][0].startswith("/accounts/login/")
    assert "logged out after 30 minutes without activity" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_logged_in_pages_carry_the_idle_warning(client):
    client.force_login(UserFactory())
    body = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-idle-seconds="1800"' in body and "Stay logged in" in body
    assert client.post("/accounts/keepalive/").status_code == 204


# --- profile --------------------------------------------------------------------
def test_profile_saves_name_language_and_a_resized_avatar(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post("/accounts/profile/", {
        "display_name": "  小李  ", "language": "en",
        "avatar": SimpleUploadedFile("me.png", png_bytes(), content_type="image/png"),
    })
    assert response.status_code == 302
    assert response.cookies["django_language"].value == "en"
    user.refresh_from_db()
    assert user.display_name == "小李" and user.language == "en"
    with Image.open(user.avatar.path) as avatar:
        assert avatar.size == (256, 256) and avatar.format == "JPEG"
    assert "Administrator" not in client.get("/accounts/profile/").content.decode()


def test_a_file_that_is_not_an_image_is_refused_as_avatar(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post("/accounts/profile/", {
        "display_name": "x", "language": "",
        "avatar": SimpleUploadedFile("evil.png", b"<?php echo 1; ?>", content_type="image/png"),
    }, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "Upload a valid image" in response.content.decode()
    user.refresh_from_db()
    assert not user.avatar


# --- admin users page -------------------------------------------------------------
def test_an_admin_changes_a_role_and_it_applies_at_once(client):
    admin = UserFactory(role="admin", is_staff=True, is_superuser=True)
    customer = UserFactory(email="to-promote@example.com")
    other = UserFactory()
    client.force_login(other)
    assert client.get("/manage/users/").status_code == 403

    client.force_login(admin)
    page = client.get("/manage/users/?q=to-promote")
    assert "to-promote@example.com" in page.content.decode()
    response = client.post(f"/manage/users/{customer.pk}/role/", {"role": "publisher"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.role == "publisher" and not customer.is_staff

    client.post(f"/manage/users/{customer.pk}/role/", {"role": "admin"})
    customer.refresh_from_db()
    assert customer.role == "admin" and customer.is_staff


def test_the_last_admin_cannot_demote_themself(client):
    admin = UserFactory(role="admin", is_staff=True, is_superuser=True)
    client.force_login(admin)
    response = client.post(f"/manage/users/{admin.pk}/role/", {"role": "customer"},
                           HTTP_REFERER="http://testserver/manage/users/", HTTP_ACCEPT_LANGUAGE="en", follow=True)
    assert "at least one administrator" in response.content.decode()
    admin.refresh_from_db()
    assert admin.role == "admin"


# --- SMS outbox and social buttons ------------------------------------------------------
@COMMITS
def test_the_sms_outbox_page_exists_only_in_development(client, settings):
    settings.DEV_OUTBOX = False
    assert client.get("/dev/sms/").status_code == 404
    settings.DEV_OUTBOX = True
    signup(client, phone="13812345678")
    assert "+8613812345678" in client.get("/dev/sms/").content.decode()


def test_social_login_buttons_appear_only_when_configured(client, settings):
    assert "Google" not in client.get("/accounts/login/").content.decode()
    settings.SOCIALACCOUNT_PROVIDERS = {"google": {"APPS": [{"client_id": "id", "secret": "s"}]}}
    assert "Google" in client.get("/accounts/login/").content.decode()


# --- changing email, phone, password, and the saved language ------------------------
@COMMITS
def test_a_new_email_address_is_verified_before_it_counts(client):
    user = UserFactory(email="first@example.com")
    EmailAddress.objects.create(user=user, email="first@example.com", primary=True, verified=True)
    client.force_login(user)
    assert client.get("/accounts/email/").status_code == 200
    client.post("/accounts/email/", {"action_add": "", "email": "second@example.com"})
    new = EmailAddress.objects.get(email="second@example.com")
    assert not new.verified
    link = re.search(r"https?://testserver(/accounts/confirm-email/\S+/)", mail.outbox[-1].body).group(1)
    client.post(link)
    user.refresh_from_db()
    assert user.email == "second@example.com"
    assert EmailAddress.objects.get(email="second@example.com").verified


@COMMITS
def test_a_new_mobile_number_is_verified_by_code(client):
    user = UserFactory(mobile="+8613600000000", mobile_verified=True)
    client.force_login(user)
    assert client.get("/accounts/phone/change/").status_code == 200
    client.post("/accounts/phone/change/", {"phone": "13611112222"})
    assert sms.outbox()[0]["phone"] == "+8613611112222"
    client.post("/accounts/phone/verify/", {"code": last_code()})
    user.refresh_from_db()
    assert user.mobile == "+8613611112222" and user.mobile_verified


def test_change_password_needs_the_old_one(client):
    user = UserFactory()
    client.force_login(user)
    wrong = client.post("/accounts/password/change/", {"oldpassword": "nope", "password1": STRONG, "password2": STRONG},
                        HTTP_ACCEPT_LANGUAGE="en")
    assert "Please type your current password." in wrong.content.decode()
    client.post("/accounts/password/change/", {"oldpassword": "correct-horse-battery", "password1": STRONG, "password2": STRONG})
    user.refresh_from_db()
    assert user.check_password(STRONG)


def test_the_saved_language_applies_at_login(client):
    UserFactory(email="en@example.com", language="en")
    response = client.post("/accounts/login/", {"login": "en@example.com", "password": "correct-horse-battery"})
    assert response.cookies["django_language"].value == "en"
    assert '<html lang="en">' in client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()


def test_a_role_changed_in_django_admin_goes_through_the_role_service(client):
    admin = UserFactory(role="admin", is_staff=True, is_superuser=True)
    target = UserFactory(role="customer")
    client.force_login(admin)
    page = client.get(f"/admin/accounts/user/{target.pk}/change/")
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k not in ("avatar", "groups", "user_permissions", "last_login")}
    data.update(role="admin", date_joined_0=target.date_joined.strftime("%Y-%m-%d"),
                date_joined_1=target.date_joined.strftime("%H:%M:%S"))
    data.pop("date_joined", None)
    response = client.post(f"/admin/accounts/user/{target.pk}/change/", data)
    assert response.status_code == 302, page.context
    target.refresh_from_db()
    assert target.role == "admin" and target.is_staff


# --- what the mobile sign-up pages say -------------------------------------------------
class ProviderSMSBackend:
    """Stands for a real SMS provider: the text leaves the site (kept here for the test to read)."""

    sent: list[str] = []

    def send(self, phone: str, message: str) -> None:
        self.sent.append(message)


@pytest.fixture
def sms_provider(settings) -> list[str]:
    settings.SMS_BACKEND = "tests.accounts.test_pages.ProviderSMSBackend"
    ProviderSMSBackend.sent.clear()
    return ProviderSMSBackend.sent


def test_the_code_page_tells_where_texts_go_when_none_is_really_sent(client, settings):
    settings.DEV_OUTBOX = True
    signup(client, lang="zh-CN", phone="138 1234 5678")
    page = client.get("/accounts/phone/verify/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "开发模式：短信不会真的发出，验证码在 /dev/sms/ 和服务器日志中" in re.sub(r"<[^>]+>", "", page)
    assert 'href="/dev/sms/"' in page


@pytest.mark.parametrize(("backend", "outbox"), [
    ("tests.accounts.test_pages.ProviderSMSBackend", True),
    ("accounts.sms.ConsoleSMSBackend", False),
])
def test_the_code_page_has_no_development_hint_without_the_dev_outbox(client, settings, backend, outbox):
    settings.SMS_BACKEND, settings.DEV_OUTBOX = backend, outbox
    signup(client, lang="zh-CN", phone="138 1234 5678")
    page = client.get("/accounts/phone/verify/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "验证码" in page and "/dev/sms/" not in page and "开发模式" not in page


def test_signing_up_by_mobile_greets_the_masked_number_not_the_username(client, sms_provider,
                                                                       django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # texts leave after the commit
        signup(client, lang="zh-CN", phone="138 1234 5678")
    code = re.search(r"\b(\d{6})\b", sms_provider[-1]).group(1)
    page = client.post("/accounts/phone/verify/", {"code": code}, HTTP_ACCEPT_LANGUAGE="zh-CN", follow=True).content.decode()
    user = User.objects.get(mobile="+8613812345678")
    assert user.mobile_verified and "以 138****5678 成功登录。" in page
    assert f"以 {user.username} 成功登录" not in page


@pytest.mark.parametrize(("display_name", "shown"), [("李雷", "李雷"), ("", "li.lei@example.com")])
def test_logging_in_greets_the_display_name_or_else_the_email(client, display_name, shown):
    UserFactory(username="user-internal", email="li.lei@example.com", display_name=display_name)
    page = client.post("/accounts/login/", {"login": "li.lei@example.com", "password": "correct-horse-battery"},
                       HTTP_ACCEPT_LANGUAGE="en", follow=True).content.decode()
    assert f"Successfully signed in as {shown}." in page
    assert "user-internal" not in page


# --- leftover English and punctuation on Chinese pages ----------------------------------
def test_the_language_menu_names_each_language_in_itself(client):
    for lang in ("zh-CN", "en"):
        page = client.get("/", HTTP_ACCEPT_LANGUAGE=lang).content.decode()
        assert re.search(r'<option value="en"[^>]*>English</option>', page), lang
        assert re.search(r'<option value="zh-hans"[^>]*>简体中文</option>', page), lang
        assert "英语" not in page


def test_the_sign_up_page_ends_its_login_prompt_with_a_chinese_full_stop(client):
    page = client.get("/accounts/signup/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "登录</a>。" in page
    assert "登录</a>." not in page
