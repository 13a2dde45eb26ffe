"""The recordings store (R2, R3, R4, R10): call recordings as content-addressed files.

Layout: <store>/<client_id>/<assignment_id>/<sha256>.wav, where the store is
KCM_HOME/recordings or, for a client on object storage, its `s3://` location
(include.storage; the client's folder is then the location itself). The path
carries no delivered file name, so no person's name; `recordings.stored_path`
holds it relative to the store. Deleting goes through the warehouse (state
'deleting' first, see include.retention) so a crash never loses track of a file.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

from include import settings, storage

# client / assignment / content address: nothing a delivery named, nothing that climbs out.
_STORED = re.compile(r"^([a-z][a-z0-9_]*)/([A-Za-z0-9][A-Za-z0-9_.-]*)/([0-9a-f]{64})\.wav$")


class UnsafeStoredPath(ValueError):
    """A stored_path that would leave the recordings store."""


def root() -> Path:
    return settings.kcm_home() / "recordings"


def stored_path(client_id: str, assignment_id: str, sha256: str) -> str:
    """The store-relative path of a recording with these bytes."""
    return f"{client_id}/{assignment_id}/{sha256}.wav"


def path_of(stored: str) -> Path:
    """The local file of a stored_path, guaranteed inside the store."""
    base = root().resolve()
    candidate = Path(stored)
    if not candidate.is_absolute():
        candidate = base / candidate
    resolved = candidate.resolve()
    if base not in resolved.parents:
        raise UnsafeStoredPath("stored_path leaves the recordings store")
    return resolved


def _remote(stored: str) -> tuple[storage.Location, str] | None:
    """The object-storage location and name of a stored_path, or None when its client keeps recordings locally."""
    client_id = stored.partition("/")[0]
    location = storage.recordings(client_id) if client_id else None
    if location is None:
        return None
    if not _STORED.match(stored):
        raise UnsafeStoredPath("stored_path is not <client>/<assignment>/<sha256>.wav")
    return location, stored.partition("/")[2]


def put(source: Path, stored: str, expected_sha: str) -> bool:
    """Copy a landing file into the store; False (and nothing stored) when the bytes are not the promised ones."""
    remote = _remote(stored)
    if remote is not None:
        location, name = remote
        digest = hashlib.sha256()
        with source.open("rb") as reader, location.path(name).open("wb") as writer:
            while block := reader.read(1 << 20):
                digest.update(block)
                writer.write(block)
        if digest.hexdigest() != expected_sha:  # the landing file changed while it was copied
            location.delete(name)
            return False
        return True
    target = path_of(stored)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")  # a re-run after a crash overwrites it
    digest = hashlib.sha256()
    with source.open("rb") as reader, partial.open("wb") as writer:
        while block := reader.read(1 << 20):
            digest.update(block)
            writer.write(block)
        writer.flush()
        os.fsync(writer.fileno())  # the landing copy is deleted after commit: the stored one must be on disk
    if digest.hexdigest() != expected_sha:
        partial.unlink()
        return False
    os.replace(partial, target)
    return True


def copy_out(stored: str, destination: Path) -> bool:
    """Copy a stored recording to a local file (subject access exports); False when it is not in the store."""
    remote = _remote(stored)
    if remote is not None:
        location, name = remote
        try:
            with location.path(name).open("rb") as reader, destination.open("wb") as writer:
                shutil.copyfileobj(reader, writer, 1 << 20)
        except FileNotFoundError:
            destination.unlink(missing_ok=True)
            return False
        return True
    source = path_of(stored)
    if not source.is_file():
        return False
    shutil.copyfile(source, destination)
    return True


def delete(stored: str) -> bool:
    """Delete one stored file; True when it existed.

    Empty folders stay: they hold no personal data, and removing them could race
    with an ingest storing into the same folder.
    """
    remote = _remote(stored)
    if remote is not None:
        location, name = remote
        return location.delete(name)
    try:
        path_of(stored).unlink()
    except FileNotFoundError:
        return False
    return True


def delete_client(client_id: str) -> int:
    """R4: remove everything of the client from the store, stray files included; returns files removed."""
    removed = 0
    location = storage.recordings(client_id)
    if location is not None:
        removed += location.clear()
    folder = root() / client_id  # also what was kept locally before the client moved to object storage
    if not folder.is_dir():
        return removed
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and not path.is_symlink():
            path.rmdir()
        else:
            path.unlink()
            removed += 1
    folder.rmdir()
    return removed


def files(client_id: str) -> list[str]:
    """Every file of the client in the store, as stored_paths (for proofs of no orphans).

    Local: every entry that is not a folder, links included (a linked folder is named,
    not entered). Object storage: every object below the client's location.
    """
    found: list[str] = []
    location = storage.recordings(client_id)
    if location is not None:
        found += [f"{client_id}/{remote.name}" for remote in location.files()]
    base = root()
    for folder, dirs, names in os.walk(base / client_id):
        for name in [*names, *(d for d in dirs if os.path.islink(os.path.join(folder, d)))]:
            found.append(Path(folder, name).relative_to(base).as_posix())
    return sorted(found)
