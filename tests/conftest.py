"""Shared fixtures: real PostgreSQL, MariaDB and SQLite databases, and one Prefect test harness.

PostgreSQL and MariaDB run on the machine (and in CI). A test that needs one skips with the reason
when the server is unreachable, unless CI is set: then it fails, because CI has the servers.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

# Prefect reads its settings at import: isolate it before any test module imports it.
_PREFECT_HOME = tempfile.mkdtemp(prefix="hkt-dsr-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

PG_ADMIN = os.environ.get("DSR_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB_ADMIN = os.environ.get("DSR_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/test")


def _unreachable(url: str, name: str) -> None:
    try:
        engine = create_engine(url)
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:  # any driver error means the server is not there
        reason = f"{name} at {make_url(url).host}:{make_url(url).port} is unreachable ({type(exc).__name__})"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must have it")
        pytest.skip(reason)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL schema (search_path set in the URL), dropped afterwards."""
    _unreachable(PG_ADMIN, "PostgreSQL")
    schema = f"dsr_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    yield make_url(PG_ADMIN).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """A fresh, empty MariaDB database, dropped afterwards."""
    _unreachable(MARIADB_ADMIN, "MariaDB")
    name = f"dsr_{secrets.token_hex(4)}"
    admin = create_engine(MARIADB_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
    yield make_url(MARIADB_ADMIN).set(database=name).update_query_dict({"charset": "utf8mb4"}).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE {name}"))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def sql_url(request: pytest.FixtureRequest) -> str:
    """The same test against SQLite, PostgreSQL and MariaDB."""
    return request.getfixturevalue({"sqlite": "sqlite_url", "postgresql": "postgres_url", "mariadb": "mariadb_url"}[request.param])


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's standalone S3 server on a free loopback port (a process of its own, spoken to over HTTP)."""
    from dsr.demo.s3server import DEMO_CREDENTIALS, moto_s3_server

    for name, value in DEMO_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    with moto_s3_server() as url:
        yield url


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One ephemeral Prefect API for the whole session (it takes ~15-20 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture
def demo(prefect_harness: None, s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """The demo estate (tests/demo_estate.py) on the session's Prefect API."""
    from tests.demo_estate import open_demo

    yield from open_demo(s3_endpoint, tmp_path, monkeypatch)
