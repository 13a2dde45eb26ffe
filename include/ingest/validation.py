"""Validation of responses deliveries: a Great Expectations suite built from the contract and the client's
assignments, then the checks that need parsed values (calendar dates, order of events).

Every check yields (column, reason_code) per record number. GX is asked for the
indexes of failing rows only; the values it also returns are personal data and are
dropped on the spot, never logged or stored.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from include import identifiers, sql, terms
from include.ingest import contract

AMSTERDAM = "Europe/Amsterdam"
EARLIEST_BIRTH_DATE = "1900-01-01"

# Record number -> (column, reason_code) pairs; column '' for a problem of the whole record.
Problems = dict[int, list[tuple[str, str]]]


@dataclass(frozen=True)
class AssignmentStates:
    """What each of a client's assignments may still receive on the as-of day (R2, R4)."""

    open: frozenset[str]
    past_term: frozenset[str]
    destroyed: frozenset[str]

    @property
    def known(self) -> frozenset[str]:
        return self.open | self.past_term | self.destroyed


def assignment_states(conn: Connection, client_id: str, as_of: dt.date) -> AssignmentStates:
    """Read the client's assignments as synced from its config (sync_config runs first)."""
    rows = conn.execute(
        sql.statement("ingest_assignment_states", conn.dialect.name), {"client_id": client_id, "as_of": as_of}
    ).all()
    by_state: dict[str, set[str]] = defaultdict(set)
    for assignment_id, state in rows:
        by_state[state].add(assignment_id)
    return AssignmentStates(
        frozenset(by_state["open"]), frozenset(by_state["past_term"]), frozenset(by_state["destroyed"])
    )


class ResponsesSuite:
    """The Great Expectations suite of one responses file: built once, run on every chunk."""

    def __init__(self, columns: Iterable[str], assignments: AssignmentStates, *, country: str) -> None:
        # GX's INFO lines describe its own set-up and would bury the ingest lines in the task log;
        # one of its modules sets INFO on itself when imported.
        logging.getLogger("great_expectations").setLevel(logging.WARNING)
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
        context = gx.get_context(mode="ephemeral")
        # tqdm bars would fill the task log with noise.
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        batch = (
            context.data_sources.add_pandas("delivery")
            .add_dataframe_asset("responses")
            .add_batch_definition_whole_dataframe("chunk")
        )
        suite = context.suites.add(gx.ExpectationSuite(name="responses_contract"))
        for expectation in _expectations(list(columns), assignments, country):
            suite.add_expectation(expectation)
        self._batch = batch
        self._definition = context.validation_definitions.add(
            gx.ValidationDefinition(name="responses_chunk", data=batch, suite=suite)
        )
        self.expectations = len(suite.expectations)

    def validate(self, frame: pd.DataFrame) -> Problems:
        """Problems per record number (the frame's index) found by the suite."""
        # Pass 1 says which expectations fail; only those are asked for row indexes (pass 2),
        # three times cheaper than the complete result of every expectation on every chunk.
        summary = self._definition.run(batch_parameters={"dataframe": frame}, result_format="BOOLEAN_ONLY")
        failed = [outcome for outcome in summary.results if not outcome.success]
        problems: Problems = defaultdict(list)
        if not failed:
            return problems
        batch = self._batch.get_batch(batch_parameters={"dataframe": frame})
        for outcome in failed:
            _raise_if_broken(outcome)
            config = outcome.expectation_config
            detail = batch.validate(config.to_domain_obj(), result_format={"result_format": "COMPLETE"})
            _raise_if_broken(detail)
            column, code = config.meta["column"], config.meta["code"]
            for record in detail.result["unexpected_index_list"]:
                problems.setdefault(int(record), []).append((column, code))
        return problems


def _raise_if_broken(outcome) -> None:
    if outcome.exception_info and outcome.exception_info.get("raised_exception"):
        meta = outcome.expectation_config.meta
        # GX's message may quote a value: name the check only.
        raise RuntimeError(f"Great Expectations could not evaluate {meta['column'] or 'record'}:{meta['code']}")


def _expectations(columns: list[str], assignments: AssignmentStates, country: str) -> list:
    """Expectations from the contract (R8 columns and formats) and the client's assignments (R2, R4)."""
    import great_expectations.expectations as gxe

    def meta(column: str, code: str) -> dict[str, str]:
        return {"column": column, "code": code}

    patterns = {
        "email": identifiers.EMAIL_PATTERN,
        "phone": identifiers.PHONE_PATTERN,
        "postcode": identifiers.postcode_pattern(country),
        "date": contract.DATE_PATTERN,
        "timestamp": contract.TIMESTAMP_PATTERN,
        "ip": contract.IP_PATTERN,
    }
    expectations = []
    for name in columns:
        column = contract.BY_NAME[name]
        if column.not_null:
            expectations.append(gxe.ExpectColumnValuesToNotBeNull(column=name, meta=meta(name, "required")))
        if column.kind in patterns:
            expectations.append(
                gxe.ExpectColumnValuesToMatchRegex(column=name, regex=patterns[column.kind], meta=meta(name, "format"))
            )
        if column.scores:
            low, high = column.scores
            allowed = [str(score) for score in range(low, high + 1)]
            expectations.append(
                gxe.ExpectColumnValuesToBeInSet(column=name, value_set=allowed, meta=meta(name, "range"))
            )
        # Formatted kinds are bounded by their pattern already.
        if column.max_length and column.kind in ("text", "email"):
            expectations.append(
                gxe.ExpectColumnValueLengthsToBeBetween(
                    column=name, max_value=column.max_length, meta=meta(name, "length")
                )
            )
    expectations.append(
        gxe.ExpectColumnValuesToBeInSet(
            column="assignment_id", value_set=sorted(assignments.known), meta=meta("", "unknown_assignment")
        )
    )
    for code, closed in (
        ("assignment_past_term", assignments.past_term),
        ("assignment_destroyed", assignments.destroyed),
    ):
        if closed:
            expectations.append(
                gxe.ExpectColumnValuesToNotBeInSet(
                    column="assignment_id", value_set=sorted(closed), meta=meta("", code)
                )
            )
    expectations.append(
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["assignment_id", "respondent_ref"], meta=meta("", "duplicate_key")
        )
    )
    return expectations


# --- after parsing ------------------------------------------------------------------------


@dataclass
class Moments:
    """Parsed invitation and response moments (UTC) of a chunk, indexed by record number."""

    invited_at: pd.Series
    responded_at: pd.Series


def to_utc(values: pd.Series) -> pd.Series:
    """ISO timestamps to UTC; without an offset a timestamp is Amsterdam time (design §4). NaT if impossible."""
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us, UTC]")
    present = values.notna()
    with_offset = present & values.str.contains(contract.OFFSET_PATTERN, regex=True, na=False)
    local = present & ~with_offset
    if with_offset.any():
        result[with_offset] = _microseconds(
            pd.to_datetime(values[with_offset], format="ISO8601", utc=True, errors="coerce")
        )
    if local.any():
        naive = _microseconds(pd.to_datetime(values[local], format="ISO8601", errors="coerce"))
        # At the autumn clock change 02:30 happens twice: take the first (summer time); the
        # spring gap's 02:30 never happens: move it forward. The calendar day is the same either way.
        zoned = naive.dt.tz_localize(AMSTERDAM, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="shift_forward")
        result[local] = zoned.dt.tz_convert("UTC")
    return result


def _microseconds(moments: pd.Series) -> pd.Series:
    """Moments at the warehouse's precision, whatever unit pandas parsed them in."""
    return moments.dt.floor("us").dt.as_unit("us")


def amsterdam_day(moments: pd.Series) -> pd.Series:
    """The calendar day in Europe/Amsterdam of UTC moments (design §4: every term counts in those days)."""
    return moments.dt.tz_convert(AMSTERDAM).dt.tz_localize(None).dt.normalize()


def check_parsed(frame: pd.DataFrame, problems: Problems, *, as_of: dt.date, non_respondent_months: int) -> Moments:
    """Checks on parsed values: real calendar dates, responded after invited, answers only with a response,
    no non-respondent past the R3 term."""

    def flag(mask: pd.Series, column: str, code: str) -> None:
        for record in mask.index[mask.to_numpy()]:
            problems.setdefault(int(record), []).append((column, code))

    def badly_formatted(column: str) -> np.ndarray:
        bad = {record for record, found in problems.items() if (column, "format") in found}
        return frame.index.isin(list(bad))

    moments = {}
    for name in ("invited_at", "responded_at"):
        parsed = to_utc(frame[name])
        flag(frame[name].notna() & parsed.isna() & ~badly_formatted(name), name, "invalid_date")
        moments[name] = parsed
    for name in ("birth_date", "transaction_date"):
        if name not in frame:
            continue
        parsed = pd.to_datetime(frame[name], format="%Y-%m-%d", errors="coerce")
        flag(frame[name].notna() & parsed.isna() & ~badly_formatted(name), name, "invalid_date")
        if name == "birth_date":
            flag((parsed > pd.Timestamp(as_of)) | (parsed < pd.Timestamp(EARLIEST_BIRTH_DATE)), name, "range")
    invited, responded = moments["invited_at"], moments["responded_at"]
    flag(responded < invited, "", "responded_before_invited")
    no_response = frame["responded_at"].isna()
    for name in contract.RESPONSE_VALUES:
        if name in frame:
            code = "score_without_response" if contract.BY_NAME[name].kind == "score" else "answer_without_response"
            flag(no_response & frame[name].notna(), name, code)
    # R3: a person who never answered, invited on or before the cutoff, is due for deletion on the as-of
    # day (the same cutoff as the night's delete and the proof): loading them would only keep them past
    # their term. A re-delivery of someone stored already leaves the stored row to tonight's delete.
    cutoff = pd.Timestamp(terms.non_respondent_cutoff(as_of, non_respondent_months))
    flag(no_response & (amsterdam_day(invited) <= cutoff), "", "non_respondent_past_term")
    return Moments(invited_at=invited, responded_at=responded)
