from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User

AVATAR_MAX_BYTES = 2 * 1024 * 1024


class SignupForm(AllauthSignupForm):
    """allauth's sign-up with email and mobile both optional, but one required."""

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("email") and not cleaned.get("phone") and not self.errors:
            raise forms.ValidationError(_("Enter an email address or a mobile number."), code="email_or_phone")
        return cleaned


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["display_name", "avatar", "language"]
        widgets = {"language": forms.Select(choices=[("", _("Browser default")), ("zh-hans", "简体中文"), ("en", "English")])}

    def clean_avatar(self):
        avatar = self.cleaned_data.get("avatar")
        if avatar and hasattr(avatar, "size") and avatar.size > AVATAR_MAX_BYTES:
            raise forms.ValidationError(_("The image is larger than 2 MB."), code="too_large")
        return avatar


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("role"), choices=Role.choices)
