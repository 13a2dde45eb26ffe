"""Integration tests start Airflow's components as processes: minutes, not seconds.

They run when asked for with `-m integration` (`make test-integration`) and are
deselected otherwise, so `make test` stays fast and reports them as deselected,
never as skipped.
"""

from __future__ import annotations


def pytest_collection_modifyitems(config, items):
    if "integration" in (config.getoption("markexpr") or ""):
        return
    slow = [item for item in items if item.get_closest_marker("integration")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("integration")]
