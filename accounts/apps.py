from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accounts import sms  # noqa: F401  (registers its outbox handler)
        from accounts.middleware import remember_language

        user_logged_in.connect(remember_language, dispatch_uid="accounts.remember_language")
