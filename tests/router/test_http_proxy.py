"""The CONNECT tunnel's sans-I/O parts: proxy URLs, the request, the reply."""

from __future__ import annotations

import base64

import pytest

from skupper_podman.router.http_proxy import (
    ProxyError,
    ProxyUrl,
    check_reply,
    connect_request,
    reply_end,
)


def test_proxy_urls() -> None:
    assert ProxyUrl.parse("http://proxy.example:3128") == ProxyUrl("proxy.example", 3128)
    assert ProxyUrl.parse("proxy.example:8080") == ProxyUrl("proxy.example", 8080)
    assert ProxyUrl.parse("http://proxy.example") == ProxyUrl("proxy.example", 80)
    with_secret = ProxyUrl.parse("http://us%40er:p%3Ass@10.0.0.1:3128/")
    assert (with_secret.username, with_secret.password) == ("us@er", "p:ss")
    assert with_secret.where == "10.0.0.1:3128"  # never the credentials


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://proxy:3128", "only http:// proxies are supported"),
        ("socks5://proxy:1080", "only http:// proxies are supported"),
        ("http://proxy:99999", "the port is not a number from 1 to 65535"),
        ("http://proxy:3128/path", "use http://[user:password@]host:port"),
        ("http://:3128", "use http://[user:password@]host:port"),
    ],
)
def test_bad_proxy_urls(url: str, why: str) -> None:
    with pytest.raises(ProxyError) as raised:
        ProxyUrl.parse(url)
    assert str(raised.value) == f"proxy {url!r}: {why}"


def test_connect_request_with_and_without_credentials() -> None:
    plain = connect_request(ProxyUrl("p", 3128), "hub.example", 55671)
    assert plain == b"CONNECT hub.example:55671 HTTP/1.1\r\nHost: hub.example:55671\r\n\r\n"
    secret = base64.b64encode(b"user:pw").decode()
    authorized = connect_request(ProxyUrl("p", 3128, "user", "pw"), "::1", 55671)
    assert authorized == (
        b"CONNECT [::1]:55671 HTTP/1.1\r\nHost: [::1]:55671\r\n"
        + f"Proxy-Authorization: Basic {secret}\r\n\r\n".encode()
    )


def test_reply_head_and_status() -> None:
    proxy = ProxyUrl("p", 3128)
    assert reply_end(b"HTTP/1.1 200 Connection established\r\n") is None
    head = b"HTTP/1.1 200 Connection established\r\nProxy-agent: x\r\n\r\n"
    assert reply_end(head) == len(head)
    check_reply(head, proxy)
    with pytest.raises(ProxyError, match=r"^proxy p:3128 refused the tunnel: 407 Proxy Auth"):
        check_reply(b"HTTP/1.0 407 Proxy Authentication Required\r\n\r\n", proxy)
    with pytest.raises(ProxyError, match="answered something else than HTTP"):
        check_reply(b"SSH-2.0-OpenSSH\r\n\r\n", proxy)
    with pytest.raises(ProxyError, match="has no end"):
        reply_end(b"x" * 20000)
