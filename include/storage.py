"""Where deliveries arrive and recordings are kept (design §5).

The local filesystem under KCM_HOME is the default. Object storage (`s3://`) is
reached through Airflow's `ObjectStoragePath` and an Airflow connection:

- globally: env `KCM_LANDING_URL` and/or `KCM_RECORDINGS_URL` name a root; each
  client gets `<root>/<client_id>/` below it;
- per client: the config's `storage:` block names that client's own folders
  (`landing`, `recordings`) and, optionally, its own `conn_id`.

The connection is `KCM_STORAGE_CONN_ID` (default `kcm_storage`) unless the client
names one. URLs name buckets and prefixes only, never a person, so they may be logged.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from dataclasses import dataclass
from typing import Any

DEFAULT_CONN_ID = "kcm_storage"
SCHEMES = ("s3",)


class StorageError(RuntimeError):
    """Object storage could not be reached or refused an operation (the URL, never a person's data)."""


@dataclass(frozen=True)
class RemoteFile:
    """One object below a location: its name relative to the location, size and upload time."""

    name: str
    size: int
    modified: dt.datetime


@dataclass(frozen=True)
class Location:
    """A client's folder on object storage."""

    url: str  # always ends with "/"
    conn_id: str

    def path(self, name: str = "") -> Any:
        from airflow.sdk import ObjectStoragePath

        return ObjectStoragePath(self.url + name, conn_id=self.conn_id)

    def _fs_path(self, name: str = "") -> tuple[Any, str]:
        target = self.path(name)
        return target.fs, target.path

    def files(self) -> list[RemoteFile]:
        """Every object below the location, by name (fresh from the store, never from a listing cache)."""
        fs, root = self._fs_path()
        root = root.rstrip("/")
        fs.invalidate_cache(root)
        try:
            found = fs.find(root, withdirs=False, detail=True)
        except FileNotFoundError:
            return []
        files = []
        for key, info in sorted(found.items()):
            name = key[len(root) :].lstrip("/")
            if not name or info.get("type") == "directory":
                continue
            modified = info.get("LastModified") or info.get("mtime") or dt.datetime.now(dt.UTC)
            if isinstance(modified, (int, float)):
                modified = dt.datetime.fromtimestamp(modified, dt.UTC)
            files.append(RemoteFile(name, int(info.get("size") or 0), modified))
        return files

    def delete(self, name: str) -> bool:
        """Delete one object; True when it existed."""
        fs, key = self._fs_path(name)
        try:
            fs.rm_file(key)
        except FileNotFoundError:
            return False
        fs.invalidate_cache(key)
        return True

    def clear(self) -> int:
        """Delete every object below the location; returns how many there were."""
        names = [f.name for f in self.files()]
        if names:
            fs, root = self._fs_path()
            fs.rm([f"{root.rstrip('/')}/{name}" for name in names])
            fs.invalidate_cache(root.rstrip("/"))
        return len(names)

    def __str__(self) -> str:
        return self.url


def _root_url(url: str, where: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in SCHEMES or not rest.strip("/"):
        raise ValueError(f"{where}: {url!r} is not an object-storage URL; use s3://bucket/prefix")
    return url.rstrip("/") + "/"


@functools.lru_cache(maxsize=1024)
def _client_storage(client_id: str, config_file: str, modified_ns: int) -> Any:
    from pathlib import Path

    from include import config

    return config.parse_client_file(Path(config_file)).storage


def _storage_block(client_id: str) -> Any:
    """The client's `storage:` block, re-read only when its YAML changes (the store is asked per recording)."""
    from include import settings

    path = settings.clients_dir() / f"{client_id}.yaml"
    try:
        modified = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    try:
        return _client_storage(client_id, str(path), modified)
    except ValueError:
        return None  # a broken config: its DAGs refuse to run (R1); the global setting applies meanwhile


def _location(client_id: str, kind: str) -> Location | None:
    block = _storage_block(client_id)
    conn_id = os.environ.get("KCM_STORAGE_CONN_ID") or DEFAULT_CONN_ID
    if block is not None and block.conn_id:
        conn_id = block.conn_id
    own = getattr(block, kind, None) if block is not None else None
    if own:
        return Location(_root_url(own, f"client {client_id} storage.{kind}"), conn_id)
    shared = os.environ.get(f"KCM_{kind.upper()}_URL")
    if shared:
        return Location(_root_url(shared, f"KCM_{kind.upper()}_URL") + f"{client_id}/", conn_id)
    return None


def landing(client_id: str) -> Location | None:
    """The client's landing zone on object storage, or None when deliveries arrive in the local landing folder."""
    return _location(client_id, "landing")


def recordings(client_id: str) -> Location | None:
    """The client's recordings store on object storage, or None when recordings are kept under KCM_HOME."""
    return _location(client_id, "recordings")


def describe(client_id: str) -> dict[str, str]:
    """Where the client's landing zone and recordings store are (for logs, reports and the register)."""
    from include import settings

    remote_landing, remote_recordings = landing(client_id), recordings(client_id)
    return {
        "landing": str(remote_landing) if remote_landing else str(settings.landing_dir(client_id)),
        "recordings": str(remote_recordings) if remote_recordings else str(settings.recordings_dir(client_id)),
    }
