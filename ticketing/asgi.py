"""ASGI entry point: websockets (and, in the embedded mode, HTTP too)."""

import logging
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketing.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs the app registry)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from ticketing.routing import websocket_urlpatterns  # noqa: E402



class ClientUtf8ErrorIsOneLine(logging.Filter):
    """uvicorn closes a text frame that is not UTF-8 with 1007, as it should, but logs the client's
    mistake as a server ERROR with a traceback: make it one INFO line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "Invalid UTF-8 sequence received from client.":
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info = record.exc_text = None
            return logging.getLogger(record.name).isEnabledFor(logging.INFO)
        return True


logging.getLogger("uvicorn.error").addFilter(ClientUtf8ErrorIsOneLine())

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
