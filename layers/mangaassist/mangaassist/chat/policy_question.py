"""Is a returns or order question about the store's policy, or about the customer's own order?

"What is your return policy?" and "How long do I have to return something?" are answered by the FAQ's
returns entries; "I want to return the book I got yesterday" is about the customer's own return. The
intent is the same, the answer is not: a policy question goes to the FAQ when a returns or order
entry answers it confidently and the message carries no sign of a particular order of the customer's.
"""

from __future__ import annotations

import re
from typing import Any

from mangaassist.chat.intent_classifier import ORDER_NUMBER
from mangaassist.chat.intents import Intent, normalise

# Signs that the message is about something the customer bought ("my order", "I received") or asks the store
# to act on it ("I want to return...", "返品したい"): then it is the customer's own case, not policy.
OWN_ORDER = re.compile(
    r"\bmy (order|orders|package|parcel|delivery|book|books|manga|volume|item|items|return|refund|copy)\b|"
    r"\bi (ordered|bought|received|got|purchased|returned|sent)\b|\b(arrived|came|was|were) (damaged|broken|torn)\b|"
    r"\bi(\'d| would| want| need| wanna)( like)?( to)? (return|exchange|send|get|have) |\bplease (return|refund)|"
    r"私の|僕の|俺の|頼んだ|注文した|買った|購入した|届いた|届かない|届いてない|届いていない|送った|返送した|"
    r"したい|してほしい|して欲しい|お願い|してください"
)


def is_policy_question(message: str, intent: Intent, lang: str, faq_index: Any | None) -> bool:
    if faq_index is None or not hasattr(faq_index, "retrieve"):
        return False
    text = normalise(message)
    if ORDER_NUMBER.search(text) or OWN_ORDER.search(text):
        return False
    retrieval = faq_index.retrieve(message, lang)
    best = retrieval.best
    return best is not None and best.entry.intent == intent.value
