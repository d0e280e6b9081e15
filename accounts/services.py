"""Every write to accounts goes through here."""

import secrets
from io import BytesIO

from allauth.account.models import EmailAddress
from allauth.account.signals import user_signed_up

from django.contrib.admin.models import CHANGE, LogEntry
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError

from accounts.models import LANGUAGE_CHOICES, Role, User
from ticketing.errors import DomainError, Forbidden

AVATAR_SIZE = 256
AVATAR_MAX_BYTES = 2 * 1024 * 1024


class InvalidImage(DomainError):
    code = "invalid_image"
    default_message = _("Upload a JPEG, PNG or WebP image.")


class AlreadyRegistered(DomainError):
    code = "already_registered"
    default_message = _("A user is already registered with this email address or mobile number.")


def _unique_username() -> str:
    while True:
        username = "u" + secrets.token_hex(8)
        if not User.objects.filter(username=username).exists():
            return username


def user_create(*, username: str, password: str | None, email: str | None = None, mobile: str | None = None,
                role: str = Role.CUSTOMER, display_name: str = "") -> User:
    """Create a user with a hashed password (None: no password can log in).
    Admins get Django-admin access (is_staff). Raises AlreadyRegistered."""
    user = User(username=username, email=email, mobile=mobile, role=role, display_name=display_name,
                is_staff=role == Role.ADMIN, is_superuser=role == Role.ADMIN)
    user.set_password(password)
    user.full_clean(exclude=["password"], validate_unique=False)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as error:  # two sign-ups with one address at the same instant
        raise AlreadyRegistered() from error
    return user


@transaction.atomic
def user_register(*, request, password: str, email: str | None = None, mobile: str | None = None) -> User:
    """Sign-up outside allauth's pages (the API): a customer with an unverified
    email address row whose confirmation link is sent once the transaction
    commits. Raises AlreadyRegistered for a taken email or mobile."""
    user = user_create(username=_unique_username(), password=password, email=email, mobile=mobile)
    if email:
        address = EmailAddress.objects.create(user=user, email=email, primary=True, verified=False)
        transaction.on_commit(lambda: address.send_confirmation(request, signup=True))
    transaction.on_commit(lambda: user_signed_up.send(sender=User, request=request, user=user))
    return user


@transaction.atomic
def user_set_role(*, actor: User, user: User, role: str) -> User:
    """Give `user` exactly one role; admins also get the Django admin. Takes effect
    on the user's next request, pages and API tokens alike (roles are read from
    the database). Recorded in the admin log. Raises Forbidden unless `actor`
    is an admin, and refuses to let the last admin demote themself."""
    if actor.role != Role.ADMIN:
        raise Forbidden()
    if role not in Role.values:
        raise DomainError(_("Unknown role."), code="invalid_role")
    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.role == Role.ADMIN and role != Role.ADMIN and not User.objects.filter(role=Role.ADMIN, is_active=True).exclude(pk=locked.pk).exists():
        raise DomainError(_("The platform needs at least one administrator."), code="last_admin")
    previous = locked.role
    locked.role = role
    locked.is_staff = locked.is_superuser = role == Role.ADMIN
    locked.save(update_fields=["role", "is_staff", "is_superuser", "updated_at"])
    LogEntry.objects.log_actions(
        user_id=actor.pk, queryset=[locked], action_flag=CHANGE,
        change_message=f"role: {previous} → {role}", single_object=True,
    )
    return locked


def _square_avatar(upload) -> InMemoryUploadedFile:
    if upload.size > AVATAR_MAX_BYTES:
        raise InvalidImage(_("The image is larger than 2 MB."), code="too_large")
    try:
        image = Image.open(upload)
        image.verify()  # refuses truncated and non-image files
        upload.seek(0)
        image = Image.open(upload)
        if image.format not in ("JPEG", "PNG", "WEBP"):
            raise InvalidImage()
        image = ImageOps.exif_transpose(image).convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise InvalidImage() from error
    image = ImageOps.fit(image, (AVATAR_SIZE, AVATAR_SIZE), Image.Resampling.LANCZOS)
    out = BytesIO()
    image.save(out, format="JPEG", quality=85)
    return InMemoryUploadedFile(out, "avatar", "avatar.jpg", "image/jpeg", out.tell(), None)


@transaction.atomic
def profile_update(*, user: User, display_name: str | None = None, language: str | None = None, avatar=None,
                   personalised: bool | None = None) -> User:
    """Change what a user may change about themself. An avatar is checked to be
    a real JPEG/PNG/WebP image of at most 2 MB and stored as a 256×256 JPEG
    (InvalidImage otherwise). `personalised` off: the behaviour log keeps the user's
    later activity without their id (analytics.tracking) and recommendations stop being personal."""
    fields = ["updated_at"]
    if display_name is not None:
        user.display_name = display_name.strip()[:64]
        fields.append("display_name")
    if language is not None:
        if language not in dict(LANGUAGE_CHOICES):
            raise DomainError(_("Unknown language."), code="invalid_language")
        user.language = language
        fields.append("language")
    if personalised is not None:
        user.personalised = bool(personalised)
        fields.append("personalised")
    if avatar is not None:
        old = user.avatar.name if user.avatar else None
        user.avatar.save(f"{user.pk}.jpg", _square_avatar(avatar), save=False)
        fields.append("avatar")
        if old:
            transaction.on_commit(lambda: user.avatar.storage.delete(old))
    user.save(update_fields=fields)
    return user
