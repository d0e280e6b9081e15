from django.db.models import Q, QuerySet

from accounts.models import User


def user_search(*, query: str = "", role: str = "") -> QuerySet[User]:
    users = User.objects.order_by("-date_joined")
    if query:
        users = users.filter(
            Q(username__icontains=query) | Q(email__icontains=query) | Q(mobile__icontains=query)
            | Q(display_name__icontains=query)
        )
    if role:
        users = users.filter(role=role)
    return users
