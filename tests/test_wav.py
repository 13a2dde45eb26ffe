"""A delivered .wav is stored only when it really is PCM audio of a plausible shape."""

from __future__ import annotations

import random
import struct
import wave
from pathlib import Path

import pytest
from faker import Faker

from include.ingest.wav import CODES, WavError, inspect

fake = Faker("nl_NL")


def write_wav(path: Path, *, seconds: float, sample_rate: int = 8000, channels: int = 1, width: int = 2) -> Path:
    """A real PCM WAV of noise, written by the standard library."""
    frames = int(seconds * sample_rate)
    rng = random.Random(0)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(sample_rate)
        out.writeframes(rng.randbytes(frames * channels * width))
    return path


def riff(*chunks: tuple[bytes, bytes], form: bytes = b"WAVE") -> bytes:
    body = form + b"".join(cid + struct.pack("<I", len(data)) + data + b"\0" * (len(data) & 1) for cid, data in chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def fmt_chunk(tag: int = 1, channels: int = 1, rate: int = 8000, bits: int = 16, extra: bytes = b"") -> tuple:
    align = channels * bits // 8
    return b"fmt ", struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits) + extra


def rejected(path: Path) -> WavError:
    with pytest.raises(WavError) as caught:
        inspect(path)
    assert caught.value.code in CODES
    return caught.value


@pytest.mark.parametrize(
    ("seconds", "sample_rate", "channels", "width"),
    [
        (1.0, 8000, 1, 2),  # telephone call, mono
        (2.5, 8000, 2, 1),  # 8-bit stereo
        (0.5, 44100, 2, 2),  # CD quality stereo
        (1.25, 44100, 1, 1),
    ],
)
def test_call_recording_is_measured_from_its_header(tmp_path, seconds, sample_rate, channels, width):
    path = write_wav(
        tmp_path / f"{fake.last_name()}.wav", seconds=seconds, sample_rate=sample_rate, channels=channels, width=width
    )

    info = inspect(path)

    assert (info.sample_rate, info.channels, info.sample_width) == (sample_rate, channels, width)
    assert info.frames == int(seconds * sample_rate)
    assert info.duration_seconds == pytest.approx(seconds)
    assert info.data_bytes == info.frames * channels * width
    with wave.open(str(path), "rb") as check:  # the standard library agrees
        assert check.getnframes() == info.frames


def test_text_file_renamed_to_wav_is_rejected(tmp_path):
    path = tmp_path / "gesprek.wav"
    path.write_text(f"{fake.name()};{fake.phone_number()}\n", encoding="utf-8")

    assert rejected(path).code == "not_riff"


def test_wav_cut_off_during_upload_is_rejected_as_truncated(tmp_path):
    path = write_wav(tmp_path / "gesprek.wav", seconds=1.0)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])  # cut in the middle of the data chunk

    assert rejected(path).code == "truncated"


def test_data_chunk_larger_than_the_file_is_rejected_even_when_riff_size_was_patched(tmp_path):
    data = bytes(1600)
    blob = bytearray(riff(fmt_chunk(), (b"data", data)))
    blob = blob[:-800]
    blob[4:8] = struct.pack("<I", len(blob) - 8)  # RIFF size matches the short file; the data chunk does not
    path = tmp_path / "gesprek.wav"
    path.write_bytes(bytes(blob))

    error = rejected(path)
    assert error.code == "truncated"
    assert "data" in str(error)


def test_riff_file_of_another_form_is_rejected(tmp_path):
    path = tmp_path / "gesprek.wav"
    path.write_bytes(riff((b"LIST", b"INFOISFT" + struct.pack("<I", 4) + b"kcm\0"), form=b"AVI "))

    assert rejected(path).code == "not_wave"


def test_compressed_audio_is_rejected_as_not_pcm(tmp_path):
    path = tmp_path / "gesprek.wav"
    path.write_bytes(riff(fmt_chunk(tag=0x0055), (b"data", bytes(800))))  # MPEG layer 3 in a WAV wrapper

    assert rejected(path).code == "not_pcm"


def test_empty_file_is_rejected(tmp_path):
    path = tmp_path / "gesprek.wav"
    path.touch()

    assert rejected(path).code == "truncated"


def test_header_without_audio_frames_is_rejected(tmp_path):
    path = write_wav(tmp_path / "gesprek.wav", seconds=0)

    assert rejected(path).code == "empty_audio"


def test_wav_without_format_or_data_chunk_is_rejected(tmp_path):
    no_fmt = tmp_path / "zonder_fmt.wav"
    no_fmt.write_bytes(riff((b"data", bytes(800))))
    no_data = tmp_path / "zonder_data.wav"
    no_data.write_bytes(riff(fmt_chunk()))

    assert rejected(no_fmt).code == "no_fmt"
    assert rejected(no_data).code == "no_data"


@pytest.mark.parametrize(
    "chunk",
    [
        fmt_chunk(rate=4000),  # below telephone quality
        fmt_chunk(channels=9),
        fmt_chunk(bits=12),
        (b"fmt ", struct.pack("<HHIIHH", 1, 2, 8000, 16000, 2, 16)),  # block align of mono on a stereo file
    ],
    ids=["sample_rate", "channels", "bits", "block_align"],
)
def test_implausible_format_is_rejected(tmp_path, chunk):
    path = tmp_path / "gesprek.wav"
    path.write_bytes(riff(chunk, (b"data", bytes(960))))

    assert rejected(path).code == "bad_format"


def test_extensible_format_is_accepted_only_with_a_pcm_subformat(tmp_path):
    pcm_guid = bytes.fromhex("0100000000001000800000aa00389b71")
    float_guid = bytes.fromhex("0300000000001000800000aa00389b71")
    extension = struct.pack("<HHI", 22, 16, 0x4)
    pcm = tmp_path / "pcm.wav"
    pcm.write_bytes(
        riff(fmt_chunk(tag=0xFFFE, extra=extension + pcm_guid), (b"LIST", b"INFO"), (b"data", bytes(16000)))
    )
    ieee_float = tmp_path / "float.wav"
    ieee_float.write_bytes(riff(fmt_chunk(tag=0xFFFE, extra=extension + float_guid), (b"data", bytes(16000))))

    assert inspect(pcm).duration_seconds == pytest.approx(1.0)
    assert rejected(ieee_float).code == "not_pcm"


def test_error_never_names_the_file(tmp_path):
    name = fake.name()
    path = tmp_path / f"{name}.wav"
    path.write_bytes(b"RIFF")

    error = rejected(path)
    assert name not in str(error)
    assert str(tmp_path) not in str(error)
