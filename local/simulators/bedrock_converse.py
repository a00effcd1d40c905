"""A bedrock-runtime Converse endpoint that answers deterministically, and only from what the prompt gives it.

The answer quotes the grounding material the caller put between <context> and </context> (in the system
prompt or in a message), preferring lines in the language of the last user message, and adds nothing of
its own: no order ids, dates or statuses the prompt did not contain. Errors use the shape botocore parses
(JSON body with "message", the code in the x-amzn-ErrorType header).
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from typing import Any

from local.simulators.server import HttpError, Route, SimRequest, SimResponse, SimService, route

CONTEXT_RE = re.compile(r"<context>(.*?)</context>", re.DOTALL)
ANSWER_RE = re.compile(r"^(\[\d+\]\s*)?A:\s*")
JAPANESE_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")
MAX_QUOTED_LINES = 3
MAX_LINE_CHARS = 240
PING_ANSWER = "OK"

LEAD_IN = {
    "en": "Here is what I found in our store information:",
    "ja": "ストアの情報から、次のとおりご案内します。",
}
NO_CONTEXT = {
    "en": (
        "Thank you for your message. I can help with manga titles, your orders, returns and questions "
        "about the store. Could you tell me a little more about what you are looking for?"
    ),
    "ja": (
        "お問い合わせありがとうございます。マンガの作品、ご注文、返品、ストアのご利用についてお手伝いできます。"
        "もう少し詳しく教えていただけますか？"
    ),
}
_GENERIC_CODES = {
    "not_found": "UnknownOperationException",
    "method_not_allowed": "UnknownOperationException",
    "internal_error": "InternalServerException",
    "malformed_json": "SerializationException",
    "throttled": "ThrottlingException",
    "service_unavailable": "ServiceUnavailableException",
}
_FAULT_MESSAGES = {
    "ThrottlingException": "Too many requests, please wait before trying again.",
    "ServiceUnavailableException": "Bedrock is unable to process your request.",
}


def language_of(text: str) -> str:
    return "ja" if JAPANESE_RE.search(text) else "en"


def estimate_tokens(text: str) -> int:
    # Roughly what a tokenizer gives: ~4 characters per token in English, ~1.5 per character of Japanese.
    japanese = len(JAPANESE_RE.findall(text))
    return max(1, math.ceil((len(text) - japanese) / 4 + japanese / 1.5))


def _texts(blocks: Any) -> list[str]:
    if not isinstance(blocks, list):
        raise HttpError(400, "ValidationException", "content must be a list of content blocks")
    texts = []
    for block in blocks:
        if not isinstance(block, dict):
            raise HttpError(400, "ValidationException", "each content block must be an object")
        if isinstance(block.get("text"), str):
            texts.append(block["text"])
    return texts


def context_lines(block: str) -> list[str]:
    """The quotable facts of one <context> block: FAQ answers rather than their questions, JSON records as
    "field: value" lists, otherwise its non-empty lines."""
    try:
        data = json.loads(block)
    except ValueError:
        data = None
    if isinstance(data, dict):
        data = [data]
    if isinstance(data, list) and data and all(isinstance(item, dict) for item in data):
        return [", ".join(f"{k}: {v}" for k, v in item.items() if v not in (None, "", [])) for item in data]
    lines = [line.strip() for line in block.splitlines() if line.strip()]
    answers = [ANSWER_RE.sub("", line) for line in lines if ANSWER_RE.match(line)]
    return answers or [line.lstrip("-•* ").strip() for line in lines]


def compose_answer(system: list[str], messages: list[dict[str, Any]], max_tokens: int) -> tuple[str, str]:
    """The answer text and its stopReason, a pure function of the prompt."""
    if max_tokens <= 1:
        return PING_ANSWER, "max_tokens"
    user_turns = [m for m in messages if m.get("role") == "user"]
    question = "\n".join(_texts(user_turns[-1]["content"])) if user_turns else ""
    lang = language_of(question)
    everything = [*system, *(t for m in messages for t in _texts(m["content"]))]
    lines = [
        line[:MAX_LINE_CHARS] for block in CONTEXT_RE.findall("\n".join(everything)) for line in context_lines(block)
    ]
    matching = [line for line in lines if language_of(line) == lang] or lines
    if matching:
        answer = "\n".join([LEAD_IN[lang], *(f"- {line}" for line in matching[:MAX_QUOTED_LINES])])
    else:
        answer = NO_CONTEXT[lang]
    if estimate_tokens(answer) > max_tokens:
        return answer[: max(1, max_tokens * 3)], "max_tokens"
    return answer, "end_turn"


class BedrockConverseService(SimService):
    name = "llm"

    def routes(self) -> list[Route]:
        return [route("POST", "/model/{model_id}/converse", self.converse)]

    def error_response(self, status: int, code: str, message: str) -> SimResponse:
        aws_code = _GENERIC_CODES.get(code, code)
        return SimResponse(
            status,
            {"message": _FAULT_MESSAGES.get(aws_code, message)},
            {"x-amzn-ErrorType": f"{aws_code}:http://internal.amazon.com/coral/com.amazon.bedrock/"},
        )

    def converse(self, req: SimRequest) -> SimResponse:
        started = time.perf_counter()
        body = req.get_json(force=True)
        if not isinstance(body, dict):
            raise HttpError(400, "ValidationException", "request body must be an object")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise HttpError(400, "ValidationException", "messages must be a non-empty list")
        for message in messages:
            if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
                raise HttpError(400, "ValidationException", "each message needs role user or assistant")
            _texts(message.get("content"))
        if messages[0]["role"] != "user":
            raise HttpError(400, "ValidationException", "A conversation must start with a user message.")
        system = _texts(body.get("system", []))
        max_tokens = (body.get("inferenceConfig") or {}).get("maxTokens", 512)
        if not isinstance(max_tokens, int) or max_tokens < 1:
            raise HttpError(400, "ValidationException", "inferenceConfig.maxTokens must be a positive integer")
        answer, stop_reason = compose_answer(system, messages, max_tokens)
        input_tokens = sum(estimate_tokens(t) for t in system) + sum(
            estimate_tokens(t) for m in messages for t in _texts(m["content"])
        )
        output_tokens = min(max_tokens, estimate_tokens(answer))
        return SimResponse(
            200,
            {
                "output": {"message": {"role": "assistant", "content": [{"text": answer}]}},
                "stopReason": stop_reason,
                "usage": {
                    "inputTokens": input_tokens,
                    "outputTokens": output_tokens,
                    "totalTokens": input_tokens + output_tokens,
                },
                "metrics": {"latencyMs": max(1, round((time.perf_counter() - started) * 1000))},
            },
            {"x-amzn-RequestId": str(uuid.uuid4())},
        )
