"""Every write to accounts goes through here."""

from django.db import transaction

from accounts.models import Role, User


@transaction.atomic
def user_create(*, username: str, password: str, email: str | None = None, mobile: str | None = None,
                role: str = Role.CUSTOMER, display_name: str = "") -> User:
    """Create a user with a hashed password. Admins get Django-admin access (is_staff)."""
    user = User(username=username, email=email, mobile=mobile, role=role, display_name=display_name,
                is_staff=role == Role.ADMIN, is_superuser=role == Role.ADMIN)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    return user
