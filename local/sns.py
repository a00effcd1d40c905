"""SNS's delivery to a Lambda subscription, locally: moto posts each notification to the stack's HTTP
subscription (`/_local/sns/<FunctionLogicalId>`); it becomes the event Lambda's SNS trigger would pass."""

from __future__ import annotations

import json
import uuid
from typing import Any


def lambda_event(body: bytes) -> dict[str, Any] | None:
    """The SNS event of the notification moto posted; None for anything else (a confirmation, a bad body)."""
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("Type") != "Notification":
        return None
    fields = ("MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion", "Signature")
    record = {
        "Type": "Notification",
        **{name: message.get(name) for name in fields},
        "SigningCertUrl": message.get("SigningCertURL"),
        "UnsubscribeUrl": message.get("UnsubscribeURL"),
        "MessageAttributes": message.get("MessageAttributes") or {},
    }
    subscription = f"{message.get('TopicArn')}:{uuid.uuid4()}"
    return {
        "Records": [
            {"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": subscription, "Sns": record}
        ]
    }
