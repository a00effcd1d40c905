"""docs/chat.md shows the policy table exactly as mangaassist.chat.policy defines it."""

from __future__ import annotations

from pathlib import Path

from mangaassist.chat.policy import POLICY, SIGNED_IN, Row

DOC = Path(__file__).resolve().parents[2] / "docs" / "chat.md"


def markdown_row(row: Row) -> str:
    needs = ", ".join(sorted(row.needs, key=lambda need: (need != SIGNED_IN, need))) or "–"
    blame = " > ".join(row.blame) or "–"
    return f"| {row.intent.value} | {needs} | {row.flow.value} | {blame} | {'yes' if row.nudge else ''} |"


def test_the_documented_table_is_the_policy_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("<!-- policy-table")
    end = text.index("<!-- /policy-table -->")
    documented = [line for line in text[start:end].splitlines() if line.startswith("| ") and "---" not in line]
    assert documented[1:] == [markdown_row(row) for row in POLICY]
