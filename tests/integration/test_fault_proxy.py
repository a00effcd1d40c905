"""The store proxies in front of moto: what boto3 sees of each fault, in DynamoDB's and S3's own shapes."""

from __future__ import annotations

import threading
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from local.fault_proxy import FaultProxy
from tests.conftest import create_state_table, dynamodb_client

pytestmark = pytest.mark.integration


@pytest.fixture
def ddb_proxy(moto_server):
    proxy = FaultProxy("state_store", moto_server.url, "dynamodb").start()
    yield proxy
    proxy.stop()


def test_a_healthy_proxy_forwards_and_counts_nothing_as_failed(moto_server, ddb_proxy):
    table = create_state_table(moto_server.url)
    client = dynamodb_client(ddb_proxy.url)
    client.put_item(TableName=table, Item={"pk": {"S": "a"}, "sk": {"S": "b"}})
    assert client.get_item(TableName=table, Key={"pk": {"S": "a"}, "sk": {"S": "b"}})["Item"]["pk"] == {"S": "a"}
    assert ddb_proxy.faults.stats() == {"calls": 2, "failures": 0}


@pytest.mark.parametrize(("mode", "code"), [("throttle", "ThrottlingException"), ("error", "ServiceUnavailable")])
def test_error_modes_answer_in_dynamodbs_shape(ddb_proxy, mode, code):
    ddb_proxy.faults.configure(mode)
    with pytest.raises(ClientError) as raised:
        dynamodb_client(ddb_proxy.url).list_tables()
    assert raised.value.response["Error"]["Code"] == code
    assert ddb_proxy.faults.stats() == {"calls": 1, "failures": 1}


def test_down_resets_the_connection(ddb_proxy):
    ddb_proxy.faults.configure("down")
    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        dynamodb_client(ddb_proxy.url).list_tables()
    assert ddb_proxy.faults.stats() == {"calls": 1, "failures": 1}


def test_s3_throttle_is_slowdown(moto_server):
    proxy = FaultProxy("faq_store", moto_server.url, "s3").start()
    try:
        proxy.faults.configure("throttle")
        s3 = boto3.client(
            "s3", endpoint_url=proxy.url, region_name="ap-northeast-1", config=Config(retries={"total_max_attempts": 1})
        )
        with pytest.raises(ClientError) as raised:
            s3.get_object(Bucket="any", Key="faq.json")
        assert raised.value.response["Error"]["Code"] == "SlowDown"
    finally:
        proxy.stop()


def test_hang_holds_until_the_client_gives_up_and_stop_releases_a_patient_one(ddb_proxy):
    ddb_proxy.faults.configure("hang")
    with pytest.raises(ReadTimeoutError):
        dynamodb_client(ddb_proxy.url, read_timeout=0.3).list_tables()
    outcome: list[BaseException] = []

    def patient() -> None:
        try:
            dynamodb_client(ddb_proxy.url, read_timeout=30).list_tables()
        except Exception as err:  # what the patient client ends with is the assertion below
            outcome.append(err)

    waiter = threading.Thread(target=patient)
    waiter.start()
    deadline = time.monotonic() + 10
    while ddb_proxy.faults.stats()["calls"] < 2:
        assert time.monotonic() < deadline, "the patient call never arrived"
        time.sleep(0.01)
    stopping = time.perf_counter()
    ddb_proxy.stop()
    assert time.perf_counter() - stopping < 2
    waiter.join(timeout=5)
    assert isinstance(outcome[0], ConnectionClosedError | EndpointConnectionError)
    assert ddb_proxy.faults.stats() == {"calls": 2, "failures": 2}
