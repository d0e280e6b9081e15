from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import LANGUAGE_CHOICES, Role, User

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
        fields = ["display_name", "avatar", "language", "personalised"]
        widgets = {"language": forms.Select(choices=LANGUAGE_CHOICES)}


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("role"), choices=Role.choices)
