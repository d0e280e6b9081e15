"""Sending one webhook: an HTTPS POST to an address that is not ours, within a deadline.

The guard against server-side request forgery: the URL's host is resolved once, every address it
resolves to must be public (not private, loopback, link-local, shared, multicast or reserved),
and the request goes to that very address (TLS still checks the certificate against the host
name), so a DNS answer that changes between the check and the connection cannot reach inside.
Redirects are not followed (a 3xx is a failed delivery). WEBHOOK_ALLOW_PRIVATE lifts the guard
and allows plain http, for local receivers in development and tests.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
import urllib3
from django.conf import settings
from django.utils.translation import gettext_lazy as _

RESPONSE_KEPT = 500  # characters of the receiver's answer kept in the delivery log


class Refused(Exception):
    """The address may not be called: no retry will change that (until the publisher changes it)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: str


def address_allowed(ip: str) -> bool:
    address = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def url_problem(url: str) -> str | None:
    """Why a URL can't be registered (before any lookup), or None. The send checks its addresses again."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return str(_("Not a valid URL."))
    allow_private = settings.WEBHOOK_ALLOW_PRIVATE
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        return str(_("The URL must start with https://."))
    host = (parts.hostname or "").rstrip(".").lower()
    if not host or parts.username or parts.password:
        return str(_("Give a host name, without a user name or password."))
    if port == 0:
        return str(_("Not a valid URL."))
    if allow_private:
        return None
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return str(_("Webhooks can't be sent to this machine or a private network."))
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    return None if address_allowed(host) else str(_("Webhooks can't be sent to this machine or a private network."))


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve {host}: {exc}") from exc  # DNS may answer later: retried
    return list(dict.fromkeys(info[4][0] for info in infos))


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float | None = None) -> Answer:
    """POSTs `body` and returns the answer (any status). Raises Refused for an address the guard forbids,
    OSError/urllib3 errors for a failed connection or a deadline passed (the caller retries those)."""
    problem = url_problem(url)
    if problem:
        raise Refused(problem)
    parts = urlsplit(url)
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = _resolve(host, port)
    if not settings.WEBHOOK_ALLOW_PRIVATE and not all(address_allowed(a) for a in addresses):
        raise Refused(str(_("%(host)s resolves to a private address: not sent.") % {"host": host}))
    deadline = urllib3.Timeout(total=timeout or settings.WEBHOOK_TIMEOUT)
    options = {"timeout": deadline, "retries": False, "maxsize": 1}
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(addresses[0], port, server_hostname=host, assert_hostname=host,
                                           cert_reqs="CERT_REQUIRED", ca_certs=certifi.where(), **options)
    else:
        pool = urllib3.HTTPConnectionPool(addresses[0], port, **options)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        response = pool.urlopen("POST", path, body=body, headers={**headers, "Host": parts.netloc},
                                redirect=False, preload_content=False)
        try:
            text = response.read(RESPONSE_KEPT * 4, decode_content=True).decode("utf-8", "replace")
        finally:
            response.release_conn()
        return Answer(status=response.status, body=text[:RESPONSE_KEPT])
    finally:
        pool.close()
