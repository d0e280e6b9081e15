"""allauth's hooks: phone numbers live on User.mobile, texts go through accounts.sms, and a social
provider nobody configured does not exist."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp
from django import forms
from django.contrib.sites.shortcuts import get_current_site
from django.http import Http404
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.phone import INVALID_MOBILE, mask_mobile, normalize_mobile
from accounts.sms import send_sms


def user_display(user: User) -> str:
    """How allauth's messages name a user (ACCOUNT_USER_DISPLAY): people sign up without
    choosing a username, so the generated one means nothing to them."""
    return user.display_name or user.email or (mask_mobile(user.mobile) if user.mobile else user.username)


class MobileField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Mobile number"))
        kwargs.setdefault("widget", forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "placeholder": "138 0000 0000"}))
        kwargs.setdefault("error_messages", {"invalid": INVALID_MOBILE})
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        return normalize_mobile(value) if value else value


class AccountAdapter(DefaultAccountAdapter):
    def phone_form_field(self, **kwargs):
        return MobileField(**kwargs)

    def clean_phone(self, phone: str) -> str:
        try:
            return normalize_mobile(phone)
        except forms.ValidationError as error:
            raise forms.ValidationError(error.messages[0], code="invalid_phone") from None

    def _get_login_attempts_cache_key(self, request, **credentials) -> str:
        # allauth keys the per-account limit on email/username only: without
        # this every phone login would share one lock.
        if phone := credentials.get("phone"):
            try:
                phone = normalize_mobile(phone)
            except forms.ValidationError:
                pass
            return f"{get_current_site(request).domain}:{phone}"
        return super()._get_login_attempts_cache_key(request, **credentials)

    def send_verification_code_sms(self, user, phone: str, code: str, **kwargs) -> None:
        send_sms(phone=phone, message=_("[Ticketing] Your verification code is %(code)s. It expires in 15 minutes.") % {"code": code})

    def send_unknown_account_sms(self, phone: str, **kwargs) -> None:
        send_sms(phone=phone, message=_("[Ticketing] Someone tried to use this number, but no account is registered with it."))

    def send_account_already_exists_sms(self, phone: str) -> None:
        send_sms(phone=phone, message=_("[Ticketing] Someone tried to sign up with this number, which already has an account."))

    def set_phone(self, user, phone: str, verified: bool) -> None:
        user.mobile = phone
        user.mobile_verified = verified
        user.save(update_fields=["mobile", "mobile_verified"])

    def get_phone(self, user):
        return (user.mobile, user.mobile_verified) if user.mobile else None

    def set_phone_verified(self, user, phone: str) -> None:
        # Also the last step of changing a number: the new one replaces the old.
        User.objects.filter(pk=user.pk).update(mobile=phone, mobile_verified=True)
        user.mobile, user.mobile_verified = phone, True

    def get_user_by_phone(self, phone: str):
        # The login form passes what was typed ("138 1234 5678"), sign-up the normalised form.
        try:
            phone = normalize_mobile(phone)
        except forms.ValidationError:
            return None
        return User.objects.filter(mobile=phone).first()


class ProviderNotConfigured(SocialApp.DoesNotExist, Http404):
    """No app (client id and secret) for the provider: still SocialApp.DoesNotExist for allauth's
    own callers, a 404 for visitors of its login and callback URLs instead of a 500."""


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def get_app(self, request, provider, client_id=None):
        try:
            return super().get_app(request, provider, client_id=client_id)
        except SocialApp.DoesNotExist:
            raise ProviderNotConfigured(f"social login provider {provider!r} is not configured") from None
