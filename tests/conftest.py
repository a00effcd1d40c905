"""Shared fixtures: moto in server mode (a real HTTP endpoint) started and stopped by the tests."""

from __future__ import annotations

import os
import uuid

import boto3
import pytest
from botocore.config import Config

from local.moto_process import FAKE_CREDENTIALS, MotoServer
from local.template_resources import dynamodb_create_table_args, dynamodb_ttl_attribute

# Nothing in the suite may reach real AWS: placeholder credentials, a fixed region.
for _key, _value in FAKE_CREDENTIALS.items():
    os.environ.setdefault(_key, _value)
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "MangaAssist/ServiceHealth")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")


@pytest.fixture(scope="session")
def moto_server():
    server = MotoServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws_env(moto_server, monkeypatch):
    """Point every boto3 client created during the test at the moto server."""
    for key, value in moto_server.env().items():
        monkeypatch.setenv(key, value)
    from mangaassist.aws_clients import client

    client.cache_clear()
    yield moto_server
    client.cache_clear()


def dynamodb_client(endpoint: str, **config):
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="ap-northeast-1",
        config=Config(retries={"total_max_attempts": 1}, **config),
    )


def create_state_table(endpoint: str, name: str | None = None) -> str:
    """Create a state table exactly as template.yaml declares it; returns its name."""
    name = name or f"state-{uuid.uuid4().hex[:10]}"
    ddb = dynamodb_client(endpoint)
    ddb.create_table(**dynamodb_create_table_args("StateTable", name))
    ttl = dynamodb_ttl_attribute("StateTable")
    if ttl:
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl})
    return name


@pytest.fixture
def state_table(aws_env, monkeypatch) -> str:
    name = create_state_table(aws_env.url)
    monkeypatch.setenv("STATE_TABLE", name)
    return name
