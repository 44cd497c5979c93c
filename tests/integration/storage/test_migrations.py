"""Migrations: empty -> head, previous revision with rows -> head, models == migrations."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from storage.db import Database, init_db
from storage.migrate import alembic_config, current_revision, head_revision, upgrade
from storage.repos import flows, messages, runs, sessions, users

from .rows import count_metrics, delete_user

TABLES_0001 = {"tenants", "flows", "flow_versions", "runs", "tenant_flow_metrics", "conversation_messages", "products"}
TABLES_0002 = {"credentials", "api_tokens", "users"}
TABLES_0003 = {"editor_sessions"}
TABLES_DURABLE = {"run_requests", "run_checkpoints"}
TABLES_EXPERIMENTS = {"experiments", "experiment_variants", "experiment_assignments", "run_feedback"}
TABLES_EVALUATIONS = {"eval_datasets", "eval_cases", "evaluations", "eval_results"}
TABLES_KNOWLEDGE = {"knowledge_bases", "knowledge_documents", "knowledge_chunks"}
TABLES_PUBLISHING = {"publishable_keys"}
TABLES_INSPECTION = {"run_nodes"}
ALL_TABLES = (TABLES_0001 | TABLES_0002 | TABLES_0003 | TABLES_DURABLE | TABLES_EXPERIMENTS | TABLES_EVALUATIONS
              | TABLES_KNOWLEDGE | TABLES_PUBLISHING | TABLES_INSPECTION)
HEAD = "0011"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def columns(database: Database, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(database.engine).get_columns(table)}


def tables(database: Database) -> set[str]:
    return set(sa.inspect(database.engine).get_table_names()) - {"alembic_version"}


def downgrade(database: Database, revision: str) -> None:
    """What ``alembic downgrade`` does, on the test's database (the app only ever upgrades)."""
    config = alembic_config(database)
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def test_empty_database_upgrades_to_head(database_url):
    database = Database(database_url)
    try:
        assert current_revision(database) is None
        upgrade(database)
        assert current_revision(database) == head_revision(database) == HEAD
        assert tables(database) == ALL_TABLES
        upgrade(database)  # again: nothing to do, no error
        assert current_revision(database) == HEAD
    finally:
        database.dispose()


def test_previous_revision_with_rows_upgrades_and_keeps_them(database_url):
    database = Database(database_url)
    try:
        upgrade(database, "0001")
        assert tables(database) == TABLES_0001
        with database.session() as s:  # the 0001 tables are all the repositories below need
            flows.save_flow(s, "2", {"flow_id": 6, "name": "Seed flow"})
            messages.save_messages(s, "2", "abc123", [])
        with database.engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO conversation_messages (tenant_id, session_id, seq, role, content, created_at) "
                "VALUES ('2', 'abc123', 0, 'user', 'Transpalet arıyorum', CURRENT_TIMESTAMP)"))
        upgrade(database)
        assert current_revision(database) == HEAD and tables(database) >= TABLES_0002 | TABLES_0003
        with database.session() as s:
            assert flows.get_document(s, "2", "6").name == "Seed flow"
            assert [m.content for m in messages.history(s, "2", "abc123", 5)] == ["Transpalet arıyorum"]
            assert count_metrics(s, "2") == 0
    finally:
        database.dispose()


def test_0002_with_users_upgrades_to_sessions_that_go_with_their_user(database_url):
    """0002 -> 0003 keeps the users; a session row needs its user and is deleted with it."""
    database = Database(database_url)
    try:
        upgrade(database, "0002")
        assert tables(database) == TABLES_0001 | TABLES_0002
        database.call(users.create_user, "2", "alice", "long enough password")
        upgrade(database)
        assert current_revision(database) == HEAD and tables(database) == ALL_TABLES
        row, secret = database.call(sessions.create_session, "2", "alice", user_agent="test", address="127.0.0.1")
        found = database.call(sessions.lookup_session, row.id, secret)
        assert found is not None and (found.tenant_id, found.username) == ("2", "alice")
        assert database.call(delete_user, "2", "alice")
        with database.engine.connect() as connection:  # the foreign key's ON DELETE CASCADE, on both databases
            assert connection.execute(sa.text("SELECT count(*) FROM editor_sessions")).scalar() == 0
        downgrade(database, "0002")
        assert tables(database) == TABLES_0001 | TABLES_0002
    finally:
        database.dispose()


def test_0003_with_runs_upgrades_to_a_nullable_trace_id(database_url):
    """0003 -> 0004 keeps the runs (trace id None) and stores a new run's; down again drops the column."""
    database = Database(database_url)
    try:
        upgrade(database, "0003")
        with database.engine.begin() as connection:  # as 0003 wrote a run: no trace_id column
            connection.execute(sa.text(
                "INSERT INTO runs (id, tenant_id, flow_id, session_id, status, inputs, timings, started_at, "
                "tokens_in, tokens_out) VALUES ('old-run', '2', 'support', '', 'succeeded', '{}', '{}', "
                "CURRENT_TIMESTAMP, 0, 0)"))
        assert "trace_id" not in columns(database, "runs")
        upgrade(database)
        assert current_revision(database) == HEAD and "trace_id" in columns(database, "runs")
        assert database.call(runs.get_run, "2", "old-run").trace_id is None
        database.call(runs.record_run, "2", "new-run", "support", status="succeeded", trace_id=TRACE)
        assert database.call(runs.get_run, "2", "new-run").trace_id == TRACE
        downgrade(database, "0003")
        assert "trace_id" not in columns(database, "runs")
        assert tables(database) == TABLES_0001 | TABLES_0002 | TABLES_0003
        with database.engine.connect() as connection:  # the rows survive SQLite's table copy
            assert connection.execute(sa.text("SELECT count(*) FROM runs")).scalar() == 2
    finally:
        database.dispose()


def test_downgrade_and_upgrade_again(database_url):
    database = init_db(database_url, seed_demo=False)
    try:
        downgrade(database, "0001")
        assert tables(database) == TABLES_0001
        downgrade(database, "base")
        assert tables(database) == set()
        upgrade(database)
        assert tables(database) == ALL_TABLES
    finally:
        database.dispose()


def test_the_models_and_the_migrations_describe_the_same_schema(db):
    """Alembic's autogenerate finds nothing to change: no model edit is missing a migration."""
    import storage.models  # noqa: F401

    ours = sa.MetaData()
    for table in SQLModel.metadata.tables.values():
        if table.name in ALL_TABLES:
            table.to_metadata(ours)
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, ours)
    assert diff == []


def test_processes_starting_at_once_migrate_once(database_url):
    databases = [Database(database_url) for _ in range(3)]
    try:
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(upgrade, databases))
        assert current_revision(databases[0]) == HEAD
    finally:
        for database in databases:
            database.dispose()
