"""The recordings store (R2, R3, R4, R10): call recordings as content-addressed files.

Layout: KCM_HOME/recordings/<client_id>/<assignment_id>/<sha256>.wav. The path
carries no delivered file name, so no person's name; `recordings.stored_path`
holds it relative to KCM_HOME/recordings. Deleting goes through the warehouse
(state 'deleting' first, see include.retention) so a crash never loses track of
a file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from include import settings


class UnsafeStoredPath(ValueError):
    """A stored_path that would leave the recordings store."""


def root() -> Path:
    return settings.kcm_home() / "recordings"


def stored_path(client_id: str, assignment_id: str, sha256: str) -> str:
    """The store-relative path of a recording with these bytes."""
    return f"{client_id}/{assignment_id}/{sha256}.wav"


def path_of(stored: str) -> Path:
    """The absolute file of a stored_path, guaranteed inside the store."""
    base = root().resolve()
    candidate = Path(stored)
    if not candidate.is_absolute():
        candidate = base / candidate
    resolved = candidate.resolve()
    if base not in resolved.parents:
        raise UnsafeStoredPath("stored_path leaves the recordings store")
    return resolved


def store(source: Path, client_id: str, assignment_id: str, sha256: str) -> str:
    """Copy a file into the store atomically (temp name, then rename); return its stored_path."""
    relative = stored_path(client_id, assignment_id, sha256)
    target = path_of(relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-", suffix=".wav")
    try:
        with os.fdopen(handle, "wb") as out, source.open("rb") as src:
            while block := src.read(1 << 20):
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return relative


def delete(stored: str) -> bool:
    """Delete one stored file; True when it existed.

    Empty folders stay: they hold no personal data, and removing them could race
    with an ingest storing into the same folder.
    """
    try:
        path_of(stored).unlink()
    except FileNotFoundError:
        return False
    return True


def delete_client(client_id: str) -> int:
    """R4: remove everything under the client's folder of the store, stray files included; returns files removed."""
    folder = root() / client_id
    if not folder.is_dir():
        return 0
    removed = 0
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and not path.is_symlink():
            path.rmdir()
        else:
            path.unlink()
            removed += 1
    folder.rmdir()
    return removed


def files(client_id: str) -> Iterator[str]:
    """Every file in the client's folder of the store, as stored_paths (for proofs of no orphans)."""
    folder = root() / client_id
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                yield path.relative_to(root()).as_posix()
