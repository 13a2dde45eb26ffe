"""R7 suppression list: objecting people, kept as keyed hashes so later deliveries do not bring them back.

An identifier is normalised (include.identifiers for e-mail and phone; keys without
spaces, upper case) and hashed with HMAC-SHA256 under a secret from the Airflow
connection `kcm_suppression` (its password) or env `KCM_SUPPRESSION_SECRET`. The
list never holds a plain identifier, and there is no default secret: without one,
anything that needs a hash stops with an error saying how to set it.

The same hashes record erased people (R6) for the nightly proof (R11).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from include import identifiers, sql

if TYPE_CHECKING:
    import pandas as pd

CONN_ID = "kcm_suppression"
SECRET_ENV = "KCM_SUPPRESSION_SECRET"
MIN_SECRET_LENGTH = 32
ALL_CLIENTS = "*"
# Identifier kinds, in the order requests and deliveries name them.
KINDS = ("email", "phone", "respondent_ref", "customer_number")
_WHITESPACE = re.compile(r"\s+")


class SecretMissing(RuntimeError):
    """No HMAC secret is configured (or it is too short to be one)."""


# --- the secret ------------------------------------------------------------------------


def _from_airflow_uri(value: str) -> str | None:
    """The password of an Airflow connection given as env AIRFLOW_CONN_KCM_SUPPRESSION (URI or JSON)."""
    if value.lstrip().startswith("{"):
        return json.loads(value).get("password")
    from urllib.parse import unquote, urlsplit

    password = urlsplit(value).password
    return unquote(password) if password else None


def secret() -> bytes:
    """The HMAC key: connection `kcm_suppression` (password), else env KCM_SUPPRESSION_SECRET; never a default."""
    value = None
    raw = os.environ.get(f"AIRFLOW_CONN_{CONN_ID.upper()}")
    if raw:
        value = _from_airflow_uri(raw)
    elif os.environ.get("AIRFLOW_CTX_DAG_ID"):  # inside an Airflow task: ask Airflow's connections
        try:
            from airflow.sdk import BaseHook

            value = BaseHook.get_connection(CONN_ID).password
        except Exception:  # noqa: BLE001 - no such connection: fall back to the environment variable
            value = None
    value = value or os.environ.get(SECRET_ENV)
    if not value:
        raise SecretMissing(
            f"no secret for the suppression list (R7): set the password of Airflow connection '{CONN_ID}' "
            f"or env {SECRET_ENV} to a random string of at least {MIN_SECRET_LENGTH} characters "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`), the same on every worker"
        )
    if len(value) < MIN_SECRET_LENGTH:
        raise SecretMissing(
            f"the suppression secret (connection '{CONN_ID}' or env {SECRET_ENV}) has {len(value)} characters; "
            f"use a random string of at least {MIN_SECRET_LENGTH}"
        )
    return value.encode("utf-8")


# --- normalising and hashing -------------------------------------------------------------


def normalise_key(value: str | None) -> str | None:
    """A client's key (respondent_ref, customer_number) without spaces, upper case; None when empty."""
    if value is None:
        return None
    candidate = _WHITESPACE.sub("", str(value)).upper()
    return candidate or None


def normalise_keys(values: pd.Series) -> pd.Series:
    """Vectorised `normalise_key`: NA where empty."""
    candidates = values.str.replace(_WHITESPACE, "", regex=True).str.upper()
    return candidates.mask(candidates == "")


def normalise(kind: str, value: str | None, country: str = identifiers.DEFAULT_COUNTRY) -> str | None:
    """One identifier in the form it is stored and hashed in; None when it is not one of its kind."""
    if kind == "email":
        return identifiers.normalise_email(value)
    if kind == "phone":
        return identifiers.normalise_phone(value, country)
    if kind in ("respondent_ref", "customer_number"):
        return normalise_key(value)
    raise ValueError(f"unknown identifier kind {kind!r}; use one of {', '.join(KINDS)}")


def normalise_series(kind: str, values: pd.Series, country: str = identifiers.DEFAULT_COUNTRY) -> pd.Series:
    """Vectorised `normalise`."""
    if kind == "email":
        return identifiers.normalise_emails(values)
    if kind == "phone":
        return identifiers.normalise_phones(values, country)
    return normalise_keys(values)


def keyed_hash(kind: str, normalised: str, key: bytes | None = None) -> str:
    """HMAC-SHA256 (hex) of a normalised identifier; the kind is hashed in, so an e-mail never equals a ref."""
    return hmac.new(key or secret(), f"{kind}:{normalised}".encode(), hashlib.sha256).hexdigest()


def keyed_hashes(kind: str, normalised: pd.Series, key: bytes | None = None) -> pd.Series:
    """`keyed_hash` of every value of a Series (NA stays NA); each distinct value is hashed once."""
    key = key or secret()
    present = normalised.dropna()
    # The HMAC's inner and outer states are prepared once; each value then costs two sha256 updates.
    template = hmac.new(key, f"{kind}:".encode(), hashlib.sha256)
    digests = {}
    for value in present.unique():
        mac = template.copy()
        mac.update(str(value).encode())
        digests[value] = mac.hexdigest()
    return normalised.map(digests, na_action="ignore")


# --- the list ------------------------------------------------------------------------------


def _connection(eng: Engine | Connection):
    import contextlib

    return contextlib.nullcontext(eng) if isinstance(eng, Connection) else eng.connect()


def listed(eng: Engine | Connection, client_id: str) -> dict[str, set[str]]:
    """The suppression hashes that apply to a client (its own and all-client entries), per identifier kind."""
    with _connection(eng) as conn:
        rows = conn.execute(
            sql.statement("r7_suppression_hashes", conn.dialect.name), {"client_id": client_id, "all": ALL_CLIENTS}
        ).all()
    found: dict[str, set[str]] = {}
    for kind, digest in rows:
        found.setdefault(kind, set()).add(digest)
    return found


def suppressed(eng: Engine | Connection, client_id: str, frame: pd.DataFrame, country: str | None = None) -> pd.Series:
    """R7: True for each row of a delivery frame whose e-mail, phone, customer_number or respondent_ref is listed.

    Columns absent from the frame are skipped. A client with no entries costs one
    query and needs no secret, so deliveries of clients nobody objected to never
    hash anything.
    """
    import pandas as pd

    result = pd.Series(False, index=frame.index, dtype=bool)
    hashes = listed(eng, client_id)
    if not hashes or frame.empty:
        return result
    if country is None:
        with _connection(eng) as conn:
            country = conn.execute(
                sa.text("SELECT country FROM clients WHERE client_id = :client_id"), {"client_id": client_id}
            ).scalar()
    key = secret()
    for kind in KINDS:
        if kind not in frame or not hashes.get(kind):
            continue
        values = frame[kind].astype("str")
        digests = keyed_hashes(kind, normalise_series(kind, values, country or identifiers.DEFAULT_COUNTRY), key)
        result |= digests.isin(hashes[kind]).fillna(False).astype(bool)
    return result


def add(
    conn: Connection,
    *,
    client_scope: str,
    hashes: Mapping[str, str],
    request_id: str,
    added_on,
) -> int:
    """List one person (their identifier hashes by kind) for a client or all clients; returns entries added."""
    statement = sql.statement("r7_suppression_insert", conn.dialect.name)
    added = 0
    for kind, digest in sorted(hashes.items()):
        added += conn.execute(
            statement,
            {"client_scope": client_scope, "identifier_kind": kind, "identifier_hmac": digest,
             "request_id": request_id, "added_on": added_on},
        ).rowcount  # fmt: skip
    return added


def hashes_of(values: Mapping[str, str], key: bytes | None = None) -> dict[str, str]:
    """Keyed hashes of normalised identifiers, by kind."""
    key = key or secret()
    return {kind: keyed_hash(kind, value, key) for kind, value in values.items() if value}


def kinds_present(values: Iterable[str]) -> list[str]:
    """Identifier kinds in the order of KINDS."""
    given = set(values)
    return [kind for kind in KINDS if kind in given]
