"""boto3 clients configured for where they are used: tight and retry-free on the chat's hot path.

Endpoints are never set here: boto3 reads AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE> itself, which
is how the local stack and the tests point every client at moto and the simulators.
"""

from __future__ import annotations

import functools
import os

import boto3
from botocore.config import Config

# botocore's total_max_attempts counts the first try (max_attempts would count retries only): one try,
# no retry storm against a store that is already struggling.
# A state store that answers slower than this is treated as unreachable; the breaker then runs on its
# snapshot rather than letting DynamoDB add latency to every chat request.
HOT_PATH_CONFIG = Config(
    connect_timeout=0.25, read_timeout=0.5, retries={"total_max_attempts": 1, "mode": "standard"}, tcp_keepalive=True
)
BACKGROUND_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"total_max_attempts": 3, "mode": "standard"})


@functools.cache
def client(service_name: str, hot_path: bool = True):
    return boto3.session.Session().client(
        service_name,
        region_name=os.getenv("AWS_REGION") or os.getenv("AWS_DEFAULT_REGION") or "ap-northeast-1",
        config=HOT_PATH_CONFIG if hot_path else BACKGROUND_CONFIG,
    )
