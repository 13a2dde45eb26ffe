"""WAV files read for real: the RIFF chunks are walked and checked before a recording is stored.

A delivered `.wav` is only trusted once its header says PCM audio of a plausible
shape and its data chunk is wholly inside the file. Errors carry a reason code
and a description of the problem; never the file's name, which may name a person.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
# KSDATAFORMAT_SUBTYPE_PCM, 00000001-0000-0010-8000-00aa00389b71, as stored (little-endian fields).
PCM_SUBFORMAT = bytes.fromhex("0100000000001000800000aa00389b71")
SAMPLE_WIDTHS = frozenset({1, 2, 3, 4})
CHANNELS = range(1, 9)
SAMPLE_RATES = range(8000, 192001)

CODES = ("not_riff", "not_wave", "no_fmt", "not_pcm", "no_data", "truncated", "empty_audio", "bad_format")


class WavError(ValueError):
    """A file that is not a usable PCM WAV; `code` is the quarantine reason code."""

    def __init__(self, code: str, problem: str) -> None:
        super().__init__(f"{code}: {problem}")
        self.code = code
        self.problem = problem


@dataclass(frozen=True)
class WavInfo:
    sample_rate: int
    channels: int
    sample_width: int
    frames: int
    duration_seconds: float
    data_bytes: int


@dataclass(frozen=True)
class _Format:
    tag: int
    channels: int
    sample_rate: int
    byte_rate: int
    block_align: int
    bits: int


def inspect(path: str | os.PathLike[str]) -> WavInfo:
    """Walk the RIFF chunks of a WAV file and describe its audio, or raise WavError.

    An empty or cut-off file is "truncated"; a valid header with no frames is "empty_audio".
    """
    path = Path(path)
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        head = handle.read(12)
        if len(head) < 12:
            if b"RIFF".startswith(head[:4]):
                raise WavError("truncated", f"file ends after {len(head)} bytes, before the RIFF header is complete")
            raise WavError("not_riff", "file does not start with a RIFF header")
        magic, riff_size, form = struct.unpack("<4sI4s", head)
        if magic != b"RIFF":
            raise WavError("not_riff", "file does not start with a RIFF header")
        if form != b"WAVE":
            raise WavError("not_wave", "RIFF file of another form than WAVE")
        riff_end = 8 + riff_size
        if riff_end > size:
            raise WavError("truncated", f"RIFF header declares {riff_end} bytes, file has {size}")
        fmt, data_bytes = _walk(handle, riff_end)
    return _describe(fmt, data_bytes)


def _walk(handle, riff_end: int) -> tuple[_Format, int]:
    """Find the fmt and data chunks; the data chunk is skipped, never read."""
    fmt: _Format | None = None
    data_bytes: int | None = None
    position = 12
    while position + 8 <= riff_end and (fmt is None or data_bytes is None):
        handle.seek(position)
        chunk_id, chunk_size = struct.unpack("<4sI", handle.read(8))
        body = position + 8
        if body + chunk_size > riff_end:
            raise WavError("truncated", f"chunk {chunk_id!r} declares {chunk_size} bytes, more than the file holds")
        if chunk_id == b"fmt ":
            fmt = _read_format(handle.read(chunk_size))
        elif chunk_id == b"data":
            data_bytes = chunk_size
        position = body + chunk_size + (chunk_size & 1)  # chunks are padded to an even size
    if fmt is None:
        raise WavError("no_fmt", "no 'fmt ' chunk describes the audio")
    if data_bytes is None:
        raise WavError("no_data", "no 'data' chunk holds the audio")
    return fmt, data_bytes


def _read_format(body: bytes) -> _Format:
    if len(body) < 16:
        raise WavError("bad_format", f"'fmt ' chunk has {len(body)} bytes, at least 16 are needed")
    fmt = _Format(*struct.unpack("<HHIIHH", body[:16]))
    if fmt.tag == WAVE_FORMAT_EXTENSIBLE:
        if len(body) < 40 or struct.unpack("<H", body[16:18])[0] < 22:
            raise WavError("bad_format", "WAVE_FORMAT_EXTENSIBLE without its 22-byte extension")
        if body[24:40] != PCM_SUBFORMAT:
            raise WavError("not_pcm", "WAVE_FORMAT_EXTENSIBLE with a sub-format other than PCM")
    elif fmt.tag != WAVE_FORMAT_PCM:
        raise WavError("not_pcm", f"format tag 0x{fmt.tag:04x} is not PCM (0x0001)")
    return fmt


def _describe(fmt: _Format, data_bytes: int) -> WavInfo:
    if fmt.bits % 8 or fmt.bits // 8 not in SAMPLE_WIDTHS:
        raise WavError("bad_format", f"{fmt.bits} bits per sample; 8, 16, 24 or 32 expected")
    if fmt.channels not in CHANNELS:
        raise WavError("bad_format", f"{fmt.channels} channels; 1 to 8 expected")
    if fmt.sample_rate not in SAMPLE_RATES:
        raise WavError("bad_format", f"sample rate {fmt.sample_rate} Hz; 8000 to 192000 expected")
    width = fmt.bits // 8
    if fmt.block_align != fmt.channels * width:
        raise WavError("bad_format", f"block align {fmt.block_align} does not match {fmt.channels} x {width} bytes")
    if fmt.byte_rate != fmt.sample_rate * fmt.block_align:
        raise WavError("bad_format", f"byte rate {fmt.byte_rate} does not match sample rate x block align")
    if data_bytes % fmt.block_align:
        raise WavError("truncated", f"data chunk of {data_bytes} bytes ends inside a frame of {fmt.block_align}")
    frames = data_bytes // fmt.block_align
    if frames == 0:
        raise WavError("empty_audio", "data chunk holds no audio frames")
    return WavInfo(
        sample_rate=fmt.sample_rate,
        channels=fmt.channels,
        sample_width=width,
        frames=frames,
        duration_seconds=frames / fmt.sample_rate,
        data_bytes=data_bytes,
    )
