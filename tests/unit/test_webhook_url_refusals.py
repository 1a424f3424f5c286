"""Each SSRF decision per address class and URL shape, with the exact refusal an operator reads, and the legacy IPv4 edges."""

from __future__ import annotations

import socket

import httpx
import pytest

from app.outbound.ssrf import UrlPolicy, UrlRefused, check_address, system_resolver, vet_url

STRICT = UrlPolicy()
INTERNAL = (
    "; webhooks may not call internal networks. Allow it with REPROTECT_WEBHOOK__ALLOWED_NETWORKS if this receiver "
    "is legitimate."
)
METADATA = "; webhooks may never call a cloud metadata service, and no setting allows it."


def no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"an IP literal must not be resolved (asked for {host}:{port})")


def answers(*addresses: str):
    """A resolver that gives every name the same answer and records what it was asked."""

    def resolve(host: str, port: int) -> list[str]:
        resolve.asked.append((host, port))
        return list(addresses)

    resolve.asked = []
    return resolve


def failing(error: Exception):
    def resolve(host: str, port: int) -> list[str]:
        raise error

    return resolve


def address_refusal(address: str, policy: UrlPolicy = STRICT) -> UrlRefused:
    with pytest.raises(UrlRefused) as caught:
        check_address(address, policy)
    assert caught.value.code == "address_not_allowed"
    return caught.value


def url_refusal(url: str, policy: UrlPolicy = STRICT, resolve=no_dns) -> UrlRefused:
    with pytest.raises(UrlRefused) as caught:
        vet_url(url, policy, resolve)
    assert str(caught.value) == caught.value.message
    return caught.value


@pytest.mark.parametrize(
    ("address", "label"),
    [
        ("0.0.0.0", "the unspecified address"),
        ("127.0.0.1", "a loopback address"),
        ("169.254.1.1", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("10.0.0.1", "a private address"),
        ("100.64.0.1", "an address that is not publicly routable"),  # carrier-grade NAT
        ("::2", "an IPv4-compatible form of 0.0.0.2, a private address"),  # the first IPv4-compatible address
        ("::ffff:10.1.2.3", "an IPv4-mapped form of 10.1.2.3, a private address"),
    ],
)
def test_each_non_public_address_class_is_refused_by_name(address, label):
    assert address_refusal(address).message == f"{address} is {label}{INTERNAL}"


@pytest.mark.parametrize(
    ("address", "what"),
    [
        ("169.254.169.254", ""),
        ("fd00:ec2::254", ""),
        ("::ffff:169.254.169.254", "an IPv4-mapped form of 169.254.169.254, "),
    ],
)
def test_a_metadata_address_is_refused_as_one_even_when_allowed(address, what):
    everything = UrlPolicy(allowed_networks=("0.0.0.0/0", "::/0"))
    assert address_refusal(address, everything).message == f"{address} is {what}a cloud metadata address{METADATA}"


def test_something_that_is_not_an_address_is_refused_as_such():
    assert address_refusal("hooks.example").message == "'hooks.example' is not an IP address."


@pytest.mark.parametrize(
    ("form", "label"),
    [
        ("127.1.", "a loopback address"),  # a trailing dot, as inet_aton allows
        ("10.0x1.1", "a private address"),  # 10.1.0.1: the middle part is the second byte
        ("255.1", "a reserved address"),  # 255.0.0.1: a leading part may be 255
        ("4294967295", "a reserved address"),  # 255.255.255.255: the largest single number
    ],
)
def test_legacy_ipv4_forms_are_judged_as_the_address_they_mean(form, label):
    assert address_refusal(form).message == f"{form} is {label}{INTERNAL}"


@pytest.mark.parametrize(
    "form",
    [
        "256.1",  # a leading part above 255
        "1.16777216",  # the last part overflows the three bytes left to it
        "1.2.65536",  # ... or the two bytes left
        "1.2.3.256",  # ... or the one byte left
        "4294967296",  # 2**32
        "127.0.0.1.0",  # five parts
        "0x.1",
        "08.1",  # not octal
    ],
)
def test_legacy_forms_out_of_range_are_not_addresses(form):
    assert address_refusal(form).message == f"'{form}' is not an IP address."


@pytest.mark.parametrize(
    ("form", "address"),
    [
        ("1.16777215", "1.255.255.255"),
        ("1.2.65535", "1.2.255.255"),
        ("8.8.8.0xff", "8.8.8.255"),
        ("0x8.0x8.0x8.0x8", "8.8.8.8"),
        ("134744072", "8.8.8.8"),
    ],
)
def test_legacy_forms_at_the_top_of_their_range_are_public_addresses(form, address):
    vetted = vet_url(f"https://{form}/hook", STRICT, no_dns)
    assert (vetted.addresses, vetted.host, vetted.is_literal) == ([address], form, True)
    check_address(form, STRICT)


def test_a_legacy_literal_in_a_url_says_what_it_means():
    assert (
        url_refusal("https://127.1./hook").message == f"127.1. means 127.0.0.1, which is a loopback address{INTERNAL}"
    )


@pytest.mark.parametrize(
    ("url", "port"),
    [("http://hooks.example/", 80), ("https://hooks.example/", 443), ("http://hooks.example:8080/", 8080)],
)
def test_the_port_is_the_schemes_default_unless_named(url, port):
    resolve = answers("93.184.215.14")
    vetted = vet_url(url, UrlPolicy(allow_http=True), resolve)
    assert vetted.port == port
    assert resolve.asked == [("hooks.example", port)]
    assert (vetted.host, vetted.addresses, vetted.is_literal) == ("hooks.example", ["93.184.215.14"], False)


def test_a_url_that_cannot_be_parsed_is_refused_with_the_parsers_reason():
    with pytest.raises(httpx.InvalidURL) as parser:
        httpx.URL("https://[::1/")
    assert url_refusal("https://[::1/").message == f"The webhook URL is not valid: {parser.value}."


@pytest.mark.parametrize("scheme", ["ftp", "file", "gopher"])
def test_another_scheme_is_refused_by_name(scheme):
    refused = url_refusal(f"{scheme}://hooks.example/x")
    assert (refused.code, refused.message) == ("scheme_not_allowed", f"Webhook URLs must use https, not {scheme}.")


@pytest.mark.parametrize("url", ["/relative/hook", "https:///no-host"])
def test_a_url_without_a_scheme_or_a_host_is_refused(url):
    refused = url_refusal(url)
    assert (refused.code, refused.message) == (
        "invalid_url",
        "The webhook URL must be absolute, with a scheme and a host.",
    )


def test_plain_http_is_refused_with_the_setting_that_allows_it():
    refused = url_refusal("http://hooks.example/")
    assert (refused.code, refused.message) == (
        "scheme_not_allowed",
        "hooks.example: webhook URLs must use https; plain http is allowed only for development receivers "
        "(REPROTECT_WEBHOOK__ALLOW_HTTP).",
    )


def test_credentials_in_the_url_are_refused_with_why():
    refused = url_refusal("https://user:pw@hooks.example/")
    assert (refused.code, refused.message) == (
        "credentials_in_url",
        "The URL for hooks.example contains credentials (user:password@); webhooks are authenticated by their "
        "signature, so remove them.",
    )


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "Name or service not known"),
        (OSError("no route to the name server"), "no route to the name server"),  # an OSError without strerror
        (UnicodeError("label too long"), "label too long"),
        (ValueError("embedded null character"), "embedded null character"),
    ],
)
def test_a_name_that_cannot_be_resolved_is_refused_with_the_resolvers_reason(error, reason):
    refused = url_refusal("https://hooks.example/", resolve=failing(error))
    assert (refused.code, refused.message) == ("unresolvable_host", f"hooks.example could not be resolved: {reason}.")


def test_a_name_that_resolves_to_nothing_is_refused():
    refused = url_refusal("https://hooks.example/", resolve=answers())
    assert (refused.code, refused.message) == ("unresolvable_host", "hooks.example resolved to no address.")


def test_a_resolver_answer_that_is_not_an_address_is_refused():
    refused = url_refusal("https://hooks.example/", resolve=answers("93.184.215.14", "localhost"))
    assert (refused.code, refused.message) == (
        "unresolvable_host",
        "hooks.example resolved to 'localhost', which is not an IP address.",
    )


def test_the_system_resolver_gives_each_address_once_in_the_order_the_system_does(monkeypatch):
    # Hosts files and some DNS answers repeat an address; the sender tries only the first few, so each counts once.
    stream = socket.SOCK_STREAM
    answer = [
        (socket.AF_INET, stream, 6, "", ("10.0.0.7", 443)),
        (socket.AF_INET6, stream, 6, "", ("2001:db8::7", 443, 0, 0)),
        (socket.AF_INET, stream, 6, "", ("10.0.0.7", 443)),
        (socket.AF_INET, stream, 6, "", ("10.0.0.8", 443)),
    ]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: answer)
    assert system_resolver("hooks.example", 443) == ["10.0.0.7", "2001:db8::7", "10.0.0.8"]
