"""SSRF through http_request: the address and URL forms refused, IPv6 forms of private
addresses above all (judged by the IPv4 inside). The resolver is a stub (see ssrf_helpers)."""
from __future__ import annotations

import pytest

from runtime.net.addresses import blocked, refusal
from runtime.net.fetch import RequestRefused, check_url
from tests.hostile.ssrf_helpers import PUBLIC, PUBLIC_V6, StubResolver


# --- addresses: the IPv6 forms of private addresses are judged by the IPv4 inside -------------
@pytest.mark.parametrize("address", [
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
    "2002:c0a8:101:1::1",  # 6to4 of 192.168.1.1
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::10.0.0.1",
    "64:ff9b::169.254.169.254",
    "64:ff9b:1::a00:1",  # local-use NAT64
    "::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:10.1.2.3", "::ffff:169.254.169.254",  # IPv4-mapped
    "::ffff:0:127.0.0.1",  # IPv4-translated
    "::127.0.0.1", "::10.0.0.1",  # IPv4-compatible
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "2001::7f00:1", "2001:0:a00:1::",  # Teredo carrying private addresses
    "100.64.0.1", "192.0.0.9", "198.18.0.1", "224.0.0.1", "255.255.255.255", "0.1.2.3",
    "::", "::1", "fe80::1%eth0", "fec0::1", "fc00::1", "ff02::1", "2001:db8::1", "100::1",
])
def test_private_forms_are_blocked(address: str):
    assert blocked(address)


@pytest.mark.parametrize("address", [PUBLIC, "8.8.8.8", PUBLIC_V6, "2606:4700:4700::1111",
                                     "2002:808:808::1", "64:ff9b::808:808", "::ffff:8.8.8.8"])
def test_public_forms_pass(address: str):
    assert not blocked(address)


def test_the_refusal_names_the_embedded_address():
    assert refusal("2002:7f00:1::") == "the 6to4 form of 127.0.0.1, a loopback, private, link-local, " \
                                      "multicast or reserved address"
    assert "NAT64 form of 169.254.169.254, the cloud metadata address" in refusal("64:ff9b::a9fe:a9fe")
    assert "IPv4-mapped form of 10.0.0.1" in refusal("::ffff:10.0.0.1")
    assert "Teredo" in refusal("2001:0:4136:e378:8000:63bf:3fff:fdd2")


@pytest.mark.parametrize("answer", [["2002:7f00:1::"], ["64:ff9b::a9fe:a9fe"], ["::ffff:127.0.0.1"],
                                    ["2001:0:4136:e378:8000:63bf:3fff:fdd2"], [PUBLIC, "10.0.0.1"],
                                    [PUBLIC_V6, "fd00::1"], ["not-an-ip"]])
async def test_a_name_resolving_to_any_private_form_is_refused(answer: list[str]):
    with pytest.raises(RequestRefused, match="refused"):
        await check_url("https://api.example/", set(), StubResolver(api_example=[answer]))


@pytest.mark.parametrize("url", ["http://[2002:7f00:1::]/", "http://[64:ff9b::7f00:1]:8080/",
                                 "http://[::ffff:169.254.169.254]/latest", "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
                                 "http://0x7f000001/", "http://2130706433/", "http://127.1/", "http://[::]/",
                                 "http://LOCALHOST./", "http://api.localhost/", "http://metadata/"])
async def test_literal_and_odd_forms_in_urls_are_refused(url: str):
    with pytest.raises(RequestRefused, match="refused"):
        await check_url(url, set())  # the system resolver: these never leave the machine
