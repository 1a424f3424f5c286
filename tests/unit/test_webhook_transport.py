"""The webhook sender against a real HTTP(S) server on 127.0.0.1: results, limits, DNS rebinding, TLS names."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.outbound.ssrf import UrlPolicy
from app.outbound.transport import USER_AGENT, SendResult, WebhookSender

LOCAL = UrlPolicy(allow_http=True, allowed_networks=("127.0.0.0/8",))
SIGNATURE = "v1,c2VjcmV0LXNpZ25hdHVyZS12YWx1ZQ=="


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """What the test server saw; ``release`` ends deliberately slow or endless answers at teardown."""

    port: int
    requests: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    sni: list[str | None] = field(default_factory=list)


class Handler(BaseHTTPRequestHandler):
    """Answers by path: /ok, /fail, /redirect, /slow, /big, /endless."""

    server: Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
        route = self.path.split("?")[0].strip("/")
        getattr(self, f"answer_{route}")()

    def answer_ok(self) -> None:
        self.respond(200, b"accepted \xe2\x9c\x93")

    def answer_fail(self) -> None:
        self.respond(500, b"boom")

    def answer_redirect(self) -> None:
        self.respond(302, b"", location="http://169.254.169.254/latest/meta-data/")

    def answer_slow(self) -> None:
        self.server.receiver.release.wait(5)  # longer than the sender waits; teardown releases it

    def answer_big(self) -> None:
        self.respond(200, b"x" * 200_000)

    def answer_endless(self) -> None:
        # No Content-Length: the body lasts until the connection closes, i.e. until the sender stops reading.
        self.send_response(200)
        self.end_headers()
        deadline = time.monotonic() + 5
        while not self.server.receiver.release.is_set() and time.monotonic() < deadline:
            self.wfile.write(b"y" * 65536)

    def respond(self, status: int, body: bytes, location: str | None = None) -> None:
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Set-Cookie", "session=abc; Path=/")
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    receiver: Receiver

    def handle_error(self, request, client_address) -> None:
        pass  # a sender that stops reading early resets the connection: expected, not worth a traceback


@contextmanager
def serving(tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    server = Server(("127.0.0.1", 0), Handler)
    receiver = server.receiver = Receiver(port=server.server_address[1])
    if tls is not None:
        tls.sni_callback = lambda sock, name, context: receiver.sni.append(name)
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving() as running:
        yield running


@pytest.fixture
def sender() -> Iterator[WebhookSender]:
    with WebhookSender(LOCAL, timeout_seconds=2, connect_timeout_seconds=1, max_excerpt=64) as created:
        yield created


class Resolver:
    """Answers from a script, one answer per call, and records every question."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def send(sender: WebhookSender, url: str, body: bytes = b'{"type":"job.done"}') -> SendResult:
    return sender.post(url, body, {"Content-Type": "application/json", "webhook-signature": SIGNATURE})


def test_a_2xx_answer_is_ok_with_an_excerpt(sender, receiver):
    result = send(sender, f"http://127.0.0.1:{receiver.port}/ok")
    assert result == SendResult(200, result.duration_ms, "accepted \u2713", None, None)
    assert result.ok
    assert 0 < result.duration_ms < 2000


def test_a_5xx_answer_is_not_ok_but_keeps_its_status(sender, receiver):
    result = send(sender, f"http://127.0.0.1:{receiver.port}/fail")
    assert (result.ok, result.status_code, result.response_excerpt, result.error_code) == (False, 500, "boom", None)


def test_a_redirect_is_recorded_and_never_followed():
    resolve = Resolver(["127.0.0.1"])
    with serving() as receiver, WebhookSender(LOCAL, resolve=resolve) as sender:
        result = send(sender, f"http://hooks.test:{receiver.port}/redirect")
    assert (result.ok, result.status_code, result.error_code) == (False, 302, None)
    assert [r.path for r in receiver.requests] == ["/redirect"]
    assert resolve.asked == [("hooks.test", receiver.port)]  # nothing else was looked up, let alone contacted


def test_headers_and_body_arrive_unchanged(sender, receiver):
    body = b'{"type":"job.completed","data":{"id":"j-1","note":"\xc3\xa9"}}'
    headers = {"Content-Type": "application/json", "webhook-id": "msg_1", "webhook-signature": SIGNATURE}
    result = sender.post(f"http://127.0.0.1:{receiver.port}/ok?tenant=a", body, headers)
    assert result.ok
    (seen,) = receiver.requests
    assert seen.path == "/ok?tenant=a"
    assert seen.body == body
    assert {name: seen.headers[name] for name in headers} == headers
    assert seen.headers["User-Agent"] == USER_AGENT
    assert seen.headers["Host"] == f"127.0.0.1:{receiver.port}"
    assert seen.headers["Content-Length"] == str(len(body))


def test_a_given_user_agent_wins_and_cookies_are_never_sent_back(sender, receiver):
    url = f"http://127.0.0.1:{receiver.port}/ok"
    assert sender.post(url, b"{}", {"User-Agent": "custom/2"}).ok
    assert sender.post(url, b"{}", {}).ok  # the first answer set a cookie
    first, second = receiver.requests
    assert first.headers["User-Agent"] == "custom/2"
    assert "Cookie" not in second.headers


def test_a_slow_receiver_times_out(receiver):
    with WebhookSender(LOCAL, timeout_seconds=0.2, connect_timeout_seconds=0.2) as sender:
        result = send(sender, f"http://127.0.0.1:{receiver.port}/slow")
    assert (result.status_code, result.error_code) == (None, "timeout")
    assert result.error == f"127.0.0.1 port {receiver.port} did not answer in time."
    assert result.duration_ms < 1500


def test_a_closed_port_is_a_connect_error(sender):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = send(sender, f"http://127.0.0.1:{port}/ok")
    assert (result.status_code, result.error_code) == (None, "connect_error")
    assert result.error == f"Could not connect to 127.0.0.1 port {port}: Connection refused."


def test_the_next_vetted_address_is_tried_when_one_refuses_connections(receiver):
    resolve = Resolver(["127.0.0.2", "127.0.0.1"])  # nothing listens on 127.0.0.2
    with WebhookSender(LOCAL, resolve=resolve) as sender:
        assert send(sender, f"http://hooks.test:{receiver.port}/ok").ok
    assert len(receiver.requests) == 1


def test_a_large_body_is_cut_to_the_excerpt(sender, receiver):
    result = send(sender, f"http://127.0.0.1:{receiver.port}/big")
    assert result.ok
    assert result.response_excerpt == "x" * 64


def test_an_endless_body_is_not_read_to_the_end(sender, receiver):
    result = send(sender, f"http://127.0.0.1:{receiver.port}/endless")
    assert (result.status_code, result.response_excerpt) == (200, "y" * 64)
    assert result.duration_ms < 1000  # the server would keep writing for 5 s


def test_a_refused_url_is_a_result_and_nothing_is_contacted(receiver):
    strict = UrlPolicy(allow_http=True)
    with WebhookSender(strict) as sender, WebhookSender(UrlPolicy()) as https_only:
        result = send(sender, f"http://127.0.0.1:{receiver.port}/ok")
        plain_http = https_only.post("http://hooks.example/", b"", {})
    assert (result.status_code, result.error_code) == (None, "address_not_allowed")
    assert result.error.startswith("127.0.0.1 is a loopback address")
    assert receiver.requests == []
    assert plain_http.error_code == "scheme_not_allowed"


def test_invalid_header_values_are_a_result_that_does_not_repeat_them(sender, receiver):
    result = sender.post(f"http://127.0.0.1:{receiver.port}/ok", b"", {"webhook-signature": SIGNATURE + "\n"})
    assert result.error_code == "send_error"
    assert SIGNATURE not in result.error
    assert receiver.requests == []


def test_the_connection_goes_to_the_vetted_address_under_the_real_name(receiver):
    # hooks.test does not exist in DNS: the request can only arrive if the sender used the vetted address.
    resolve = Resolver(["127.0.0.1"])
    with WebhookSender(LOCAL, resolve=resolve) as sender:
        assert send(sender, f"http://hooks.test:{receiver.port}/ok").ok
    (seen,) = receiver.requests
    assert seen.headers["Host"] == f"hooks.test:{receiver.port}"
    assert resolve.asked == [("hooks.test", receiver.port)]


def test_a_rebound_name_is_resolved_once_per_send_and_refused_when_it_changes(receiver):
    rebinding = Resolver(["127.0.0.1"], ["10.0.0.1"])
    with WebhookSender(LOCAL, resolve=rebinding) as sender:
        first = send(sender, f"http://hooks.test:{receiver.port}/ok")
        second = send(sender, f"http://hooks.test:{receiver.port}/ok")
    assert first.ok
    assert second.error_code == "address_not_allowed"
    assert second.error.startswith("hooks.test resolves to 10.0.0.1, a private address")
    assert len(rebinding.asked) == 2  # once per send: no second lookup between check and connect
    assert len(receiver.requests) == 1


def test_a_name_that_rebinds_into_a_refused_loopback_address_is_refused():
    only_one = UrlPolicy(allow_http=True, allowed_networks=("127.0.0.1/32",))
    with serving() as receiver, WebhookSender(only_one, resolve=Resolver(["127.0.0.1"], ["127.0.0.2"])) as sender:
        assert send(sender, f"http://hooks.test:{receiver.port}/ok").ok
        assert send(sender, f"http://hooks.test:{receiver.port}/ok").error_code == "address_not_allowed"
    assert len(receiver.requests) == 1


def certificate_for(name: str) -> tuple[bytes, bytes]:
    """A self-signed certificate naming only the DNS name ``name`` (no IP address), and its key, as PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


@contextmanager
def https_receiver(name: str, tmp_path) -> Iterator[tuple[Receiver, WebhookSender]]:
    """An https server presenting a certificate for ``name``, and a sender that trusts it and resolves to it."""
    cert_pem, key_pem = certificate_for(name)
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    (tmp_path / "key.pem").write_bytes(key_pem)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    trust = ssl.create_default_context(cadata=cert_pem.decode())
    policy = UrlPolicy(allowed_networks=("127.0.0.0/8",))
    with (
        serving(tls=server_context) as receiver,
        WebhookSender(policy, resolve=Resolver(["127.0.0.1"]), verify_tls=trust) as sender,
    ):
        yield receiver, sender


def test_https_checks_the_certificate_against_the_name_not_the_address(tmp_path):
    with https_receiver("localhost", tmp_path) as (receiver, sender):
        result = send(sender, f"https://localhost:{receiver.port}/ok")
    assert result.ok, result.error
    assert receiver.sni == ["localhost"]
    assert receiver.requests[0].headers["Host"] == f"localhost:{receiver.port}"


def test_https_refuses_a_certificate_for_another_name(tmp_path):
    with https_receiver("other.test", tmp_path) as (receiver, sender):
        result = send(sender, f"https://localhost:{receiver.port}/ok")
    assert (result.status_code, result.error_code) == (None, "tls_error")
    assert result.error == (
        f"TLS with localhost (127.0.0.1) port {receiver.port} failed: "
        "certificate verify failed: Hostname mismatch, certificate is not valid for 'localhost'."
    )
    assert receiver.requests == []


def test_https_to_an_address_literal_checks_the_certificate_for_that_address(tmp_path):
    with https_receiver("localhost", tmp_path) as (receiver, sender):
        result = send(sender, f"https://127.0.0.1:{receiver.port}/ok")
    assert result.error_code == "tls_error"  # the certificate names localhost, not 127.0.0.1
    assert receiver.sni == [None]


def test_a_receiver_dripping_its_answer_cannot_hold_an_attempt_past_the_deadline():
    """Each read is within the read timeout, but the whole attempt is bounded (regression: review finding)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def drip() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
                if stop.is_set():
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.1)

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    try:
        with WebhookSender(LOCAL, timeout_seconds=0.5, connect_timeout_seconds=0.5, deadline_seconds=1.0) as sender:
            started = time.monotonic()
            result = sender.post(f"http://127.0.0.1:{port}/hooks", b"{}", {})
            took = time.monotonic() - started
    finally:
        stop.set()
        thread.join(5)
        listener.close()
    assert result.error_code == "timeout"
    assert result.status_code is None
    assert took < 3.0
