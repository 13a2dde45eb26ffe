"""R8: the register of processing an auditor reads is rendered from the data map and the client configs."""

from __future__ import annotations

import dataclasses

from include import config, data_map, register
from scripts import render_register
from tests.factories import write_client


def clients(folder):
    write_client(folder, "acme_energie", name="Acme Energie & Zn <B.V.>", retention_months=3, open_text="drop")
    write_client(folder, "woonstad_brabant", name="Woonstad Brabant", country="NL", retention_months=12,
                 non_respondent_months=1, destruction_requested_on="2027-04-01")  # fmt: skip
    return config.load_clients(folder)


def test_register_lists_per_client_every_personal_column_and_file_with_term_and_treatment(clients_dir):
    valid, errors = clients(clients_dir)

    built = register.build(valid, errors)

    assert [c["client_id"] for c in built["clients"]] == ["acme_energie", "woonstad_brabant"]
    mapping = data_map.load()
    personal = {f"{c.table}.{c.column}" for c in mapping.columns if c.personal}
    for entry in built["clients"]:
        where = {col["where"] for cat in entry["categories"] for col in cat["columns"]}
        assert where == personal
        files = {f["kind"] for cat in entry["categories"] for f in cat["files"]}
        assert files == {f.kind for f in mapping.files}
    acme, woonstad = built["clients"]
    columns = {col["where"]: col for cat in acme["categories"] for col in cat["columns"]}
    assert columns["responses.answer_text"]["treatment"] == "dropped"
    assert columns["respondents.birth_date"]["treatment"] == "generalised to an age band"
    assert columns["respondents.email"]["term"].startswith("3 month(s) after completion (R2)")
    assert columns["respondents.gender"]["term"] == "kept after anonymisation, in a k-anonymous set (R9)"
    woonstad_columns = {col["where"]: col for cat in woonstad["categories"] for col in cat["columns"]}
    assert "12 month(s)" in woonstad_columns["respondents.email"]["term"]
    assert "1 month(s) after invitation" in woonstad_columns["respondents.email"]["term"]
    assert woonstad["destruction_requested_on"] == "2027-04-01"
    assert woonstad["assignments"][0]["term_ends_on"] == "2027-06-30"  # completed 2026-06-30 + 12 months
    recording = next(f for cat in acme["categories"] for f in cat["files"] if f["kind"] == "recording")
    assert recording["where"] == "recordings/acme_energie/<assignment_id>/<sha256>.wav"
    assert recording["treatment"] == "file deleted"


def test_a_column_added_to_the_data_map_appears_in_the_register_without_other_changes(clients_dir):
    valid, _ = clients(clients_dir)
    mapping = data_map.load()
    extended = dataclasses.replace(
        mapping,
        columns=(*mapping.columns, data_map.ColumnEntry("respondents", "loyalty_card", "customer_id", "remove")),
    )

    entry = register.client_entry(valid[0], extended)

    customer_ids = next(cat for cat in entry["categories"] if cat["category"] == "customer_id")
    assert "respondents.loyalty_card" in {col["where"] for col in customer_ids["columns"]}


def test_render_script_writes_html_and_markdown_under_reports_and_flags_broken_configs(kcm_home, clients_dir, capsys):
    clients(clients_dir)
    (clients_dir / "kapot.yaml").write_text("client_id: kapot\ncountry: US\n", encoding="utf-8")

    exit_code = render_register.main([])

    assert exit_code == 1
    html = (kcm_home / "reports" / "register.html").read_text(encoding="utf-8")
    markdown = (kcm_home / "reports" / "register.md").read_text(encoding="utf-8")
    assert "Acme Energie &amp; Zn &lt;B.V.&gt;" in html and "<B.V.>" not in html
    assert "Woonstad Brabant" in html and "GDPR art. 30(2)" in html
    assert "| name: first and last name | `respondents.first_name` | removed |" in markdown
    assert "## Controller: Woonstad Brabant (`woonstad_brabant`, NL)" in markdown
    assert "kapot.yaml" in markdown
    out = capsys.readouterr()
    assert "register (html)" in out.out and "kapot.yaml" in out.err
