"""R9 anonymisation treatments, one module per kind of value, chosen per column by the data map (R8).

Direct identifiers are removed outright (set to NULL by the nightly job, no module needed).
Quasi-identifiers are generalised in steps that k-anonymity can climb: a birth date becomes
an age band at the time of response (`dates`), a postcode becomes its 2-digit area, then its
province, then its country (`postcodes`). Open-text answers are scrubbed of the person's own
values and of every identifier pattern, name and place that can be found offline (`text`),
or dropped where a client's config says `open_text: drop`; `text.find_identifiers` is the
detector the proof (R11) runs over what was scrubbed. Recordings are deleted: a voice
cannot be anonymised.
"""
