"""The operator banner against moto in server mode: its item beside the pinger's, TTL, expiry, and scripts/banner.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mangaassist.health import Banner, BannerInputError, HealthStore, operator_banner
from mangaassist.health.banners import LLM_DOWN_SUFFIX
from scripts import banner as banner_cli
from tests.conftest import dynamodb_client

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_800_000_000.0
EN = "Order tracking is unavailable right now. Your order history page still lists every order."
JA = "現在、注文状況の確認ができません。注文履歴ページではすべてのご注文をご確認いただけます。"


class Clock:
    def __init__(self, now: float = NOW):
        self.now = now

    def __call__(self) -> float:
        return self.now


def posted(expires_at: float = NOW + 3600, now: float = NOW):
    return operator_banner(
        message_en=EN, message_ja=JA, reason="INC-1 order_service", expires_at=expires_at, now=now, posted_by="kaito"
    )


def flags_items(endpoint: str, table: str) -> dict[str, dict]:
    page = dynamodb_client(endpoint).query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "flags"}},
        ConsistentRead=True,
    )
    return {item["sk"]["S"]: item for item in page["Items"]}


def test_it_is_its_own_item_in_the_flags_partition_with_its_expiry_as_ttl(moto_server, state_table):
    store = HealthStore(state_table, dynamodb_client(moto_server.url), clock=Clock())
    assert store.put_operator_banner(posted()) is None
    item = flags_items(moto_server.url, state_table)["operator_banner"]
    assert item["expires_at"] == {"N": repr(NOW + 3600)}
    assert (item["message_en"]["S"], item["message_ja"]["S"]) == (EN, JA)
    assert (item["reason"]["S"], item["posted_by"]["S"]) == ("INC-1 order_service", "kaito")
    assert store.get_operator_banner() == posted()


def test_the_pinger_setting_and_clearing_its_banner_leaves_the_operators_alone(moto_server, state_table):
    clock = Clock()
    store = HealthStore(state_table, dynamodb_client(moto_server.url), clock=clock)
    store.put_operator_banner(posted())
    store.set_banner(Banner(True, "LLM down", "AI停止中", since=NOW - 400, reason="llm_unavailable"))
    both = store.load_banners()
    assert both.message("en", NOW) == f"{EN} {LLM_DOWN_SUFFIX['en']}"
    assert both.message("ja", NOW) == f"{JA}{LLM_DOWN_SUFFIX['ja']}"
    clock.now += 60
    assert store.clear_banner() is True
    after = store.load_banners()
    assert after.automatic.active is False
    assert after.operator == posted()
    assert after.message("ja", clock()) == JA


def test_readers_ignore_it_from_its_expiry_on_although_the_item_is_still_there(moto_server, state_table):
    clock = Clock()
    store = HealthStore(state_table, dynamodb_client(moto_server.url), clock=clock)
    store.put_operator_banner(posted(expires_at=NOW + 60))
    clock.now = NOW + 60
    assert "operator_banner" in flags_items(moto_server.url, state_table), "DynamoDB deletes expired items lazily"
    assert store.load_banners().operator is None
    assert store.get_operator_banner() is None
    assert store.clear_operator_banner() is None


def test_a_replaced_banner_is_returned_and_a_cleared_one_is_gone(moto_server, state_table):
    store = HealthStore(state_table, dynamodb_client(moto_server.url), clock=Clock())
    store.put_operator_banner(posted())
    newer = posted(expires_at=NOW + 7200)
    assert store.put_operator_banner(newer) == posted()
    assert store.clear_operator_banner() == newer
    assert "operator_banner" not in flags_items(moto_server.url, state_table)


def test_the_store_writes_nothing_for_a_banner_that_breaks_a_rule(moto_server, state_table):
    clock = Clock()
    store = HealthStore(state_table, dynamodb_client(moto_server.url), clock=clock)
    stale = posted(expires_at=NOW + 60)
    clock.now = NOW + 61
    with pytest.raises(BannerInputError, match="in the past"):
        store.put_operator_banner(stale)
    assert flags_items(moto_server.url, state_table) == {}


# ---------------------------------------------------------------- scripts/banner.py, as on-call runs it


def cli(moto_server, table: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **moto_server.env(), "STATE_TABLE": table}
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "banner.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_post_show_and_clear_from_the_command_line(moto_server, state_table):
    done = cli(
        moto_server,
        state_table,
        "post",
        "--en",
        EN,
        "--ja",
        JA,
        "--reason",
        "INC-9",
        "--expires-in",
        "2h",
        "--by",
        "ai",
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["posted"]["reason"] == "INC-9"
    assert out["customers_see"] == {"en": EN, "ja": JA, "sources": ["operator"]}

    shown = json.loads(cli(moto_server, state_table, "show").stdout)
    assert shown["operator_banner"]["message_ja"] == JA
    assert shown["operator_banner"]["posted_by"] == "ai"

    cleared = cli(moto_server, state_table, "clear")
    assert cleared.returncode == 0, cleared.stderr
    assert json.loads(cleared.stdout)["cleared"]["message_en"] == EN
    assert json.loads(cleared.stdout)["customers_see"] == {"en": None, "ja": None, "sources": []}
    assert flags_items(moto_server.url, state_table) == {}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--en", EN, "--ja", "", "--expires-in", "1h"], "message_ja: the Japanese text is missing or empty"),
        (["--en", "x" * 301, "--ja", JA, "--expires-in", "1h"], "message_en: 301 characters, at most 300"),
        (["--en", EN, "--ja", JA, "--expires-in", "8d"], "expires_at: more than 7 days ahead"),
        (["--en", EN, "--ja", JA, "--until", "2020-01-01T00:00:00Z"], "expires_at: already in the past"),
        (["--en", EN, "--ja", JA, "--until", "2030-01-01T00:00:00"], "has no UTC offset"),
        (["--en", EN, "--ja", JA, "--expires-in", "soon"], "is not a duration"),
    ],
)
def test_bad_input_exits_2_names_the_problem_and_writes_nothing(moto_server, state_table, args, says):
    done = cli(moto_server, state_table, "post", "--reason", "INC-9", *args)
    assert done.returncode == 2
    assert "nothing was written" in done.stderr
    assert says in done.stderr
    assert done.stdout == ""
    assert flags_items(moto_server.url, state_table) == {}


def test_a_missing_language_is_refused_before_anything_runs(moto_server, state_table):
    done = cli(moto_server, state_table, "post", "--en", EN, "--reason", "INC-9", "--expires-in", "1h")
    assert done.returncode == 2
    assert "--ja" in done.stderr
    assert flags_items(moto_server.url, state_table) == {}


def test_expires_in_counts_from_the_clock_and_an_unreachable_table_exits_1(moto_server, state_table, capsys):
    client = dynamodb_client(moto_server.url)
    args = ["--table", state_table, "post", "--en", EN, "--ja", JA, "--reason", "INC-9", "--expires-in", "90m"]
    assert banner_cli.main(args, clock=Clock(), client=client) == 0
    assert json.loads(capsys.readouterr().out)["posted"]["expires_at"] == "2027-01-15T09:30:00Z"
    args[1] = "no-such-table"
    assert banner_cli.main(args, clock=Clock(), client=client) == 1
    assert "could not be read or written" in capsys.readouterr().err
