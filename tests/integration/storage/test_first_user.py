"""The first editor user: created where the editor's flows are, so signing in never makes them
seem gone (seen: flows in tenant 1, the first user made in tenant 2, the start page then said
"There is no flow 'pallet-assistant'"); and the sign-in finds a user by name and password."""
from __future__ import annotations

from storage.repos import flows, users
from tests.integration.storage.test_cli import cli  # noqa: F401 - the CLI fixture, shared

FLOW = {"akis": 1, "flow_id": "pallet-assistant", "name": "Pallet", "nodes": [{"id": "in", "type": "user_input"}]}
PASSWORD = "a long password"


def test_the_first_user_goes_where_the_flows_are_unless_a_new_tenant_is_meant(cli, db):  # noqa: F811
    db.call(flows.save_flow, "1", FLOW)  # made in the editor before any user existed (it acts for tenant 1)
    code, _, err = cli("user", "create", "--tenant", "2", "--username", "ada", "--password-stdin", stdin=PASSWORD)
    assert code == 1 and "pallet-assistant" in err and "tenant 1" in err and "--new-tenant" in err, err
    assert not db.call(users.any_users)
    code, out, _ = cli("user", "create", "--username", "ada", "--password-stdin", stdin=PASSWORD)
    assert code == 0 and "for tenant 1" in out
    (ada,) = db.call(users.authenticate_by_name, "ada", PASSWORD)
    assert ada.tenant_id == "1" and [f.id for f in db.call(flows.list_flows, ada.tenant_id)] == ["pallet-assistant"]
    # once users exist, another tenant's user is a deliberate choice
    code, out, _ = cli("user", "create", "--tenant", "3", "--username", "bo", "--password-stdin", stdin=PASSWORD)
    assert code == 0 and "for tenant 3" in out


def test_a_first_user_in_a_new_tenant_when_asked(cli, db):  # noqa: F811
    db.call(flows.save_flow, "1", FLOW)
    code, out, _ = cli("user", "create", "-t", "2", "-u", "ada", "--new-tenant", "--password-stdin", stdin=PASSWORD)
    assert code == 0 and "for tenant 2" in out


def test_signing_in_by_name_finds_the_one_user_whose_password_fits(db):
    db.call(users.create_user, "2", "kim", PASSWORD)
    db.call(users.create_user, "3", "kim", "another password")
    assert [u.tenant_id for u in db.call(users.authenticate_by_name, "kim", PASSWORD)] == ["2"]
    assert [u.tenant_id for u in db.call(users.authenticate_by_name, "kim", "another password")] == ["3"]
    assert db.call(users.authenticate_by_name, "kim", PASSWORD, "3") == []  # the tenant given decides
    assert db.call(users.authenticate_by_name, "kim", "wrong password") == []
    assert db.call(users.authenticate_by_name, "nobody", PASSWORD) == []
    db.call(users.create_user, "4", "kim", PASSWORD)  # the same name and password twice: both found
    assert sorted(u.tenant_id for u in db.call(users.authenticate_by_name, "kim", PASSWORD)) == ["2", "4"]
