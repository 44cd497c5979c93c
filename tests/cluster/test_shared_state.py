"""What the instances of one cluster share through Redis: the cache warm-up runs once per round
across two web processes (not once per process), and the sign-in attempt limit counts the
failures made on either instance, whichever one the balancer picks."""
from __future__ import annotations

import re

import httpx
import redis

from storage.db import init_db
from storage.repos.users import create_user

from .cluster import Cluster, Web, wait_until
from .conftest import MakeCluster

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf" value="([^"]*)"')


def warmup_of(web: Web) -> dict:
    return dict(web.readiness()["warmup"])


def test_the_warm_up_runs_once_per_cluster_with_two_web_processes(cluster: MakeCluster) -> None:
    started = cluster(web=2, workers=0, env={"AKIS_CACHE_TIERS": "memory,redis", "AKIS_WARMUP_INTERVAL_S": "3600"})
    wait_until(lambda: all(w["rounds"] + w["skipped"] >= 1 for w in map(warmup_of, started.web)),
               "both instances to reach their first warm-up round", 60.0, 0.25)
    states = [warmup_of(web) for web in started.web]
    assert all(state["shared"] for state in states)
    assert sorted((s["rounds"], s["skipped"]) for s in states) == [(0, 1), (1, 0)], states
    warmed = next(s for s in states if s["rounds"] == 1)["last"]
    assert warmed["runs"] >= 2 and warmed["failed"] == 0  # pallet-assistant's two warm-up inputs, at least
    holder = redis.Redis.from_url(started.redis_url).get("akis:warmup:round")
    assert holder is not None and holder.decode().endswith(tuple(f":{w.pid}" for w in started.web))


def sign_in(client: httpx.Client, password: str, origin: str) -> int:
    token = CSRF.search(client.get("/login").text)
    assert token is not None
    data = {"tenant": "2", "username": "kim", "password": password, "csrf": token.group(1)}
    return client.post("/login", data=data, headers={"Origin": origin}).status_code


def attacker(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=15.0, follow_redirects=False)


def test_the_sign_in_limit_is_shared_by_two_instances_behind_haproxy(cluster: MakeCluster) -> None:
    started: Cluster = cluster(web=2, workers=0)
    database = init_db(started.database_url, seed_demo=False)
    database.call(create_user, "2", "kim", PASSWORD)
    database.dispose()
    web1, web2 = started.web
    failures = []
    for n, web in enumerate([web1, web2, web1, web2, web1]):  # five failures, spread over both instances
        with attacker(web.url) as client:
            failures.append(sign_in(client, f"guess {n}", web.url))
    assert failures == [401] * 5
    for url in (started.url, web1.url, web2.url):  # the balancer's pick, and each instance directly
        with attacker(url) as client:
            assert sign_in(client, "guess again", url) == 429, f"{url} did not see the failures of the other"
    with attacker(started.url) as client:  # a page through haproxy is sticky: the cookie names the instance
        client.get("/login")
        assert client.cookies.get("AKIS_SERVER") in ("web1", "web2")
