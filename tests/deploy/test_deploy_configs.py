"""deploy/: every config checked by its own tool where this machine has it.

Checked here when the tool is installed (scripts/bootstrap.sh --tests installs them), and
reported as SKIPPED, never passed, when it is not:
- systemd units: `systemd-analyze verify` (ExecStart pointed at this checkout's `station`,
  since /opt/worker-station does not exist here);
- the compose file: `docker compose config` or `docker-compose config` with env.example,
  and its refusal when a secret is missing;
- Prometheus: `promtool check config` (which checks rules.yml and nodes.yml too), with the
  scrape token file the deployment supplies replaced by a temporary one;
- Caddy: `caddy validate` with the site's variables set.
Always checked: the compose file's structure and that every file it names exists; the
Grafana dashboard loads and uses only metrics that cloud-duty and the node export, and every
one of them; the alert rules use only exported metrics.

Not validated on this machine: the EMQX settings and acl.conf (no EMQX here: they are only
read as compose data), Grafana's loading of the provisioning files (no Grafana), building
the image (no Docker daemon, and no registry), certificates from the ACME CA, and the
cluster actually forming.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge.metrics import NodeMetrics
from station.contracts import DeviceSnapshot, StationState, utcnow
from station.duty.alerting.live_feed import FeedHub
from station.duty.db import make_engine, migrate
from station.duty.fleet.ingest import IngestStats
from station.duty.metrics import DutyMetrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CITY = DEPLOY / "city"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
# Supplied by the operators at deploy time, never in the repository.
OPERATOR_SUPPLIED = {CITY / "certs", CITY / "secrets" / "metrics_token"}
SERVICES = {"postgres", "emqx1", "emqx2", "duty", "caddy", "prometheus", "grafana"}
_METRIC = re.compile(r"\b(uws_[a-z_]+)\b")
_SUFFIXES = ("_bucket", "_count", "_sum", "_total")


def _tool(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(f"{' / '.join(names)} is not installed here: this check did not run")


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, capture_output=True, text=True, timeout=60, check=False, env=env, cwd="/tmp"
    )


def _env_example() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (CITY / "env.example").read_text().splitlines())
    return {k: v for k, v in (p for p in pairs if len(p) == 2) if not k.startswith("#")}


def test_there_is_a_unit_for_the_node_and_for_cloud_duty() -> None:
    assert [u.name for u in UNITS] == ["worker-station-duty.service", "worker-station-node.service"]
    for unit in UNITS:
        text = unit.read_text()
        assert "ExecStart=/opt/worker-station/.venv/bin/station " in text
        assert "KillSignal=SIGTERM" in text


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_systemd_units_verify(unit: Path, tmp_path: Path) -> None:
    verify = _tool("systemd-analyze")
    station = Path(sys.executable).parent / "station"
    assert station.is_file(), "the project's console script is installed beside python"
    copy = tmp_path / unit.name
    copy.write_text(unit.read_text().replace("/opt/worker-station/.venv/bin/station", str(station)))
    done = _run(verify, "verify", str(copy))
    assert done.returncode == 0, done.stderr
    # verify exits 0 on unknown keys and bad values, and only says so on stderr.
    assert done.stderr.strip() == "", done.stderr


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CITY / "compose.yaml").read_text())
    return loaded


def test_compose_structure_and_the_files_it_names() -> None:
    compose = _compose()
    assert set(compose["services"]) == SERVICES
    services = compose["services"]
    assert services["duty"]["deploy"]["replicas"] == "${DUTY_REPLICAS:-2}"
    emqx = [services[name]["environment"] for name in ("emqx1", "emqx2")]
    assert {e["EMQX_NODE__NAME"] for e in emqx} == {
        "emqx@emqx1.city.internal",
        "emqx@emqx2.city.internal",
    }
    assert all(e["EMQX_DURABLE_SESSIONS__ENABLE"] == "true" for e in emqx)
    assert (CITY / services["duty"]["build"]["context"] / "pyproject.toml").is_file()
    dockerfile = CITY / "../.." / services["duty"]["build"]["dockerfile"]
    assert dockerfile.is_file()
    sources = {
        CITY / volume.split(":")[0]
        for service in services.values()
        for volume in service.get("volumes", [])
        if volume.startswith("./")
    } | {CITY / secret["file"] for secret in compose["secrets"].values()}
    missing = {path for path in sources if not path.exists()} - OPERATOR_SUPPLIED
    assert missing == set(), "the compose file names files the repository lacks"
    for supplied in OPERATOR_SUPPLIED:
        assert supplied.relative_to(CITY).parts[0] in (CITY / "compose.yaml").read_text()


def test_compose_config_by_docker(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    has_plugin = docker is not None and _run(docker, "compose", "version").returncode == 0
    command = [docker, "compose"] if has_plugin and docker else [_tool("docker-compose")]
    env_file = tmp_path / ".env"
    env_file.write_text((CITY / "env.example").read_text())
    args = ["--project-directory", str(CITY), "-f", str(CITY / "compose.yaml")]
    done = _run(*command, *args, "--env-file", str(env_file), "config")
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)
    assert set(resolved["services"]) == SERVICES
    assert resolved["services"]["duty"]["deploy"]["replicas"] == 2
    duty_env = resolved["services"]["duty"]["environment"]
    assert duty_env["UWS_CONSOLE_URL"] == "https://duty.example.cn/"
    assert duty_env["UWS_ENVIRONMENT"] == "production"
    without = "\n".join(
        line for line in env_file.read_text().splitlines() if not line.startswith("UWS_API_TOKEN=")
    )
    env_file.write_text(without + "\n")
    refused = _run(*command, *args, "--env-file", str(env_file), "config")
    assert refused.returncode != 0
    assert "set UWS_API_TOKEN" in refused.stderr


@pytest.fixture
def prometheus_dir(tmp_path: Path) -> Path:
    """The Prometheus folder, with the scrape token file the deployment supplies."""
    folder = tmp_path / "prometheus"
    shutil.copytree(CITY / "prometheus", folder)
    token = tmp_path / "metrics_token"
    token.write_text("scrape-token-for-the-check\n")
    config = folder / "prometheus.yml"
    text = config.read_text()
    assert "/run/secrets/metrics_token" in text
    config.write_text(text.replace("/run/secrets/metrics_token", str(token)))
    return folder


def test_prometheus_config_and_rules_by_promtool(prometheus_dir: Path) -> None:
    promtool = _tool("promtool")
    done = _run(promtool, "check", "config", str(prometheus_dir / "prometheus.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 7 rules found" in done.stdout + done.stderr


def test_caddyfile_by_caddy() -> None:
    caddy = _tool("caddy")
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"} | {
        "UWS_DUTY_DOMAIN": "duty.example.cn",
        "UWS_ACME_EMAIL": "ops@example.cn",
    }
    done = _run(
        caddy, "validate", "--config", str(CITY / "Caddyfile"), "--adapter", "caddyfile", env=env
    )
    assert done.returncode == 0, done.stderr
    assert "Valid configuration" in done.stdout + done.stderr


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[set[str]]:
    """Every metric family cloud-duty and the node export, by the name queries use."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('duty') / 'duty.sqlite'}")
    migrate(engine)

    class _Outbox:
        def depth(self) -> int:
            return 0

    state = StationState(
        node_id="n", ts=utcnow(), devices=[DeviceSnapshot(device_id="d", available="online")]
    )
    registries = [
        DutyMetrics(engine, FeedHub(), IngestStats()).registry,
        NodeMetrics(_Outbox(), lambda: state).registry,
    ]
    yield {family.name for registry in registries for family in registry.collect()}
    engine.dispose()


def _family(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def test_grafana_dashboard_uses_exactly_the_exported_metrics(exported: set[str]) -> None:
    dashboard = json.loads((CITY / "grafana" / "dashboards" / "fleet.json").read_text())
    datasource = yaml.safe_load(
        (CITY / "grafana" / "provisioning" / "datasources" / "prometheus.yaml").read_text()
    )
    uid = datasource["datasources"][0]["uid"]
    targets = [t for p in dashboard["panels"] for t in p.get("targets", [])]
    assert targets, "the dashboard has panels with queries"
    assert {t["datasource"]["uid"] for t in targets} == {uid}
    used = {_family(m) for t in targets for m in _METRIC.findall(t["expr"])}
    assert used - exported == set(), "the dashboard queries metrics nobody exports"
    assert exported - used == set(), "an exported metric has no panel"
    provider = yaml.safe_load(
        (CITY / "grafana" / "provisioning" / "dashboards" / "fleet.yaml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_alert_rules_use_only_exported_metrics(exported: set[str]) -> None:
    rules = yaml.safe_load((CITY / "prometheus" / "rules.yml").read_text())
    exprs = [r["expr"] for group in rules["groups"] for r in group["rules"]]
    used = {_family(m) for expr in exprs for m in _METRIC.findall(expr)}
    assert used
    assert used - exported == set()
