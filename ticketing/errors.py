"""Domain errors and the one way each surface turns them into a response.

Services raise a `DomainError` subclass with a translatable message. The API
answers it with `{"detail": ..., "code": ...}` and the class's status; pages
show the message (htmx: a message partial swapped into #messages; plain forms:
a flash message and a redirect back). Nothing else catches them.
"""

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.exceptions import PermissionDenied as DRFPermissionDenied
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

SERVER_ERROR_MESSAGE = _("Something went wrong on our side; please try again later.")


class DomainError(Exception):
    """A rule of the domain refused the request; nothing was changed."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid"
    default_message = _("The request could not be completed.")

    def __init__(self, message: Any = None, *, code: str | None = None, **params: Any) -> None:
        self.message = message if message is not None else self.default_message
        if code:
            self.code = code
        self.params = params
        super().__init__(str(self.message))

    def __str__(self) -> str:
        text = str(self.message)
        return text % self.params if self.params else text


class NotFound(DomainError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"
    default_message = _("Not found.")


class Forbidden(DomainError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "forbidden"
    default_message = _("You are not allowed to do this.")


class Conflict(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"
    default_message = _("This changed in the meantime; please reload and try again.")


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """Every API error as JSON: field errors as `{field: [messages]}`, anything else as `{detail, code}`."""
    if isinstance(exc, DomainError):
        # `extra`: what a caller needs to act on the error (tickets.waiting_room: the room's URLs).
        return Response({"detail": str(exc), "code": exc.code, **getattr(exc, "extra", {})}, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        exc = DRFValidationError(detail=exc.message_dict if hasattr(exc, "error_dict")
                                 else {api_settings.NON_FIELD_ERRORS_KEY: exc.messages})
    elif isinstance(exc, DjangoPermissionDenied):
        exc = DRFPermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, APIException):
        return response
    if isinstance(response.data, list):  # ValidationError("…") raised without a field
        response.data = {api_settings.NON_FIELD_ERRORS_KEY: response.data}
    elif "detail" in response.data and "code" not in response.data:
        response.data["code"] = getattr(exc.detail, "code", None) or exc.default_code
    return response


def api_aware(page_handler, error: type[DomainError] | None = None):
    """A handler404/403/500 that answers `{detail, code}` JSON under /api/ (in the caller's language,
    e.g. an unknown path or a malformed id) and leaves every other path to the page handler."""

    def handler(request, *args, **kwargs):
        if not request.path_info.startswith("/api/"):
            return page_handler(request, *args, **kwargs)
        if error is None:
            return JsonResponse({"detail": str(SERVER_ERROR_MESSAGE), "code": "server_error"}, status=500)
        return JsonResponse({"detail": str(error.default_message), "code": error.code}, status=error.status_code)

    return handler


class DomainErrorMiddleware:
    """Turns a DomainError raised by a page view into a message for the user."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, DomainError) or request.path.startswith("/api/"):
            return None
        text = str(exception)
        if getattr(request, "htmx", False):
            response = render(
                request,
                "partials/messages.html",
                {"messages": [{"level_tag": "danger", "message": text}]},
                status=exception.status_code,
            )
            response["HX-Retarget"] = "#messages"
            response["HX-Reswap"] = "innerHTML"
            return response
        back = request.META.get("HTTP_REFERER")
        if request.method == "POST" and back and url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            messages.error(request, text)
            return redirect(back)
        return render(request, "error.html", {"title": text, "status": exception.status_code}, status=exception.status_code)
