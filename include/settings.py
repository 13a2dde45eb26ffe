"""Where things live: project paths and the environment contract (design §4)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
AMSTERDAM = "Europe/Amsterdam"

# Telemetry off for every dependency, before any of them is imported by a task.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("SCARF_ANALYTICS", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


def kcm_home() -> Path:
    """Data root (env KCM_HOME); defaults to the git-ignored var/kcm_home."""
    return Path(os.environ.get("KCM_HOME") or PROJECT_ROOT / "var" / "kcm_home").resolve()


def clients_dir() -> Path:
    """Folder of client YAML files (env KCM_CLIENTS_DIR)."""
    return Path(os.environ.get("KCM_CLIENTS_DIR") or PROJECT_ROOT / "include" / "clients").resolve()


def landing_dir(client_id: str) -> Path:
    return kcm_home() / "landing" / client_id


def recordings_dir(client_id: str) -> Path:
    return kcm_home() / "recordings" / client_id


def quarantine_dir(client_id: str) -> Path:
    return kcm_home() / "quarantine" / client_id


def exports_dir() -> Path:
    return kcm_home() / "exports"


def reports_dir() -> Path:
    return kcm_home() / "reports"
