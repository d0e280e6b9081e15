"""The first-party visitor cookie that ties an anonymous visitor's behaviour lines together."""

import uuid

from django.conf import settings

from analytics.tracking import current_anon_id

COOKIE = "tk_anon"
MAX_AGE = 365 * 24 * 3600


class AnonIdMiddleware:
    """Sets `request.anon_id` (and the context variable services read) from the `tk_anon` cookie.

    Pages hand a new visitor the cookie; API answers never do (some are publicly
    cacheable), and API callers without it are logged by user id alone.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        anon_id = request.COOKIES.get(COOKIE, "")
        fresh = not (0 < len(anon_id) <= 40 and anon_id.isalnum())
        if fresh:
            anon_id = "" if request.path.startswith("/api/") else uuid.uuid4().hex
        request.anon_id = anon_id or None
        token = current_anon_id.set(request.anon_id)
        try:
            response = self.get_response(request)
        finally:
            current_anon_id.reset(token)
        if fresh and anon_id:
            response.set_cookie(COOKIE, anon_id, max_age=MAX_AGE, httponly=True, samesite="Lax",
                                secure=request.is_secure() or settings.SESSION_COOKIE_SECURE)
        return response
