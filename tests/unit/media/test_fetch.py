"""Which addresses the media fetcher may connect to."""

from __future__ import annotations

import pytest

from postwatch.media.fetch import is_public_address


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "fc00::1",
        "::7f00:1",  # IPv4-compatible (::/96), which Python calls global
        "::808:808",  # IPv4-compatible, of a public address all the same
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b::808:808",  # NAT64, of a public address all the same
        "64:ff9b:1::a00:1",
        "::ffff:127.0.0.1",
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "fec0::1",
        "not an address",
    ],
)
def test_private_and_translated_addresses_are_refused(address: str) -> None:
    assert not is_public_address(address)
