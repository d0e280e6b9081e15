import asyncio
import threading
from collections.abc import Coroutine
from typing import Any


def run(coro: Coroutine) -> Any:
    """asyncio.run() in a thread of its own, so it works even while another
    library (Playwright's sync API) keeps an event loop in the main thread."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result.get("value")
