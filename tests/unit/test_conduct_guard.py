"""The decoy conduct guard reads transcripts and flags instigating lines from the decoy side only."""

import json

from evidence.conduct_guard import DEFAULT_PATTERNS, check, parse_transcript

TEXT = """[14:01] dave_77: hi how old r u
[14:02] mia_x: 13
[14:03] dave_77: want to meet up?
[14:05] mia_x: where do you live
[14:06] mia_x: ok
"""


def test_plain_text_flags_only_the_decoys_instigating_line():
    flags = check(parse_transcript(TEXT, "text/plain"), ["mia_x"], DEFAULT_PATTERNS)
    assert [(f.line, f.text) for f in flags] == [(4, "where do you live")]


def test_the_other_partys_proposals_are_not_the_decoys_problem():
    flags = check(parse_transcript(TEXT, "text/plain"), ["Mia_X"], DEFAULT_PATTERNS)
    assert all("meet" not in f.text for f in flags)


def test_csv_and_json_exports_are_read_by_their_columns():
    csv_text = "time,sender,message\n14:00,mia_x,send me a pic\n14:01,dave_77,no\n"
    assert [f.line for f in check(parse_transcript(csv_text, "text/csv"), ["mia_x"], DEFAULT_PATTERNS)] == [2]
    data = json.dumps({"messages": [{"from": "mia_x", "text": "hi"}, {"from": "mia_x", "text": "You look sexy"}]})
    assert [f.line for f in check(parse_transcript(data, "application/json"), ["mia_x"], DEFAULT_PATTERNS)] == [2]


def test_no_handle_means_nothing_is_flagged_and_nothing_breaks_on_odd_input():
    assert check(parse_transcript(TEXT, "text/plain"), [""], DEFAULT_PATTERNS) == []
    # Not JSON after all: its lines are kept as raw lines, which have no sender and so are never flagged.
    assert [(m.kind, m.sender) for m in parse_transcript("{not json", "application/json")] == [("line", "")]
    assert check(parse_transcript("{not json: send me a pic", "application/json"), [""], DEFAULT_PATTERNS) == []
