"""Sending one webhook over HTTP, SSRF-safe: vet the URL, connect only to the vetted addresses, never raise.

The host is resolved once (by ``vet_url``) and the request goes to a vetted IP address, with the real
name kept in the ``Host`` header and, for https, in TLS SNI and the certificate check. Redirects are
never followed, the environment's proxies are ignored, no cookies are kept and the body read is capped.
"""

from __future__ import annotations

import codecs
import contextlib
import http.cookiejar
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx

from app.outbound.ssrf import Resolver, UrlPolicy, UrlRefused, VettedUrl, system_resolver, vet_url

USER_AGENT = "reprotect-webhooks/1"
MAX_ADDRESSES = 3  # a name resolving to many addresses must not multiply an attempt's duration


@dataclass(frozen=True)
class SendResult:
    """The outcome of one POST: an HTTP status, or an ``error_code`` and a sentence saying what went wrong."""

    status_code: int | None
    duration_ms: float
    response_excerpt: str = ""
    error_code: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the receiver accepted the webhook (2xx; a redirect is not acceptance)."""
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookSender:
    """Posts webhooks under a ``UrlPolicy``; one per process, safe to share between threads."""

    def __init__(
        self,
        policy: UrlPolicy,
        *,
        timeout_seconds: float = 10.0,
        connect_timeout_seconds: float = 3.0,
        max_excerpt: int = 1024,
        resolve: Resolver = system_resolver,
        verify_tls: bool | ssl.SSLContext = True,
        deadline_seconds: float | None = None,
    ) -> None:
        self._policy = policy
        # httpx's timeouts bound each read; a receiver dripping a byte at a time could hold an attempt for
        # hours. The deadline bounds the whole attempt (default: connect + read timeout).
        self._deadline = deadline_seconds or (timeout_seconds + connect_timeout_seconds)
        self._resolve = resolve
        self._max_excerpt = max(0, max_excerpt)
        self._client = httpx.Client(
            verify=verify_tls,
            trust_env=False,
            follow_redirects=False,
            timeout=httpx.Timeout(timeout_seconds, connect=connect_timeout_seconds),
            # A pooled connection is keyed by IP and port only: reusing one verified for another host name
            # would skip that name's certificate check. Webhooks are rare enough to connect afresh.
            limits=httpx.Limits(max_keepalive_connections=0),
            cookies=http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[])),
            # identity: a compressed body could expand without bound before the excerpt is cut.
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
        )

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendResult:
        """POST ``body`` with ``headers`` to ``url``; refusals and network failures come back as results."""
        return self.send("POST", url, body, headers)

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> SendResult:
        """GET ``url`` under the same policy (a campaign's health checks); failures come back as results."""
        return self.send("GET", url, b"", headers or {})

    def send(self, method: str, url: str, body: bytes, headers: Mapping[str, str]) -> SendResult:
        """One exchange with ``url``, vetted and bounded like every outbound call of the service."""
        started = time.perf_counter()
        try:
            target = vet_url(url, self._policy, self._resolve)
        except UrlRefused as refused:
            return _failure(started, refused.code, refused.message)
        failure: tuple[str, str] | None = None
        for address in target.addresses[:MAX_ADDRESSES]:
            try:
                return self._exchange(method, target, address, body, headers, started)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                failure = _describe_failure(exc, target, address, headers)
                if failure[0] == "tls_error":
                    break  # the certificate is wrong for this name; another address will not fix that
            except (httpx.HTTPError, UnicodeEncodeError) as exc:
                failure = _describe_failure(exc, target, address, headers)
                break
        assert failure is not None  # vet_url never returns an empty address list
        return _failure(started, *failure)

    def close(self) -> None:
        """Close the HTTP client and its connections."""
        self._client.close()

    def __enter__(self) -> WebhookSender:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _exchange(
        self, method: str, target: VettedUrl, address: str, body: bytes, headers: Mapping[str, str], started: float
    ) -> SendResult:
        request = self._client.build_request(
            method,
            target.url.copy_with(host=address),
            content=body or None,
            headers={**_without_host(headers), "Host": target.host_header},
            extensions={} if target.is_literal else {"sni_hostname": target.host},
        )
        watchdog = _Watchdog(self._deadline)
        request.extensions["trace"] = watchdog.trace
        try:
            response = self._client.send(request, stream=True)
            try:
                excerpt = _read_excerpt(response, self._max_excerpt)
            finally:
                response.close()
        except httpx.HTTPError as exc:
            if watchdog.fired:
                raise httpx.ReadTimeout(f"no complete answer within {self._deadline:g} s") from exc
            raise
        finally:
            watchdog.cancel()
        return SendResult(status_code=response.status_code, duration_ms=_elapsed_ms(started), response_excerpt=excerpt)


class _Watchdog:
    """Shuts the attempt's socket down when the deadline passes, which ends any read blocked on it."""

    def __init__(self, seconds: float):
        self.fired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace hook: remember each socket the attempt opens."""
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            sock = info["return_value"].get_extra_info("socket")
            if sock is not None:
                with self._lock:
                    self._sockets.append(sock)
                    late = self.fired
                if late:
                    self._shutdown(sock)

    def cancel(self) -> None:
        """The attempt ended in time."""
        self._timer.cancel()

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            sockets = list(self._sockets)
        for sock in sockets:
            self._shutdown(sock)

    @staticmethod
    def _shutdown(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _without_host(headers: Mapping[str, str]) -> dict[str, str]:
    # The URL decides the Host header: it names what was vetted and what the certificate must match.
    return {name: value for name, value in headers.items() if name.lower() != "host"}


def _read_excerpt(response: httpx.Response, limit: int) -> str:
    if limit == 0:
        return ""
    encoding = response.headers.get("Content-Encoding", "identity").lower()
    if encoding != "identity":
        return f"({encoding}-encoded body not shown)"
    data = b"".join(_first_bytes(response.iter_raw(), limit))[:limit]
    try:
        decoder = codecs.getincrementaldecoder(response.charset_encoding or "utf-8")(errors="replace")
    except LookupError:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    return decoder.decode(data)[:limit]  # not final: a character cut in half at the limit is dropped


def _first_bytes(chunks: Iterator[bytes], limit: int) -> Iterator[bytes]:
    received = 0
    try:
        for chunk in chunks:
            yield chunk
            received += len(chunk)
            if received >= limit:
                return
    except httpx.HTTPError:
        return  # the status already arrived; a body cut short by the receiver is still an answer


def _describe_failure(exc: Exception, target: VettedUrl, address: str, headers: Mapping[str, str]) -> tuple[str, str]:
    where = target.host if target.host == address else f"{target.host} ({address})"
    where = f"{where} port {target.port}"
    if isinstance(exc, httpx.TimeoutException):
        code, message = "timeout", _timeout_message(exc, where)
    elif isinstance(exc, httpx.ConnectError):
        tls = _ssl_cause(exc)
        if tls is not None:
            code, message = "tls_error", f"TLS with {where} failed: {_tls_reason(tls)}"
        else:
            code, message = "connect_error", f"Could not connect to {where}: {_root_cause(exc)}."
    elif isinstance(exc, httpx.LocalProtocolError | UnicodeEncodeError):
        code, message = "send_error", "The request could not be encoded: a header name or value is invalid."
    else:
        code, message = "send_error", f"Sending to {where} failed: {type(exc).__name__}: {exc}"
    return code, _redact(message, headers)


def _timeout_message(exc: httpx.TimeoutException, where: str) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return f"Connecting to {where} timed out."
    if isinstance(exc, httpx.WriteTimeout):
        return f"{where} did not accept the request in time."
    return f"{where} did not answer in time."


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def _ssl_cause(exc: BaseException) -> ssl.SSLError | None:
    return next((cause for cause in _causes(exc) if isinstance(cause, ssl.SSLError)), None)


def _tls_reason(error: ssl.SSLError) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {error.verify_message.rstrip('.')}."
    return f"{error.reason or error}."


def _root_cause(exc: BaseException) -> str:
    root = list(_causes(exc))[-1]
    if isinstance(root, OSError) and root.strerror:
        return root.strerror
    return str(root) or type(root).__name__


def _redact(message: str, headers: Mapping[str, str]) -> str:
    # Signatures and tokens must never reach a stored error, whatever a library put in its message.
    for value in headers.values():
        if len(value) >= 4:
            message = message.replace(value, "[redacted]")
    return message


def _failure(started: float, code: str, message: str) -> SendResult:
    return SendResult(status_code=None, duration_ms=_elapsed_ms(started), error_code=code, error=message)


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
