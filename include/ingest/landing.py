"""The landing zone: what a client delivered, and safe access to it (R10)."""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from include import settings, storage

log = logging.getLogger(__name__)


class UnsafePath(ValueError):
    """A name from a delivery that would leave the client's landing folder."""


@dataclass
class Deliveries:
    responses: list[str] = field(default_factory=list)
    manifests: list[str] = field(default_factory=list)
    recordings: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)


def find(client_id: str) -> Deliveries:
    """Regular files in landing/<client_id>/, oldest first (then by name), sorted by kind."""
    folder = settings.landing_dir(client_id)
    found = Deliveries()
    if not folder.is_dir():
        return found
    entries = [e for e in os.scandir(folder) if not e.name.startswith(".")]
    entries.sort(key=lambda e: (e.stat(follow_symlinks=False).st_mtime, e.name))
    for entry in entries:
        name, lower = entry.name, entry.name.lower()
        if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
            found.other.append(name)
        elif lower.startswith("responses") and lower.endswith(".csv"):
            found.responses.append(name)
        elif lower.startswith("recordings") and lower.endswith(".csv"):
            found.manifests.append(name)
        elif lower.endswith(".wav"):
            found.recordings.append(name)
        else:
            found.other.append(name)
    return found


def resolve(client_id: str, name: str) -> Path:
    """A file named by a delivery, guaranteed inside landing/<client_id>/ and not a link.

    Rejects absolute paths, separators, `..`, and symbolic links (design §4, R10).
    """
    folder = settings.landing_dir(client_id).resolve()
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name or os.path.isabs(name):
        raise UnsafePath("file name must be a plain name inside the client's landing folder")
    candidate = folder / name
    if candidate.is_symlink():
        raise UnsafePath("file is a symbolic link")
    if candidate.resolve().parent != folder:
        raise UnsafePath("file name leaves the client's landing folder")
    return candidate


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def collect(client_id: str) -> dict[str, int]:
    """Move the client's deliveries from its object-storage landing zone into the landing folder.

    Each object is copied to a hidden temporary file, made durable, renamed into place
    and only then deleted from the bucket, so a crash at any point leaves the delivery
    in one place or both, never in neither; a copy made twice loads once (deliveries
    are known by content). A nested key cannot be a delivery's plain file name: it
    arrives under a neutral name, which the landing sweep quarantines (nothing is
    silently dropped, nothing lingers in the bucket).
    """
    remote = storage.landing(client_id)
    if remote is None:
        return {"objects_collected": 0, "bytes_collected": 0, "objects_renamed": 0}
    folder = settings.landing_dir(client_id)
    folder.mkdir(parents=True, exist_ok=True)
    collected = size = renamed = 0
    found = remote.files()
    for number, item in enumerate(found, start=1):
        plain = "/" not in item.name and not item.name.startswith(".")
        target = folder / (item.name if plain else f"unexpected-object-{uuid.uuid4().hex[:12]}.bin")
        partial = folder / f".collecting-{uuid.uuid4().hex}"
        try:
            with remote.path(item.name).open("rb") as reader, partial.open("wb") as writer:
                while block := reader.read(1 << 20):
                    writer.write(block)
                writer.flush()
                os.fsync(writer.fileno())
            delivered = item.modified.timestamp()
            os.utime(partial, (delivered, delivered))  # landing order follows delivery order
            os.replace(partial, target)
            remote.delete(item.name)
        except Exception as exc:  # noqa: BLE001 -- a delivered name may be a person's: the error names the object by number only
            raise storage.StorageError(
                f"{remote}: object {number} of {len(found)} could not be collected ({type(exc).__name__}); "
                f"{collected} collected before it; the rest stays in the bucket for the next run"
            ) from None
        finally:
            partial.unlink(missing_ok=True)
        collected, size, renamed = collected + 1, size + item.size, renamed + (not plain)
    if collected:
        log.info(
            "collected %d deliveries (%d bytes) from %s; %d under a neutral name", collected, size, remote, renamed
        )
    return {"objects_collected": collected, "bytes_collected": size, "objects_renamed": renamed}
