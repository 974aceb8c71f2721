"""Server-side request forgery: an endpoint URL must not reach into the installation's own
network. Checked when it is saved and again on each attempt (a name may resolve elsewhere
tomorrow), on the addresses the attempt then connects to."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import httpx

MAX_URL_LENGTH = 2000
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedURL(ValueError):
    """The URL is malformed, or may not be called; the message says why."""


def parse_url(url: str, allow_private: bool) -> httpx.URL:
    """The URL, if its form may be called: https (http too when private addresses are allowed),
    a host, no credentials."""
    if len(url) > MAX_URL_LENGTH:
        raise RefusedURL(f"a URL has at most {MAX_URL_LENGTH} characters")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as error:
        raise RefusedURL(f"not a URL: {error}") from None
    allowed = ("https", "http") if allow_private else ("https",)
    if parsed.scheme not in allowed:
        raise RefusedURL("the URL must start with https://")
    if not parsed.host:
        raise RefusedURL("the URL has no host")
    if parsed.userinfo:
        raise RefusedURL("the URL may not hold a user name or password")
    return parsed


def is_public(address: IPAddress) -> bool:
    """Globally routable: not loopback, private, link-local (169.254.169.254, the cloud
    metadata service), shared, multicast or reserved -- also behind an IPv4-mapped IPv6 one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def resolve(host: str, port: int, allow_private: bool) -> list[str]:
    """The addresses to connect to for `host`, every one of them allowed; refused (RefusedURL)
    when the name does not resolve or any address it gives is not public (unless allowed)."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        found = [literal]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            raise RefusedURL(f"{host} does not resolve: {error}") from None
        found = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    if not allow_private:
        for address in found:
            if not is_public(address):
                raise RefusedURL(
                    f"{host} resolves to {address}, a private, loopback or link-local address:"
                    " webhooks go to public addresses only"
                )
    return [str(address) for address in found]
