"""The source mapping contract: validation with file:line:field, header matching, the content hash, presets."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.sources import MappingError, load_mapping, parse_mapping, presets, resolve

CRM = """\
read:
  date_formats: ["%m/%d/%Y"]
  timezone: America/New_York
feeds:
  - dataset: opportunities
    when: {not_blank: [close_date]}
    columns:
      opportunity_id: opportunity_id
      customer_id: account
      owner_employee_id: sales_agent
      stage: {from: Deal Stage, map: {Won: won, Lost: lost, Engaging: open}}   # YOURS: your stage names
      created_at: {from: [engage_date, close_date]}
      closed_at: close_date
      amount: {from: close_value, default: 0}
      currency: {value: EUR}
      source: {value: inbound}
"""
HEADER = ["opportunity_id", "sales_agent", "product", "Account ", "DEAL STAGE", "engage_date", "close_date",
          "close_value"]


def _write(tmp_path: Path, text: str, name: str = "crm.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _line(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def test_a_valid_mapping_reads_every_scalar_as_text(tmp_path):
    text = CRM.replace("{Won: won,", "{Yes: won, 0012: lost, 2017-03-01: open, Won: won,")
    src = load_mapping(_write(tmp_path, text))
    rule = src.mapping.feeds[0].columns["stage"]
    assert rule.map == {"Yes": "won", "0012": "lost", "2017-03-01": "open", "Won": "won", "Lost": "lost",
                        "Engaging": "open"}
    assert src.mapping.feeds[0].columns["amount"].default == "0"
    assert src.mapping.feeds[0].columns["created_at"].from_ == ("engage_date", "close_date")
    assert src.mapping.read.timezone == "America/New_York"
    assert src.yours == ((_line(text, "YOURS"), "YOURS: your stage names"),)


@pytest.mark.parametrize(
    "old,new,field,message",
    [
        ("      customer_id: account\n", "", "feeds.0.columns", "required column(s) of opportunities neither mapped "
                                                                 "nor given a `value`: customer_id"),
        ("stage: {from", "stag: {from", "feeds.0.columns.stag", "'stag' is not a column of opportunities"),
        ("timezone: America/New_York", "timezone: Mars/Olympus", "read.timezone", "unknown timezone 'Mars/Olympus'"),
        ('["%m/%d/%Y"]', '["mm/dd/yyyy"]', "read.date_formats", "is not a date format"),
        ("currency: {value: EUR}", "currency: {value: EUR, map: {a: b}}", "feeds.0.columns.currency",
         "`value` is a constant"),
        ("dataset: opportunities", "dataset: deals", "feeds.0.dataset", "unknown dataset 'deals'"),
        ("    when: {not_blank: [close_date]}", "    whenn: {not_blank: [close_date]}", "feeds.0.whenn",
         "unknown key 'whenn'"),
        ("closed_at: close_date", "closed_at: {from: close_date, time: close_time, map: {}}",
         None, None),  # valid: a time column on a timestamp
        ("amount: {from: close_value, default: 0}", "amount: {from: close_value, time: t}",
         "feeds.0.columns.amount", "`time` only goes with a timestamp column"),
    ],
)
def test_a_broken_mapping_names_file_line_and_field(tmp_path, old, new, field, message):
    assert old in CRM
    text = CRM.replace(old, new, 1)
    path = _write(tmp_path, text)
    if field is None:
        load_mapping(path)
        return
    with pytest.raises(MappingError) as err:
        load_mapping(path)
    msg = str(err.value)
    anchor = new.strip().split(":")[0] if new else "columns:"
    assert f"{path}:{_line(text, anchor)}: {field}: " in msg, msg
    assert message in msg


def test_a_source_cannot_be_named_like_a_dataset(tmp_path):
    with pytest.raises(MappingError, match=r"activities\.yaml:1: \(name\): 'activities' is a dataset"):
        load_mapping(_write(tmp_path, CRM, "activities.yaml"))


def test_two_feeds_of_one_dataset_are_refused(tmp_path):
    text = CRM + CRM.split("feeds:\n", 1)[1]
    with pytest.raises(MappingError, match=r"feeds\.1\.dataset: opportunities is fed twice"):
        load_mapping(_write(tmp_path, text))


def test_invalid_yaml_names_the_line(tmp_path):
    with pytest.raises(MappingError, match=r"crm\.yaml:3: not valid YAML"):
        load_mapping(_write(tmp_path, "feeds:\n  - dataset: x\n   columns: {a: b\n"))


def test_headers_match_ignoring_case_and_surrounding_spaces(tmp_path):
    src = load_mapping(_write(tmp_path, CRM))
    (feed,) = resolve(src, HEADER, "crm/export.csv")
    assert feed.index["Deal Stage"] == 4 and feed.index["account"] == 3
    assert feed.matched["stage"] == ("DEAL STAGE",) and feed.matched["currency"] == ()
    assert [HEADER[i] for i in feed.unused] == ["product"]


def test_a_missing_or_ambiguous_header_refuses_the_mapping_naming_it(tmp_path):
    path = _write(tmp_path, CRM)
    src = load_mapping(path)
    header = [h for h in HEADER if h != "engage_date"] + ["deal stage "]
    with pytest.raises(MappingError) as err:
        resolve(src, header, "crm/export.csv")
    msg = str(err.value)
    assert (f"{path}:{_line(CRM, 'stage: {from')}: feeds.0.columns.stage: 'Deal Stage' is ambiguous in "
            "crm/export.csv: columns 5 and 8 ('DEAL STAGE', 'deal stage ')") in msg
    assert f"{path}:{_line(CRM, 'created_at')}: feeds.0.columns.created_at: no column 'engage_date' in crm/export.csv" \
        in msg


def test_the_hash_follows_what_the_mapping_says_not_its_layout(tmp_path):
    a = parse_mapping(CRM, Path("crm.yaml"))
    b = parse_mapping("# a comment\n" + CRM.replace("   # YOURS: your stage names", ""), Path("crm.yaml"))
    c = parse_mapping(CRM.replace("Engaging: open", "Engaging: lost"), Path("crm.yaml"))
    assert a.sha256 == b.sha256 != c.sha256


@pytest.mark.parametrize("name", sorted(presets()))
def test_every_preset_is_valid_and_points_at_what_needs_your_words(name):
    src = load_mapping(presets()[name])
    assert src.name == name
    assert src.yours, f"{name}: no `# YOURS:` comment marks the values a user must adapt"
