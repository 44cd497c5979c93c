"""Channel names come only from a validated tenant and session: no id can reach another's channel."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime import channel_for
from runtime.channels import ChannelError, channel_name, check_channel, parse_channel

tenants = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9-]{0,63}\Z")
sessions = st.from_regex(r"\A[A-Za-z0-9_-]{1,128}\Z")


def test_the_seed_channel() -> None:
    assert channel_name(2, "abc123") == "tenant.2.conversation.abc123"
    assert parse_channel("tenant.2.conversation.abc123") == ("2", "abc123")


@pytest.mark.parametrize(
    "session",
    ["", "abc.tenant.3", "abc 123", "a/b", "a:b", "a*", "x" * 129, "tam\u0131", "abc\n", "..", "a.conversation.b"],
)
def test_bad_session_ids_are_refused(session: str) -> None:
    with pytest.raises(ChannelError, match="session id"):
        channel_name("2", session)


@pytest.mark.parametrize("tenant", ["", "-1", "2.conversation.x", "a b", "2*", "t" * 65])
def test_bad_tenant_ids_are_refused(tenant: str) -> None:
    with pytest.raises(ChannelError, match="tenant id"):
        channel_name(tenant, "abc")


@pytest.mark.parametrize(
    "name",
    [
        "tenant.2.conversation.abc.tenant.3",
        "tenant.*.conversation.abc",
        "tenant.2.conversation.",
        "foo",
        "tenant.2.chat.x",
    ],
)
def test_malformed_channel_names_are_refused(name: str) -> None:
    with pytest.raises(ChannelError):
        check_channel(name)


@given(tenants, sessions, tenants, sessions)
def test_names_are_injective_and_parse_back(t1: str, s1: str, t2: str, s2: str) -> None:
    first, second = channel_name(t1, s1), channel_name(t2, s2)
    assert parse_channel(first) == (t1, s1)
    assert (first == second) == ((t1, s1) == (t2, s2))


@given(tenants, sessions)
def test_the_engine_builds_the_same_name(tenant: str, session: str) -> None:
    assert channel_for(tenant, session) == channel_name(tenant, session)
