"""Realistic fake deliveries (design §4) for tests, the demo and benchmarks: Faker('nl_NL'), seeded.

Everything here is invented; the shapes follow the delivery contract, including the
ways real deliveries go wrong (Dutch Excel `;` with a BOM, Latin-1 exports, missing
columns, bad rows, files that are not WAVs). Nothing is returned or logged but
counts, reason codes and the names of delivery files.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import math
import random
import re
import struct
import unicodedata
import wave
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

from faker import Faker

from include import terms
from include.config import Assignment, ClientConfig

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

REQUIRED_COLUMNS = ("assignment_id", "respondent_ref", "invited_at", "responded_at")
RESPONSE_COLUMNS = (
    *REQUIRED_COLUMNS,
    "first_name", "last_name", "email", "phone", "street", "house_number", "postcode", "city",
    "birth_date", "gender", "marital_status", "customer_number", "transaction_id", "transaction_date",
    "nps", "csat", "answer_text", "ip_address", "user_agent", "complaint_history",
)  # fmt: skip
MANIFEST_COLUMNS = ("file_name", "assignment_id", "respondent_ref", "recorded_at", "sha256")

UNKNOWN_ASSIGNMENT = "onbekende_opdracht_2026"
MARITAL_STATUSES = ("gehuwd", "ongehuwd", "samenwonend", "geregistreerd partnerschap", "gescheiden", "verweduwd")
# Area codes of real Dutch fixed lines (3 digits incl. 0: 7-digit subscriber numbers).
_AREA_CODES = ("010", "020", "023", "024", "026", "030", "033", "035", "036", "038", "040", "043", "045", "046",
               "050", "053", "055", "058", "070", "071", "072", "073", "074", "075", "076", "077", "078", "079")  # fmt: skip
_POSTCODE_LETTERS = "ABCDEFGHJKLMNPRSTVWXZ"
_ACCENTED_NAMES = (("Zoë", "Müller"), ("André", "Señor"), ("Inès", "Hoogeveen-Brüll"), ("Chloë", "Dübbers"),
                   ("Renée", "Çelik"), ("Jérôme", "Ågren"), ("Noël", "Hoëgaerts"))  # fmt: skip

_PRAISE = (
    "De medewerker was vriendelijk en dacht goed met mij mee.",
    "Snel geholpen, duidelijke uitleg, prima service.",
    "Ik kreeg binnen een dag antwoord; daar ben ik blij mee.",
    "Alles werd in één keer opgelost, dank daarvoor.",
    "Fijn dat er meteen een monteur langs kon komen.",
)
_COMPLAINTS = (
    "Ik moest lang in de wacht staan, bijna twintig minuten.",
    "De factuur klopte niet en niemand kon uitleggen waarom.",
    "Na drie keer bellen is het probleem nog steeds niet opgelost; erg frustrerend.",
    "De website gaf een foutmelding, dus ik heb maar gebeld.",
    "Beloofd werd dat ik teruggebeld zou worden, maar dat is niet gebeurd.",
)
_SUGGESTIONS = (
    "Misschien kunt u een terugbelservice aanbieden, dat scheelt wachten.",
    "Zorg dat de app ook 's avonds werkt; overdag heb ik geen tijd.",
    "Stuur een bevestiging per e-mail, dan weet ik waar ik aan toe ben.",
)
_COMPLAINT_TOPICS = ("factuur", "storing", "bereikbaarheid", "levering", "monteur", "opzegging", "verhuizing")


def _timestamp(moment: dt.datetime, with_offset: bool) -> str:
    """ISO timestamp in Amsterdam time; without offset it means Amsterdam (design §4)."""
    local = moment.astimezone(AMSTERDAM).replace(microsecond=0)
    return local.isoformat() if with_offset else local.replace(tzinfo=None).isoformat()


def _mobile(rng: random.Random) -> tuple[str, str]:
    digits = f"6{rng.randint(1, 5)}{rng.randint(0, 9_999_999):07d}"
    return (f"0{digits[0]}-{digits[1:]}", f"+31 {digits[0]} {digits[1:]}")[rng.random() < 0.4], digits


def _phone(rng: random.Random) -> str:
    """A Dutch number in one of the formats clients deliver: 06-12345678, +31 6 12345678, 020-1234567."""
    if rng.random() < 0.7:
        return _mobile(rng)[0]
    return f"{rng.choice(_AREA_CODES)}-{rng.randint(2, 9)}{rng.randint(0, 999_999):06d}"


def _postcode(rng: random.Random) -> str:
    """A valid Dutch postcode: 1000-9999 and two letters, never SA, SD or SS."""
    while True:
        letters = rng.choice(_POSTCODE_LETTERS) + rng.choice(_POSTCODE_LETTERS)
        if letters not in ("SA", "SD", "SS"):
            return f"{rng.randint(1000, 9999)} {letters}"


def _mailbox(text: str) -> str:
    ascii_only = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", ascii_only.lower()) or "info"


def _answer_text(rng: random.Random, person: dict[str, str]) -> str:
    """Dutch open answer; sometimes with a newline, comma and semicolon, sometimes with the person's own details."""
    sentences = [rng.choice(_PRAISE if int(person["nps"]) >= 7 else _COMPLAINTS)]
    if rng.random() < 0.4:
        sentences.append(rng.choice(_SUGGESTIONS))
    roll = rng.random()
    if roll < 0.1:
        sentences.append(f"U kunt mij bellen op {person['phone']}.")
    elif roll < 0.2:
        sentences.append(f"Mail gerust naar {person['email']}, dan leg ik het uit.")
    elif roll < 0.3:
        sentences.append(f"Met vriendelijke groet, {person['first_name']} {person['last_name']}")
    # Open answers break CSVs in practice: multi-line cells with ',' and ';' inside quotes.
    return ("\n" if rng.random() < 0.25 else " ").join(sentences)


def fake_respondents(
    n: int,
    *,
    assignment_ids: Sequence[str],
    seed: int,
    as_of: dt.date,
    response_rate: float = 0.7,
    ref_start: int = 1,
    non_respondents_after: dt.date | None = None,
) -> list[dict[str, str]]:
    """`n` invented invitees as delivery rows (strings, '' for missing); deterministic for a seed.

    Ingest refuses anyone who never answered and was invited on or before the R3 cutoff, so people without
    a response are invited after `non_respondents_after`; by default the cutoff of the shortest term a client
    may set (one month) a week after `as_of`, which every client's ingest in that week accepts.
    """
    if not assignment_ids:
        raise ValueError("fake_respondents needs at least one assignment id")
    after = non_respondents_after or terms.non_respondent_cutoff(as_of + dt.timedelta(days=7), 1)
    non_respondent_days = (as_of - after).days - 1  # how many days back from as_of they may be invited
    if non_respondent_days < 1 and response_rate < 1:
        raise ValueError(f"no day between {after} and {as_of} to invite someone who does not answer")
    fake = Faker("nl_NL")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    # The run of as_of starts at midnight in Amsterdam: everything delivered happened before it.
    day_start = dt.datetime.combine(as_of, dt.time(), AMSTERDAM)
    rows: list[dict[str, str]] = []
    for index in range(n):
        gender = rng.choices(("man", "vrouw", "anders"), weights=(48, 49, 3))[0]
        first_name = {"man": fake.first_name_male, "vrouw": fake.first_name_female}.get(gender, fake.first_name)()
        last_name = fake.last_name()
        invited = day_start - dt.timedelta(days=rng.uniform(1, 92))
        invited = invited.replace(hour=rng.randint(8, 20), minute=rng.randint(0, 59), second=rng.randint(0, 59))
        responded = None
        if rng.random() < response_rate:
            room = (day_start - invited).total_seconds()
            responded = invited + dt.timedelta(seconds=rng.uniform(min(300, room / 2), min(room - 60, 10 * 86400)))
        else:
            # After the R3 cutoff (see above). No draw is added: every other value stays as the seed made it.
            days_back = (day_start.date() - invited.date()).days
            invited += dt.timedelta(days=days_back - 1 - (days_back - 1) % non_respondent_days)
        with_offset = rng.random() < 0.5
        transaction_day = invited.astimezone(AMSTERDAM).date() - dt.timedelta(days=rng.randint(0, 14))
        age_days = rng.randint(18 * 366, 90 * 365)
        person = {
            "assignment_id": rng.choice(list(assignment_ids)),
            "respondent_ref": f"R{ref_start + index:07d}",
            "invited_at": _timestamp(invited, with_offset),
            "responded_at": _timestamp(responded, with_offset) if responded else "",
            "first_name": first_name,
            "last_name": last_name,
            "email": f"{_mailbox(first_name)}.{_mailbox(last_name)}{rng.randint(1, 99)}@{fake.free_email_domain()}",
            "phone": _phone(rng),
            "street": fake.street_name(),
            "house_number": str(rng.randint(1, 250)) + rng.choice(("", "", "", "A", "B", "-2", " bis")),
            "postcode": _postcode(rng),
            "city": fake.city(),
            "birth_date": (as_of - dt.timedelta(days=age_days)).isoformat(),
            "gender": gender,
            "marital_status": rng.choice((*MARITAL_STATUSES, "")),
            "customer_number": f"K{rng.randint(0, 99_999_999):08d}",
            "transaction_id": f"TX-{transaction_day:%Y%m%d}-{rng.getrandbits(32):08X}",
            "transaction_date": transaction_day.isoformat(),
            "nps": "",
            "csat": "",
            "answer_text": "",
            "ip_address": "",
            "user_agent": "",
            "complaint_history": "",
        }
        if responded:
            person["nps"] = str(rng.choices(range(11), weights=(1, 1, 1, 2, 2, 4, 6, 10, 14, 10, 8))[0])
            person["csat"] = str(rng.choices(range(1, 6), weights=(1, 2, 4, 8, 5))[0])
            person["ip_address"] = fake.ipv4_public() if rng.random() < 0.8 else fake.ipv6()
            person["user_agent"] = fake.user_agent()
            if rng.random() < 0.8:
                person["answer_text"] = _answer_text(rng, person)
        if rng.random() < 0.2:
            topics = rng.sample(_COMPLAINT_TOPICS, rng.randint(1, 3))
            person["complaint_history"] = f"{len(topics)} klacht(en) sinds {transaction_day.year - 1}: " + "; ".join(
                topics
            )
        rows.append(person)
    return rows


def write_responses_csv(
    path: Path,
    rows: list[dict[str, str]],
    *,
    delimiter: str = ",",
    bom: bool = False,
    columns: Sequence[str] | None = None,
    encoding: str | None = None,
) -> Path:
    """Write a responses CSV as clients export it (QUOTE_MINIMAL; utf-8, utf-8-sig with `bom`)."""
    columns = list(columns or RESPONSE_COLUMNS)
    encoding = encoding or ("utf-8-sig" if bom else "utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding=encoding, errors="replace", newline="") as handle:
        writer = csv.DictWriter(
            handle,
            fieldnames=columns,
            delimiter=delimiter,
            quoting=csv.QUOTE_MINIMAL,
            extrasaction="ignore",
            restval="",
        )
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_wav(path: Path, *, seconds: float = 1.0, sample_rate: int = 8000, channels: int = 1, seed: int = 0) -> str:
    """Write a real 16-bit PCM WAV (a tone plus noise, different per seed); return its sha256 hex."""
    rng = random.Random(seed)
    frequency = rng.uniform(180.0, 900.0)
    frames = max(1, int(round(seconds * sample_rate)))
    step = 2 * math.pi * frequency / sample_rate
    samples = []
    for i in range(frames):
        value = int(9000 * math.sin(step * i) + rng.gauss(0, 1500))
        samples.extend([max(-32768, min(32767, value))] * channels)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(2)
        handle.setframerate(sample_rate)
        handle.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return _sha256(path)


def write_manifest(path: Path, entries: list[dict[str, str]], *, delimiter: str = ",") -> Path:
    """Write a recordings manifest: file_name, assignment_id, respondent_ref, recorded_at, sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS, delimiter=delimiter, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(entries)
    return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def deliverable_assignments(client: ClientConfig, as_of: dt.date) -> list[Assignment]:
    """Assignments a client can still deliver for on as_of: running, or completed and not past term (R2, R4)."""
    if client.destruction_requested_on and client.destruction_requested_on <= as_of:
        return []
    return [
        a
        for a in client.assignments
        if (a.completed_on is None or terms.term_ends_on(a.completed_on, client.retention_months) > as_of)
        and not (a.destruction_requested_on and a.destruction_requested_on <= as_of)
    ]


def _plant_bad_rows(rows: list[dict[str, str]], rng: random.Random) -> dict[str, int]:
    """Spoil a few rows of a good file the way real deliveries go wrong; returns counts per problem."""
    bad_email, bad_nps, bad_assignment, original = (rows[i] for i in rng.sample(range(len(rows)), 4))
    bad_email["email"] = bad_email["email"].replace("@", "@@", 1)
    # A respondent (so only the score is wrong), scored on a 0-10 scale as 11.
    bad_nps["responded_at"] = bad_nps["responded_at"] or bad_nps["invited_at"]
    bad_nps["nps"], bad_nps["csat"] = "11", bad_nps["csat"] or "4"
    bad_assignment["assignment_id"] = UNKNOWN_ASSIGNMENT
    # The same person's key twice in one assignment, with different details.
    twin = {**original, "first_name": original["first_name"] + "je", "email": "dubbel." + original["email"]}
    rows.insert(rng.randint(rows.index(original) + 1, len(rows)), twin)
    return {"bad_email": 1, "nps_out_of_range": 1, "unknown_assignment": 1, "duplicate_respondent_ref": 1}


def generate_delivery(
    client: ClientConfig,
    landing: Path,
    *,
    as_of: dt.date,
    seed: int,
    respondents: int = 200,
    recordings: int = 10,
    broken: bool = True,
) -> dict:
    """Write a realistic delivery for `client` into `landing`; return counts (no personal values)."""
    rng = random.Random(seed)
    landing.mkdir(parents=True, exist_ok=True)
    stamp = f"{as_of:%Y%m%d}_{seed}"
    assignments = deliverable_assignments(client, as_of)
    summary: dict = {
        "client_id": client.client_id,
        "as_of": as_of.isoformat(),
        "assignments": [a.id for a in assignments],
        "responses_files": {},
        "rows": 0,
        "planted_bad_rows": {},
        "broken_files": {},
        "manifests": {},
        "recordings": 0,
        "broken_recordings": {},
        "files_written": 0,
    }
    if not assignments:
        return summary

    people: list[dict[str, str]] = []
    share = max(1, respondents // len(assignments))
    # R3: the delivery carries no one who never answered past the client's term when it is ingested (that week).
    cutoff = terms.non_respondent_cutoff(as_of + dt.timedelta(days=7), client.non_respondent_months)
    for index, assignment in enumerate(assignments):
        count = respondents - share * (len(assignments) - 1) if index == len(assignments) - 1 else share
        # A completed assignment invited people before its completion, not in the weeks before as_of.
        window_end = min(as_of, assignment.completed_on) if assignment.completed_on else as_of
        people += fake_respondents(
            max(0, count),
            assignment_ids=[assignment.id],
            seed=seed * 1000 + index,
            as_of=window_end,
            ref_start=len(people) + 1,
            # Completed before the term began: its non-respondents are gone already; the answers remain.
            response_rate=0.7 if window_end > cutoff + dt.timedelta(days=1) else 1.0,
            non_respondents_after=cutoff,
        )
    rng.shuffle(people)
    split = (len(people) * 3) // 5
    first, second = [dict(p) for p in people[:split]], [dict(p) for p in people[split:]]
    if broken and len(first) >= 5:
        summary["planted_bad_rows"] = _plant_bad_rows(first, rng)

    files = {
        f"responses_{stamp}_portaal.csv": (first, {}),
        # Dutch Excel: ';' between fields and a byte-order mark.
        f"responses_{stamp}_excel.csv": (second, {"delimiter": ";", "bom": True}),
    }
    for name, (rows, options) in files.items():
        if rows:
            write_responses_csv(landing / name, rows, **options)
            summary["responses_files"][name] = len(rows)
            summary["rows"] += len(rows)

    loaded_respondents = [p for p in second if p["responded_at"]]
    chosen = rng.sample(loaded_respondents, min(recordings, len(loaded_respondents)))
    entries = []
    for number, person in enumerate(chosen, start=1):
        name = f"gesprek_{stamp}_{number:04d}.wav"
        digest = write_wav(
            landing / name,
            seconds=rng.uniform(1.0, 3.0),
            sample_rate=rng.choice((8000, 16000)),
            channels=1,
            seed=seed * 10_000 + number,
        )
        invited = dt.datetime.fromisoformat(person["invited_at"])
        recorded = (invited if invited.tzinfo else invited.replace(tzinfo=AMSTERDAM)) - dt.timedelta(
            hours=rng.uniform(1, 48)
        )
        entries.append(
            {
                "file_name": name,
                "assignment_id": person["assignment_id"],
                "respondent_ref": person["respondent_ref"],
                "recorded_at": _timestamp(recorded, True),
                "sha256": digest,
            }
        )
    summary["recordings"] = len(entries)

    if broken and entries:
        template = entries[0]
        fake_wav = landing / f"gesprek_{stamp}_nietwav.wav"
        fake_wav.write_text("Dit is geen geluidsopname maar een tekstbestand.\n", encoding="utf-8")
        truncated = landing / f"gesprek_{stamp}_afgebroken.wav"
        write_wav(truncated, seconds=2.0, seed=seed)
        data = truncated.read_bytes()
        truncated.write_bytes(data[: len(data) // 3])  # a transfer that broke off: header promises more frames
        for path in (fake_wav, truncated):
            entries.append({**template, "file_name": path.name, "sha256": _sha256(path)})
        summary["broken_recordings"] = {"not_a_wav": 1, "truncated_wav": 1}
    if entries:
        manifest = f"recordings_{stamp}.csv"
        write_manifest(landing / manifest, entries)
        summary["manifests"][manifest] = len(entries)

    if broken:
        summary["broken_files"] = _write_broken_files(landing, stamp, assignments, seed, as_of, len(people) + 1)
    summary["files_written"] = sum(1 for _ in landing.iterdir())
    return summary


def _write_broken_files(
    landing: Path, stamp: str, assignments: list[Assignment], seed: int, as_of: dt.date, ref_start: int
) -> dict[str, str]:
    """Whole files that cannot be loaded; returns file name -> what is wrong with it."""
    ids = [a.id for a in assignments]
    latin = fake_respondents(6, assignment_ids=ids, seed=seed + 7, as_of=as_of, ref_start=ref_start)
    for person, (first_name, last_name) in zip(latin, _ACCENTED_NAMES, strict=False):
        person["first_name"], person["last_name"] = first_name, last_name
    latin_name = f"responses_{stamp}_export_latin1.csv"
    # An old export tool: Latin-1, so 'ë' is one byte that is not valid UTF-8.
    write_responses_csv(landing / latin_name, latin, encoding="latin-1")
    missing = fake_respondents(4, assignment_ids=ids, seed=seed + 11, as_of=as_of, ref_start=ref_start + 100)
    missing_name = f"responses_{stamp}_zonder_sleutel.csv"
    write_responses_csv(
        landing / missing_name,
        missing,
        columns=[c for c in RESPONSE_COLUMNS if c not in ("respondent_ref", "invited_at")],
    )
    empty_name = f"responses_{stamp}_leeg.csv"
    (landing / empty_name).write_bytes(b"")
    return {latin_name: "wrong_encoding", missing_name: "missing_required_columns", empty_name: "empty_file"}
