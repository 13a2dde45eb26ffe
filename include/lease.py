"""One client, one run at a time (design §6): the lease a client's ingest and nightly runs take turns on.

`max_active_runs=1` holds per DAG only; a client's `kcm_ingest__<id>` and `kcm_retention__<id>`
are two DAGs. So each run first takes the client's lease (a row in `client_leases`), every step
proves its run still holds it before it does anything and keeps it alive while it works, and
the run's last task gives it back. A run that dies without giving it back frees it when it
lapses (`KCM_LEASE_MINUTES`, default 30, after the last sign of life); a run whose lease lapsed
and was taken over by another run fails at its next step instead of carrying on.

Log lines carry the client id, DAG ids and run ids only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from include import sql

log = logging.getLogger(__name__)

DEFAULT_MINUTES = 30


class LeaseLost(RuntimeError):
    """A step's run does not hold its client's lease (any more): the step must not run, or not carry on."""


@dataclass(frozen=True)
class Holder:
    """The DAG run a lease belongs to."""

    dag_id: str
    run_id: str

    def __str__(self) -> str:
        return f"{self.dag_id} run {self.run_id}"


@dataclass(frozen=True)
class Lease:
    """A client's lease as the warehouse holds it."""

    holder: Holder
    expires_at: object  # a datetime on PostgreSQL, SQLAlchemy's text form on SQLite: for log lines only
    expired: bool


def ttl() -> dt.timedelta:
    """How long a lease outlives its holder's last sign of life (env KCM_LEASE_MINUTES, default 30)."""
    raw = os.environ.get("KCM_LEASE_MINUTES") or str(DEFAULT_MINUTES)
    try:
        minutes = float(raw)
    except ValueError:
        minutes = -1
    if minutes <= 0:
        raise ValueError(f"KCM_LEASE_MINUTES must be a positive number of minutes; found {raw!r}")
    return dt.timedelta(minutes=minutes)


def _params(client_id: str, holder: Holder, lifetime: dt.timedelta | None = None) -> dict:
    return {
        "client_id": client_id,
        "dag_id": holder.dag_id,
        "run_id": holder.run_id,
        "ttl_seconds": (lifetime or ttl()).total_seconds(),
    }


def holder_of(conn: Connection, client_id: str) -> Lease | None:
    """The client's lease, or None when it is free (on PostgreSQL the row stays locked until the transaction ends)."""
    row = conn.execute(sql.statement("lease_holder", conn.dialect.name), {"client_id": client_id}).one_or_none()
    if row is None:
        return None
    return Lease(Holder(row.dag_id, row.run_id), row.expires_at, bool(row.expired))


def acquire(eng: Engine, client_id: str, holder: Holder, *, lifetime: dt.timedelta | None = None) -> bool:
    """Take the client's lease if it is free, lapsed or already this run's; False when another run holds it."""
    with eng.begin() as conn:
        # Read first only to say in the log whom the lease was taken from or waited for; the decision is
        # lease_acquire's alone. On PostgreSQL the row is locked, so the two agree; on SQLite a release in
        # between can make a takeover's log line name a run that had just let go.
        before = holder_of(conn, client_id)
        row = conn.execute(
            sql.statement("lease_acquire", conn.dialect.name), _params(client_id, holder, lifetime)
        ).one_or_none()
        if row is None:
            before = before or holder_of(conn, client_id)
    if row is None:
        if before is not None:
            log.info(
                "client %s: lease held by %s until %s; %s waits", client_id, before.holder, before.expires_at, holder
            )
        else:  # released between the two statements: the next try finds it free
            log.info("client %s: lease changed hands just now; %s tries again", client_id, holder)
        return False
    if not row.fresh:
        log.info(
            "client %s: %s holds the lease already (a retry or a cleared task); until %s",
            client_id,
            holder,
            row.expires_at,
        )
    elif before is not None and before.holder != holder:
        log.warning(
            "client %s: lease of %s lapsed at %s without being released; taken over by %s",
            client_id, before.holder, before.expires_at, holder,
        )  # fmt: skip
    else:
        log.info("client %s: lease taken by %s until %s", client_id, holder, row.expires_at)
    return True


def extend(eng: Engine, client_id: str, holder: Holder, *, lifetime: dt.timedelta | None = None) -> None:
    """Prove in one statement that `holder` still holds the client's lease and push its expiry out; raise LeaseLost if not."""
    with eng.begin() as conn:
        held = conn.execute(sql.statement("lease_extend", conn.dialect.name), _params(client_id, holder, lifetime))
        if held.rowcount == 1:
            return
        now = holder_of(conn, client_id)
    found = f"held by {now.holder}" if now else "free"
    raise LeaseLost(
        f"client {client_id}: {holder} does not hold the client's lease (it is {found}); either it lapsed and "
        f"another run took it over, or this run never took it. Clear this run from its first task, acquire_lease, "
        f"to run it again"
    )


def release(eng: Engine, client_id: str, holder: Holder) -> bool:
    """Give the client's lease back if `holder` still holds it; True if it did."""
    with eng.begin() as conn:
        released = conn.execute(sql.statement("lease_release", conn.dialect.name), _params(client_id, holder)).rowcount
        now = None if released else holder_of(conn, client_id)
    if released:
        log.info("client %s: lease released by %s", client_id, holder)
    elif now is not None:
        log.warning("client %s: %s had no lease to release; %s holds it", client_id, holder, now.holder)
    else:
        log.info("client %s: %s had no lease to release; it is free", client_id, holder)
    return bool(released)


@contextlib.contextmanager
def held(eng: Engine, client_id: str, holder: Holder, *, lifetime: dt.timedelta | None = None) -> Iterator[None]:
    """Run a step under the client's lease: proved and extended before it starts, kept alive while it works.

    A step may outlast the lease's lifetime (a large delivery, a long night), so a heartbeat extends
    the lease every third of it. Should the heartbeat find the lease gone (its run stalled long enough
    for another to take over), the step fails when it ends: its work may overlap the other run's.
    """
    lifetime = lifetime or ttl()
    extend(eng, client_id, holder, lifetime=lifetime)
    with _kept_alive(eng, [client_id], holder, lifetime):
        yield


class LeaseBusy(TimeoutError):
    """A run that needs several clients at once did not find them all free in time; it may try again later."""


@contextlib.contextmanager
def held_all(
    eng: Engine,
    client_ids: Sequence[str],
    holder: Holder,
    *,
    wait: dt.timedelta,
    poke_seconds: float,
    lifetime: dt.timedelta | None = None,
) -> Iterator[None]:
    """Hold the leases of several clients at once (a subject request across clients), then give them all back.

    Takes them in client order; when one is held by another run, gives back those taken in this
    attempt (so two such runs never hold each other up) and looks again after `poke_seconds`,
    until `wait` has passed (LeaseBusy). Waits in the running task: such runs are rare and short.
    """
    lifetime = lifetime or ttl()
    deadline = time.monotonic() + wait.total_seconds()
    ordered = sorted(set(client_ids))
    while True:
        taken: list[str] = []
        busy = None
        for client_id in ordered:
            if not acquire(eng, client_id, holder, lifetime=lifetime):
                busy = client_id
                break
            taken.append(client_id)
        if busy is None:
            break
        for client_id in taken:
            release(eng, client_id, holder)
        if time.monotonic() + poke_seconds > deadline:
            raise LeaseBusy(
                f"{holder}: client {busy} stayed busy with another run for {wait}; the request tries again "
                f"at its next retry (nothing of it has been carried out)"
            )
        time.sleep(poke_seconds)
    try:
        with _kept_alive(eng, ordered, holder, lifetime):
            yield
    finally:
        for client_id in ordered:
            release(eng, client_id, holder)


@contextlib.contextmanager
def _kept_alive(eng: Engine, client_ids: Sequence[str], holder: Holder, lifetime: dt.timedelta) -> Iterator[None]:
    """Extend the leases every third of their lifetime while the body runs; raise LeaseLost after it if one was lost."""
    heartbeat = _Heartbeat(eng, client_ids, holder, lifetime)
    heartbeat.start()
    try:
        yield
    finally:
        heartbeat.stop()
    if heartbeat.lost is not None:
        raise heartbeat.lost


class _Heartbeat(threading.Thread):
    def __init__(self, eng: Engine, client_ids: Sequence[str], holder: Holder, lifetime: dt.timedelta) -> None:
        self.client_ids = list(client_ids)
        super().__init__(name=f"lease-{self.client_ids[0] if len(self.client_ids) == 1 else 'clients'}", daemon=True)
        self.client_id = ", ".join(self.client_ids)
        self.eng, self.holder, self.lifetime = eng, holder, lifetime
        self.lost: LeaseLost | None = None
        self._stopped = threading.Event()

    def run(self) -> None:
        interval = max(self.lifetime.total_seconds() / 3, 1.0)
        while not self._stopped.wait(interval):
            try:
                for client_id in self.client_ids:
                    extend(self.eng, client_id, self.holder, lifetime=self.lifetime)
            except LeaseLost as lost:
                log.error("client %s: %s lost the lease while a step was running", self.client_id, self.holder)
                self.lost = lost
                return
            except sa.exc.DBAPIError as exc:
                # A busy or unreachable warehouse: the lease still has two thirds of its life; try again.
                log.warning("client %s: lease heartbeat of %s failed (%s); retrying", self.client_id, self.holder,
                            type(exc.orig).__name__)  # fmt: skip

    def stop(self) -> None:
        self._stopped.set()
        self.join()
