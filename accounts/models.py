from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


# The languages a user may prefer; "" follows the browser.
LANGUAGE_CHOICES = [("", _("Browser default")), ("zh-hans", "简体中文"), ("en", "English")]


class Role(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    PUBLISHER = "publisher", _("Publisher")
    ADMIN = "admin", _("Administrator")


class AccountManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", Role.ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    """A person with exactly one role. Email and mobile are each optional, unique when set."""

    email = models.EmailField(_("email address"), unique=True, null=True, blank=True)
    # E.164, e.g. +8613812345678 (accounts.phone normalises input).
    mobile = models.CharField(_("mobile number"), max_length=20, unique=True, null=True, blank=True)
    mobile_verified = models.BooleanField(_("mobile number verified"), default=False)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.CUSTOMER, db_index=True)
    display_name = models.CharField(_("display name"), max_length=64, blank=True)
    avatar = models.ImageField(_("avatar"), upload_to="avatars/%Y/%m/", blank=True)
    language = models.CharField(_("language"), max_length=10, blank=True)
    # Off: behaviour is logged without the user's id and recommendations are not personal.
    personalised = models.BooleanField(
        _("personalised recommendations"), default=True,
        help_text=_("Use what I view and buy to recommend events. Off: my activity is recorded anonymously."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = AccountManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(condition=Q(role__in=Role.values), name="user_role_valid"),
            # Empty strings would collide under the unique indexes; absent is NULL.
            models.CheckConstraint(condition=~Q(email=""), name="user_email_not_empty"),
            models.CheckConstraint(condition=~Q(mobile=""), name="user_mobile_not_empty"),
        ]

    def clean(self):
        super().clean()
        self.email = self.email or None  # AbstractUser.clean() turns None into ""

    def save(self, *args, **kwargs):
        # Blank means absent: store NULL so the unique indexes allow many.
        self.email = self.email or None
        self.mobile = self.mobile or None
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return self.display_name or self.email or self.mobile or self.username

    @property
    def is_publisher(self) -> bool:
        return self.role == Role.PUBLISHER

    @property
    def is_platform_admin(self) -> bool:
        return self.role == Role.ADMIN


class Notification(models.Model):
    """One message in a user's in-app inbox (the bell). Written in the
    recipient's language when created."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=48)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_user_unread")]

    def __str__(self) -> str:
        return self.title
