"""R12: the audit trail's anchor (outside the database) when many nights verify the chain at once, as 200 clients'
nights on two Celery workers do: no verifier reads a half-written anchor, the anchor only moves forward, and a
damaged anchor is a finding, not a crash."""

from __future__ import annotations

import datetime as dt
import json
import threading

from include import audit


def _append(warehouse, n: int) -> None:
    for i in range(n):
        audit.append(warehouse, rule="R12", action="test_event", client_id="acme", as_of=dt.date(2026, 11, 20),
                     run_id=f"r{i}", counts={"i": i})  # fmt: skip


def _anchor(kcm_home) -> dict:
    return json.loads((kcm_home / "audit" / "anchor.json").read_text())


def test_nights_verifying_at_once_all_pass_and_the_anchor_ends_at_the_head(warehouse, kcm_home):
    _append(warehouse, 5)
    reports, errors = [], []

    def night() -> None:
        try:
            for _ in range(15):
                reports.append(audit.verify(warehouse))
        except Exception as exc:  # noqa: BLE001 -- collected for the assertion below
            errors.append(repr(exc))

    nights = [threading.Thread(target=night) for _ in range(6)]
    for thread in nights:
        thread.start()
    _append(warehouse, 5)  # events keep arriving meanwhile
    for thread in nights:
        thread.join()

    assert errors == [] and all(r.ok for r in reports), (errors, [r.problems for r in reports if not r.ok])
    final = audit.verify(warehouse)
    assert final.ok and _anchor(kcm_home)["hash"] == final.head_hash


def test_the_anchor_never_moves_back_to_an_older_head(warehouse, kcm_home):
    _append(warehouse, 3)
    assert audit.verify(warehouse).ok
    newer = _anchor(kcm_home)
    (kcm_home / "audit" / "anchor.json").write_text(json.dumps({"seq": newer["seq"] + 10**6, "hash": "x"}))

    report = audit.verify(warehouse)

    assert not report.ok and "verified earlier, now missing" in report.problems[0]
    assert _anchor(kcm_home)["seq"] == newer["seq"] + 10**6, "a failed check leaves the anchor as it was"


def test_a_damaged_anchor_is_a_finding_not_a_crash(warehouse, kcm_home):
    _append(warehouse, 2)
    assert audit.verify(warehouse).ok
    (kcm_home / "audit" / "anchor.json").write_text("")

    report = audit.verify(warehouse)

    assert not report.ok and "cannot be read" in report.problems[0]
