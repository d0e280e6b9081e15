"""Steps every browser test takes (Playwright pages from tests/conftest.py)."""

from tests.factories import PASSWORD


def log_in(tab, email: str) -> None:
    tab.goto("/accounts/login/")
    tab.fill("input[name=login]", email)
    tab.fill("input[name=password]", PASSWORD)
    tab.locator("main form button[type=submit]").click()
    tab.wait_for_url("**/")


def watch_errors(tab) -> list[str]:
    """A list that fills with the page's script errors and console errors (assert it stays empty)."""
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors
