"""deploy/ is what an operator starts: haproxy accepts its configuration, the compose file has
the topology the cluster tests run (two web instances and two workers on PostgreSQL and Redis
behind haproxy, each with a health check), and .env.example names only real settings."""
from __future__ import annotations

import re
import subprocess

import yaml

from runtime.settings import AkisSettings

from .cluster import ROOT, haproxy_config
from .conftest import SECRET

DEPLOY = ROOT / "deploy"


def test_haproxy_accepts_the_deploy_configuration(haproxy: str) -> None:
    config = (DEPLOY / "haproxy.cfg").read_text(encoding="utf-8")  # ``web`` resolves only in compose: a warning
    check = subprocess.run([haproxy, "-c", "-f", str(DEPLOY / "haproxy.cfg")], capture_output=True, text=True,
                           check=False)
    assert check.returncode == 0 and "Configuration file is valid" in check.stdout, check.stdout + check.stderr
    for line in ("option httpchk GET /healthz/ready", "cookie AKIS_SERVER insert", "option forwardfor"):
        assert line in config
    tested = haproxy_config(8080, [8081, 8082])  # the tests' balancer routes and checks alike
    assert "option httpchk GET /healthz/ready" in tested and "cookie AKIS_SERVER insert" in tested
    assert "use_backend api if { path_beg /api/ }" in tested and "use_backend api if { path_beg /api/ }" in config


def test_the_compose_file_has_the_tested_topology() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "haproxy"} <= set(services)
    assert services["web"]["deploy"]["replicas"] == 2 and services["worker"]["deploy"]["replicas"] == 2
    assert services["web"]["command"] == ["akis", "serve"]
    assert services["worker"]["command"][:2] == ["akis", "worker"]
    for name in ("postgres", "redis", "web", "worker", "haproxy"):
        assert "healthcheck" in services[name], f"{name} has no health check"
    assert "/healthz/live" in " ".join(services["web"]["healthcheck"]["test"])
    assert services["web"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    grace = int(str(services["web"]["stop_grace_period"]).rstrip("s"))
    env = env_example()
    assert grace > float(env["AKIS_DRAIN_TIMEOUT_S"]) + float(env["AKIS_DRAIN_DELAY_S"])  # no SIGKILL mid-drain
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert 'CMD ["akis", "serve"]' in dockerfile and "/healthz/live" in dockerfile


def env_example() -> dict[str, str]:
    pairs = re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", (DEPLOY / ".env.example").read_text(encoding="utf-8"), re.M)
    return dict(pairs)


def test_env_example_names_real_settings_and_asks_for_the_shared_secret() -> None:
    env = env_example()
    assert "AKIS_SECRET_KEY" in env and env["AKIS_SECRET_KEY"] == ""  # to be filled, never a shipped default
    known = {f"AKIS_{name.upper()}" for name in AkisSettings.model_fields} | {"ANTHROPIC_API_KEY", "OPENAI_API_KEY"}
    unknown = {name for name in env if name not in known and name != "POSTGRES_PASSWORD"}
    assert unknown == set(), f"not settings Akis reads: {sorted(unknown)}"
    settings = AkisSettings(_env_file=None, **{k.removeprefix("AKIS_").lower(): v for k, v in env.items()
                                                 if k.startswith("AKIS_") and v and k != "AKIS_SECRET_KEY"})
    assert settings.redis_url == "redis://redis:6379/0" and "redis" in settings.tiers
    assert SECRET not in (DEPLOY / ".env.example").read_text(encoding="utf-8")
