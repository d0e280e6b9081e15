import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.utils.translation import gettext as _

LAST_SEEN = "last_seen"
# Write the timestamp at most this often: a session save per request is waste.
TOUCH_EVERY = 30
# Paths that never load the user row for this: the API, and a hot sale's waiting room (tickets.waiting_room),
# which thousands keep open at once and which must answer without the database.
UNWATCHED_PATHS = ("/api/", "/waiting-room/")


def idle_logout_message() -> str:
    return _("You were logged out after %(minutes)d minutes without activity.") % {
        "minutes": settings.IDLE_TIMEOUT_SECONDS // 60
    }


class IdleTimeoutMiddleware:
    """Logs a page session out after IDLE_TIMEOUT_SECONDS without a request.

    The API is not involved: JWT refresh tokens expire after the same idle time.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # The path first: an API call (a click beacon too) should not load the user row for this.
        if not request.path.startswith(UNWATCHED_PATHS) and request.user.is_authenticated:
            now = time.time()
            last_seen = request.session.get(LAST_SEEN)
            if last_seen is not None and now - last_seen > settings.IDLE_TIMEOUT_SECONDS:
                logout(request)
                messages.info(request, idle_logout_message())
                if getattr(request, "htmx", False):
                    response = HttpResponse(status=204)
                    response["HX-Redirect"] = resolve_url(settings.LOGIN_URL)
                    return response
                return redirect_to_login(request.get_full_path())
            if last_seen is None or now - last_seen > TOUCH_EVERY:
                request.session[LAST_SEEN] = now
        return self.get_response(request)


def remember_language(sender, request, user, **kwargs) -> None:
    """user_logged_in receiver: PreferredLanguageMiddleware applies it."""
    if request is not None and getattr(user, "language", ""):
        request.preferred_language = user.language


class PreferredLanguageMiddleware:
    """After a login, switch the site to the user's saved language (the
    language cookie, so the switcher keeps working afterwards)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        language = getattr(request, "preferred_language", None)
        if language:
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax",
                                max_age=settings.LANGUAGE_COOKIE_AGE)
        return response
