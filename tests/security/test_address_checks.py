"""Issue 15, defect 10: IPv6 spellings of loopback and private IPv4 addresses (IPv4-mapped,
IPv4-compatible, NAT64, 6to4, Teredo) are refused by the webhooks' address check, as the IPv4
address itself is."""

from __future__ import annotations

import pytest

from tryvoga.delivery.safety import Policy
from tryvoga.errors import BadRequest

REFUSED = ["::127.0.0.1", "::ffff:127.0.0.1", "64:ff9b::7f00:1", "64:ff9b::a00:1",
           "64:ff9b:1::7f00:1", "2002:7f00:1::", "2002:a00:1::1", "2002:a9fe:a9fe::",
           "2001:0:4136:e378:8000:63bf:80ff:fffe", "::a00:1", "::", "::1", "fe80::1"]
ALLOWED = ["2606:4700:4700::1111", "64:ff9b::808:808", "2002:808:808::1", "8.8.8.8"]


@pytest.mark.parametrize("address", REFUSED)
def test_ipv6_forms_of_private_addresses_are_refused(address: str) -> None:
    policy = Policy()
    assert not policy.allows(address)
    with pytest.raises(BadRequest) as refused:
        policy.check_url(f"http://[{address}]/hook")
    assert refused.value.code == "webhook_destination_refused"


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert Policy().allows(address)


def test_an_allowed_range_covers_the_embedded_address() -> None:
    assert Policy(["127.0.0.0/8"]).allows("64:ff9b::7f00:1")
