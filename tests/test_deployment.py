"""docker-compose.yaml describes the production topology without shipping a secret."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def test_compose_has_the_celery_topology_on_postgres_and_redis():
    services = _compose()["services"]
    assert {"postgres", "redis", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
            "airflow-worker", "airflow-triggerer", "airflow-init"} <= set(services)
    commands = {name: spec.get("command") for name, spec in services.items()}
    assert commands["airflow-worker"] == "celery worker"
    assert commands["airflow-dag-processor"] == "dag-processor"
    env = services["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    assert env["GX_ANALYTICS_ENABLED"] == "false"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].endswith("/execution/")


def test_every_secret_comes_from_env_without_a_default():
    text = (ROOT / "docker-compose.yaml").read_text()
    for key in ("FERNET_KEY", "JWT_SECRET", "API__SECRET_KEY", "POSTGRES_PASSWORD", "SUPPRESSION_SECRET"):
        for line in (ln for ln in text.splitlines() if key in ln and ":" in ln and not ln.strip().startswith("#")):
            value = line.split(":", 1)[1]
            if "${" in value:
                assert re.search(r"\$\{[A-Z_]+:\?", value), f"secret with a default or optional: {line.strip()}"
    example = (ROOT / ".env.example").read_text()
    for line in example.splitlines():
        if line.startswith("KCM_") and "=" in line:
            assert line.split("=", 1)[1] == "", f".env.example ships a value: {line}"
