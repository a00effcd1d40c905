"""The Bedrock simulator speaks Converse as boto3's bedrock-runtime client expects it, and invents nothing."""

from __future__ import annotations

import re

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local.simulators import SimulatorFleet
from local.simulators.bedrock_converse import compose_answer

pytestmark = pytest.mark.integration

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
ORDER_CONTEXT = (
    "<context>\n"
    "Order 250-1184302-7731904: shipped on 2025-03-18, arriving 2025-03-21.\n"
    "注文 250-1184302-7731904：2025-03-18に発送済み、2025-03-21にお届け予定です。\n"
    "</context>"
)


@pytest.fixture(scope="module")
def fleet():
    with SimulatorFleet(["llm"]) as running:
        yield running


@pytest.fixture(autouse=True)
def healthy(fleet):
    fleet.clear_faults()
    fleet.reset_stats()


@pytest.fixture
def bedrock(fleet, monkeypatch):
    """A real boto3 client that finds the simulator the way production code does: through the env."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", fleet.urls()["llm"])
    return boto3.session.Session().client(
        "bedrock-runtime",
        region_name="ap-northeast-1",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=5),
    )


def user(text: str) -> dict:
    return {"role": "user", "content": [{"text": text}]}


def test_converse_answers_in_the_shape_botocore_parses(bedrock, fleet):
    response = bedrock.converse(
        modelId=MODEL,
        system=[{"text": "You are MangaAssist.\n" + ORDER_CONTEXT}],
        messages=[user("Where is my order?")],
        inferenceConfig={"maxTokens": 300},
    )
    text = response["output"]["message"]["content"][0]["text"]
    assert response["output"]["message"]["role"] == "assistant"
    assert response["stopReason"] == "end_turn"
    assert "250-1184302-7731904" in text
    assert "shipped" in text
    assert "発送" not in text  # the English line was chosen for an English question
    usage = response["usage"]
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"] > 0
    assert response["metrics"]["latencyMs"] >= 1
    assert response["ResponseMetadata"]["RequestId"]
    (seen,) = fleet.requests("llm")
    assert seen["path"] == "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"


def test_answers_in_the_language_of_the_last_user_message(bedrock):
    response = bedrock.converse(
        modelId=MODEL,
        system=[{"text": ORDER_CONTEXT}],
        messages=[user("Hello"), {"role": "assistant", "content": [{"text": "Hi!"}]}, user("注文はどこですか？")],
    )
    text = response["output"]["message"]["content"][0]["text"]
    assert "発送済み" in text
    assert "shipped" not in text


def test_a_one_token_ping(bedrock):
    response = bedrock.converse(modelId=MODEL, messages=[user("ping")], inferenceConfig={"maxTokens": 1})
    assert response["output"]["message"]["content"] == [{"text": "OK"}]
    assert response["stopReason"] == "max_tokens"
    assert response["usage"]["outputTokens"] == 1


def test_model_arns_with_slashes_reach_the_simulator(bedrock):
    arn = "arn:aws:bedrock:ap-northeast-1:123456789012:inference-profile/apac.anthropic.claude-3-haiku-20240307-v1:0"
    assert bedrock.converse(modelId=arn, messages=[user("hi")])["stopReason"] == "end_turn"


@pytest.mark.parametrize(
    ("mode", "code", "status"),
    [("throttle", "ThrottlingException", 429), ("error", "ServiceUnavailableException", 503)],
)
def test_faults_arrive_as_the_client_errors_boto3_raises_for_bedrock(bedrock, fleet, mode, code, status):
    fleet.set_fault("llm", mode)
    with pytest.raises(ClientError) as err:
        bedrock.converse(modelId=MODEL, messages=[user("hi")])
    assert err.value.response["Error"]["Code"] == code
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert fleet.stats()["llm"] == {"calls": 1, "failures": 1}


def test_invalid_conversations_are_validation_errors(bedrock):
    with pytest.raises(ClientError) as err:
        bedrock.converse(modelId=MODEL, messages=[{"role": "assistant", "content": [{"text": "hi"}]}])
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


QUESTIONS = [
    "Where is my order?",
    "注文した本はいつ届きますか？",
    "Tell me the status of order 250-0000000-0000000",
    "返品したいです",
    "What's new in One Piece?",
]
CONTEXTS = [
    "",
    ORDER_CONTEXT,
    "<context>\n- Shipping is free over ¥2,000.\n- 2,000円以上で送料無料です。\n</context>",
    "<context>\nFrieren Vol. 13 costs 528 JPY.\n</context>",
    '<context>\n[{"title": "One Piece, Vol. 108", "title_ja": "ワンピース 108", "price_jpy": 528}]\n</context>',
    "<context>\n[1] Q: How long is delivery?\nA: 1 to 3 days.\n[2] Q: 送料は？\nA: 2,000円以上で無料です。\n</context>",
]


@pytest.mark.parametrize("question", QUESTIONS)
@pytest.mark.parametrize("context", CONTEXTS)
def test_the_answer_never_contains_a_number_the_prompt_did_not(question, context):
    answer, _ = compose_answer([context] if context else [], [user(question)], max_tokens=400)
    assert answer
    number = r"\d+(?:[,.-]\d+)*"
    assert set(re.findall(number, answer)) <= set(re.findall(number, context + question))
    assert compose_answer([context], [user(question)], 400) == compose_answer([context], [user(question)], 400)


def test_faq_context_is_answered_with_answers_not_questions():
    faq = (
        "<context>\n[1] Q: Can I cancel a pre-order?\nA: Yes, until it ships.\n"
        "[2] Q: 予約はキャンセルできますか？\nA: 発送前まで可能です。\n</context>"
    )
    english, _ = compose_answer([faq], [user("cancel my preorder?")], 400)
    japanese, _ = compose_answer([faq], [user("予約をキャンセルしたい")], 400)
    assert "Yes, until it ships." in english
    assert "Q:" not in english
    assert "発送前まで可能です。" in japanese
    assert "Yes" not in japanese


def test_json_context_is_quoted_field_by_field():
    products = '<context>\n[{"title": "Dandadan, Vol. 18", "price_jpy": 528, "in_stock": true}]\n</context>'
    text, _ = compose_answer([products], [user("How much is Dandadan 18?")], 400)
    assert "title: Dandadan, Vol. 18, price_jpy: 528, in_stock: True" in text
