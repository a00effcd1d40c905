"""Posts one JSON body to Slack or PagerDuty with a timeout, and sorts the answer into delivered, rejected or retry.

429 and 5xx (and timeouts, refused connections) raise DeliveryError so Lambda's asynchronous retries and the
on-failure destination take over; any other 4xx means the body or the secret is wrong, and retrying the same
body cannot fix that, so it is reported and not retried. Error texts never carry the URL: a Slack webhook
URL is itself the secret, and requests' exceptions print it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import requests

# urllib3 logs "POST /services/T.../B.../<secret> 200" at DEBUG; whatever the root logger is set to, not here.
logging.getLogger("urllib3").setLevel(logging.WARNING)

DELIVERED = "delivered"
REJECTED = "rejected"
RESPONSE_EXCERPT = 300


class DeliveryError(Exception):
    """A delivery that a later retry may still complete (timeout, connection failure, 429, 5xx)."""

    def __init__(self, channel: str, detail: str, status: int | None = None):
        super().__init__(f"{channel} delivery failed, retry later: {detail}")
        self.channel = channel
        self.status = status


@dataclass(frozen=True)
class PostResult:
    outcome: str  # DELIVERED or REJECTED
    status: int
    detail: str = ""


def scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def post_json(
    session: requests.Session,
    channel: str,
    url: str,
    body: dict[str, Any],
    timeout: tuple[float, float],
    secrets: Iterable[str] = (),
) -> PostResult:
    secrets = tuple(secrets)
    try:
        response = session.post(url, json=body, timeout=timeout, allow_redirects=False)
    except requests.Timeout:
        raise DeliveryError(channel, f"no answer within {timeout[1]:g} s") from None
    except requests.RequestException as err:
        # `from None` and only the class name: the exception's own text contains the URL.
        raise DeliveryError(channel, f"{type(err).__name__} while connecting") from None
    detail = scrub(response.text[:RESPONSE_EXCERPT], secrets).strip()
    status = response.status_code
    if 200 <= status < 300:
        return PostResult(DELIVERED, status, detail)
    if status == 429 or status >= 500:
        retry_after = response.headers.get("Retry-After")
        hint = f" (Retry-After {retry_after})" if retry_after else ""
        raise DeliveryError(channel, f"HTTP {status}{hint}: {detail}", status)
    return PostResult(REJECTED, status, detail)
