"""The landing zone: what a client delivered, and safe access to it (R10)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from include import settings


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
