"""Which webhook URLs and addresses the SSRF policy refuses, and why."""

import ipaddress
import platform

import pytest

from app.outbound.ssrf import UrlPolicy, UrlRefused, check_address, check_url, system_resolver

STRICT = UrlPolicy()


def no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"an IP literal must not be resolved (asked for {host}:{port})")


def answers(*addresses: str):
    """A resolver that gives every name the same answer and records what it was asked."""

    def resolve(host: str, port: int) -> list[str]:
        resolve.asked.append((host, port))
        return list(addresses)

    resolve.asked = []
    return resolve


def refusal(url: str, policy: UrlPolicy = STRICT, resolve=no_dns) -> UrlRefused:
    with pytest.raises(UrlRefused) as caught:
        check_url(url, policy, resolve)
    return caught.value


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://10.0.0.5/hook", "a private address"),
        ("https://172.16.3.4/", "a private address"),
        ("https://192.168.1.10:8443/", "a private address"),
        ("https://127.0.0.1/", "a loopback address"),
        ("https://127.255.255.254/", "a loopback address"),
        ("https://0.0.0.0/", "the unspecified address"),
        ("https://169.254.10.20/", "a link-local address"),
        ("https://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
        ("https://168.63.129.16/machine", "a cloud metadata address"),
        ("https://100.64.0.1/", "not publicly routable"),
        ("https://198.18.0.1/", "198.18.0.1 is"),
        ("https://192.0.2.1/", "192.0.2.1 is"),
        ("https://203.0.113.9/", "203.0.113.9 is"),
        ("https://224.0.1.1/", "a multicast address"),
        ("https://240.0.0.1/", "a reserved address"),
        ("https://255.255.255.255/", "255.255.255.255 is"),
        ("https://[::1]/", "a loopback address"),
        ("https://[::]/", "the unspecified address"),
        ("https://[fe80::1]/", "a link-local address"),
        ("https://[fc00::1]/", "a private address"),
        ("https://[fd00:ec2::254]/", "a cloud metadata address"),
        ("https://[ff0e::1]/", "a multicast address"),
        ("https://[2001:db8::1]/", "2001:db8::1 is"),
        ("https://[::ffff:127.0.0.1]/", "IPv4-mapped form of 127.0.0.1, a loopback address"),
        ("https://[::ffff:169.254.169.254]/", "IPv4-mapped form of 169.254.169.254, a cloud metadata address"),
        ("https://[::ffff:10.1.2.3]/", "IPv4-mapped form of 10.1.2.3, a private address"),
        ("https://[::127.0.0.1]/", "IPv4-compatible form of 127.0.0.1"),
        ("https://[64:ff9b::a9fe:a9fe]/", "NAT64 form of 169.254.169.254, a cloud metadata address"),
        ("https://[64:ff9b::a00:1]/", "NAT64 form of 10.0.0.1, a private address"),
        ("https://[2002:a9fe:a9fe::]/", "6to4 form of 169.254.169.254, a cloud metadata address"),
        ("https://[2002:7f00:1::]/", "6to4 form of 127.0.0.1, a loopback address"),
        ("https://2130706433/", "2130706433 means 127.0.0.1"),
        ("https://0x7f.0.0.1/", "0x7f.0.0.1 means 127.0.0.1"),
        ("https://017700000001/", "017700000001 means 127.0.0.1"),
        ("https://127.1/", "127.1 means 127.0.0.1"),
        ("https://0xa9fea9fe/", "a cloud metadata address"),
    ],
)
def test_non_public_address_literals_are_refused_without_resolving(url, why):
    refused = refusal(url)
    assert refused.code == "address_not_allowed"
    assert why in refused.message
    assert "webhooks may" in refused.message


def test_the_message_names_the_host_the_address_and_how_to_allow_it():
    refused = refusal("https://webhook.example/hook", resolve=answers("10.0.0.5"))
    assert refused.message == (
        "webhook.example resolves to 10.0.0.5, a private address; webhooks may not call internal networks. "
        "Allow it with REPROTECT_WEBHOOK__ALLOWED_NETWORKS if this receiver is legitimate."
    )


def test_a_name_resolving_to_a_private_address_is_refused():
    resolve = answers("192.168.0.7")
    assert refusal("https://hooks.example/", resolve=resolve).code == "address_not_allowed"
    assert resolve.asked == [("hooks.example", 443)]


def test_one_private_address_among_public_ones_refuses_the_name():
    refused = refusal("https://hooks.example/", resolve=answers("93.184.215.14", "10.9.8.7"))
    assert refused.code == "address_not_allowed"
    assert "10.9.8.7" in refused.message


def test_a_name_resolving_to_a_mapped_metadata_address_is_refused():
    refused = refusal("https://hooks.example/", resolve=answers("::ffff:a9fe:a9fe"))
    assert "169.254.169.254, a cloud metadata address" in refused.message


def test_localhost_through_the_system_resolver_is_refused():
    refused = refusal("https://localhost:8443/hook", resolve=system_resolver)
    assert refused.code == "address_not_allowed"
    assert refused.message.startswith("localhost resolves to ")


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the legacy forms are what glibc's resolver accepts")
@pytest.mark.parametrize("form", ["2130706433", "0x7f.0.0.1", "017700000001", "127.1"])
def test_legacy_ipv4_forms_resolve_to_loopback_and_are_refused_that_way_too(form):
    assert system_resolver(form, 443) == ["127.0.0.1"]
    # Even a check that only saw the resolver's answer (a name that is not a literal) refuses it.
    refused = refusal("https://innocent.example/", resolve=lambda host, port: system_resolver(form, port))
    assert refused.message.startswith("innocent.example resolves to 127.0.0.1, a loopback address")


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("https://hooks.example/", "93.184.215.14"),
        ("https://hooks.example/", "2606:4700::1111"),
        ("https://hooks.example/", "64:ff9b::5db8:d70e"),  # NAT64 of 93.184.215.14 (IPv6-only networks)
        ("https://hooks.example/", "::ffff:93.184.215.14"),
    ],
)
def test_public_addresses_pass_and_are_returned(url, address):
    resolve = answers(address)
    vetted = check_url(url, STRICT, resolve)
    assert vetted == [str(ipaddress.ip_address(address))]
    assert resolve.asked == [("hooks.example", 443)]


def test_every_resolved_address_is_returned_once_in_order():
    resolve = answers("93.184.215.14", "2606:4700::1111")
    assert check_url("https://hooks.example:8443/x", STRICT, resolve) == ["93.184.215.14", "2606:4700::1111"]
    assert resolve.asked == [("hooks.example", 8443)]


def test_a_public_literal_passes_without_resolving():
    assert check_url("https://93.184.215.14/hook", STRICT, no_dns) == ["93.184.215.14"]
    assert check_url("https://[2606:4700::1111]/hook", STRICT, no_dns) == ["2606:4700::1111"]


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://hooks.example/", "scheme_not_allowed"),
        ("ftp://hooks.example/", "scheme_not_allowed"),
        ("file:///etc/passwd", "scheme_not_allowed"),
        ("gopher://hooks.example/", "scheme_not_allowed"),
        ("https://user:secret@hooks.example/", "credentials_in_url"),
        ("https://token@hooks.example/", "credentials_in_url"),
        ("//hooks.example/hook", "invalid_url"),
        ("/relative/hook", "invalid_url"),
        ("https:///no-host", "invalid_url"),
        ("https://[::1/", "invalid_url"),
        ("not a url", "invalid_url"),
    ],
)
def test_urls_refused_before_any_lookup(url, code):
    refused = refusal(url)
    assert refused.code == code


def test_credentials_are_not_repeated_in_the_message():
    refused = refusal("https://user:s3cr3t-value@hooks.example/")
    assert "s3cr3t-value" not in refused.message
    assert "hooks.example" in refused.message


def test_http_is_allowed_only_when_the_policy_says_so():
    assert check_url("http://hooks.example/", UrlPolicy(allow_http=True), answers("93.184.215.14"))
    assert "https" in refusal("http://hooks.example/").message


def test_a_name_that_does_not_resolve_is_refused():
    def failing(host: str, port: int) -> list[str]:
        raise OSError(-2, "Name or service not known")

    refused = refusal("https://nowhere.example/", resolve=failing)
    assert refused.code == "unresolvable_host"
    assert refused.message == "nowhere.example could not be resolved: Name or service not known."
    assert refusal("https://empty.example/", resolve=answers()).code == "unresolvable_host"
    assert refusal("https://junk.example/", resolve=answers("not-an-ip")).code == "unresolvable_host"


def test_the_real_resolver_reports_an_unknown_name_as_unresolvable():
    assert refusal("https://nothing-here.invalid/", resolve=system_resolver).code == "unresolvable_host"


def test_allowed_networks_let_internal_receivers_through():
    policy = UrlPolicy(allow_http=True, allowed_networks=("127.0.0.0/8", "::1/128", "10.20.0.0/16"))
    assert check_url("http://127.0.0.1:8080/", policy, no_dns) == ["127.0.0.1"]
    assert check_url("https://[::1]/", policy, no_dns) == ["::1"]
    assert check_url("https://[::ffff:127.0.0.1]/", policy, no_dns) == ["::ffff:7f00:1"]
    assert check_url("https://internal.example/", policy, answers("10.20.3.4")) == ["10.20.3.4"]
    assert refusal("https://internal.example/", policy, answers("10.21.3.4")).code == "address_not_allowed"


@pytest.mark.parametrize("address", ["169.254.169.254", "168.63.129.16", "::ffff:169.254.169.254", "fd00:ec2::254"])
def test_metadata_addresses_are_refused_even_inside_allowed_networks(address):
    everything = UrlPolicy(allowed_networks=("0.0.0.0/0", "::/0"))
    with pytest.raises(UrlRefused, match="cloud metadata address") as caught:
        check_address(address, everything)
    assert caught.value.code == "address_not_allowed"
    assert "no setting allows it" in caught.value.message


def test_an_allowed_link_local_network_still_excludes_the_metadata_address():
    policy = UrlPolicy(allowed_networks=("169.254.0.0/16",))
    check_address("169.254.1.1", policy)
    with pytest.raises(UrlRefused):
        check_address("169.254.169.254", policy)


def test_check_address_judges_single_addresses():
    check_address("93.184.215.14", STRICT)
    for address in ["10.0.0.1", "::1", "2130706433", "not-an-address"]:
        with pytest.raises(UrlRefused) as caught:
            check_address(address, STRICT)
        assert caught.value.code == "address_not_allowed"


def test_a_malformed_allowed_network_is_a_configuration_error():
    with pytest.raises(ValueError, match=r"10\.0\.0\.1/8"):
        UrlPolicy(allowed_networks=("10.0.0.1/8",))
