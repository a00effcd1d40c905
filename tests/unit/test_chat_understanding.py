"""The chat through its real handler with the real understanding step (encoder, hybrid FAQ) and in-memory fakes
for every service: answer / suggest / decline with Bedrock down, sources, grounding, the offline outcome metric,
plain UTF-8 bodies and awkward input."""

from __future__ import annotations

import json

import pytest

from mangaassist.chat.api_models import ChatResponse
from tests.fakes import FakeLambdaContext
from tests.unit.chat_fakes import FakeRuntime
from tests.unit.test_chat_api import chat_event, load_handler


@pytest.fixture
def handler(monkeypatch):
    return load_handler()


def ask(handler, monkeypatch, message: str, down: frozenset[str] = frozenset()) -> tuple[int, dict, str, FakeRuntime]:
    runtime = FakeRuntime(down=down, understanding=True)
    monkeypatch.setattr(handler, "runtime", runtime)
    response = handler.lambda_handler(chat_event(json.dumps({"message": message})), FakeLambdaContext())
    body = json.loads(response["body"])
    if response["statusCode"] == 200:
        ChatResponse.model_validate(body)
    return response["statusCode"], body, response["body"], runtime


def test_bedrock_down_a_question_an_entry_answers_gets_the_entry_and_its_source(handler, monkeypatch) -> None:
    status, body, _, runtime = ask(handler, monkeypatch, "Do you ship to Germany?", frozenset({"llm"}))
    assert status == 200
    assert (body["intent"], body["degraded_reason"]) == ("faq", "llm_unavailable")
    entry = runtime.orchestrator.faq().document.entry("international-shipping")
    assert body["message"] == entry.answer.en
    assert [s["faq_id"] for s in body["sources"]] == ["international-shipping"]
    assert body["sources"][0]["title"] == entry.questions.en[0]
    assert runtime.llm.attempts == 0
    assert [o[0] for o in runtime.telemetry.faq_outcomes] == ["answer"]


def test_bedrock_down_a_close_call_asks_did_you_mean_with_suggestions(handler, monkeypatch) -> None:
    status, body, _, runtime = ask(handler, monkeypatch, "ポイント", frozenset({"llm"}))
    assert status == 200
    suggestions = [a for a in body["actions"] if a["type"] == "suggestion"]
    assert 1 <= len(suggestions) <= 3, body
    document = runtime.orchestrator.faq().document
    for action in suggestions:
        entry = document.entry(action["faq_id"])
        assert action["label"] == action["message"] == entry.questions.ja[0]
        assert set(action) == {"type", "label", "message", "faq_id"}
    kinds = [a["type"] for a in body["actions"]]
    help_center = runtime.orchestrator.links.page("help_center")
    assert "escalation" in kinds
    assert any(a.get("url") == help_center for a in body["actions"])
    assert [s["faq_id"] for s in body["sources"]] == [a["faq_id"] for a in suggestions]
    assert "どれか" in body["message"]


def test_bedrock_down_nothing_close_is_the_honest_decline(handler, monkeypatch) -> None:
    status, body, _, _runtime = ask(handler, monkeypatch, "What's the weather in Tokyo tomorrow?", frozenset({"llm"}))
    assert status == 200
    assert body["sources"] == []
    assert not any(a["type"] == "suggestion" for a in body["actions"])
    assert any(a["type"] == "escalation" for a in body["actions"])


def test_bedrock_up_the_answer_is_grounded_on_at_most_five_entries_which_are_its_sources(handler, monkeypatch) -> None:
    status, body, _, runtime = ask(handler, monkeypatch, "Can I pay with PayPay or at a convenience store?")
    assert status == 200
    assert body["intent"] == "faq"
    assert body["degraded"] is False
    assert 1 <= len(body["sources"]) <= 5
    prompt = runtime.llm.prompts[-1]
    document = runtime.orchestrator.faq().document
    for source in body["sources"]:
        assert document.entry(source["faq_id"]).answer.en in prompt  # every source was given to the model
    assert "ONLY these FAQ entries" in prompt
    assert "do not know" in prompt
    # ... and what the templates-only path would have done was measured on the same question
    assert len(runtime.telemetry.faq_outcomes) == 1
    outcome, entries, lang = runtime.telemetry.faq_outcomes[0]
    assert outcome in ("answer", "suggest", "decline")
    assert lang == "en"
    assert all(isinstance(i, str) and isinstance(s, float) for i, s in entries)


def test_the_offline_outcome_names_entries_and_scores_never_the_message(capsys, caplog) -> None:
    from mangaassist.chat.telemetry import ChatTelemetry

    ChatTelemetry().faq_offline_outcome("suggest", [("points-use", 0.41)], "en")
    out = capsys.readouterr().out
    emf = [json.loads(line) for line in out.splitlines() if "FaqOfflineOutcome" in line and "_aws" in line]
    assert emf
    assert emf[0]["outcome"] == "suggest"
    assert emf[0]["FaqOfflineOutcome"] == [1.0]
    record = next(r for r in caplog.records if r.getMessage() == "faq_offline_outcome")
    assert record.entries == [{"faq_id": "points-use", "score": 0.41}]
    assert record.outcome == "suggest"


def test_policy_questions_go_to_the_faq_and_own_returns_stay_returns(handler, monkeypatch) -> None:
    _, body, _, _ = ask(handler, monkeypatch, "What is your return policy?", frozenset({"llm"}))
    assert body["intent"] == "faq"
    assert body["sources"][0]["faq_id"] == "returns-policy"
    _, body, _, _ = ask(handler, monkeypatch, "I want to return a damaged book")
    assert body["intent"] == "returns"


def test_bodies_are_plain_utf8_japanese(handler, monkeypatch) -> None:
    _, body, raw, _ = ask(handler, monkeypatch, "送料はいくらですか", frozenset({"llm"}))
    assert body["language"] == "ja"
    assert "送料" in raw
    assert "\\u" not in raw


@pytest.mark.parametrize(
    "message",
    [
        "漫画 " * 666 + "ok",  # 2,000 characters
        "🎉🔥😂🙏",
        "https://www.example.com/some/page?with=query&and=more",
        "\u200b\u200b送\u200b料\u200b",
        "Chainsaw Manの最新刊はいつ出ますか？ and do you ship to Korea?",
        "?",
    ],
)
def test_awkward_messages_get_an_answer(handler, monkeypatch, message) -> None:
    for down in (frozenset(), frozenset({"llm"})):
        status, body, raw, _ = ask(handler, monkeypatch, message[:2000], down)
        assert status == 200, body
        assert "Traceback" not in raw
