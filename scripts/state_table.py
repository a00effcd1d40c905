"""What the operator CLIs share: which state table, in which region, through which client.

The table is ``<stack>-state`` unless named; the region comes from --region, then REGION / AWS_REGION /
AWS_DEFAULT_REGION; the endpoint from AWS_ENDPOINT_URL like every other client (moto locally).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

DEFAULT_REGION = "ap-northeast-1"


def add_table_arguments(cli: argparse.ArgumentParser) -> None:
    cli.add_argument(
        "--stack", default=os.getenv("STACK", "mangaassist"), help="stack name; the table is <stack>-state"
    )
    cli.add_argument("--table", default=os.getenv("STATE_TABLE"), help="the state table, if not <stack>-state")
    cli.add_argument(
        "--region", default=os.getenv("REGION") or os.getenv("AWS_REGION") or os.getenv("AWS_DEFAULT_REGION")
    )


def table_and_region(args: argparse.Namespace) -> tuple[str, str]:
    return args.table or f"{args.stack}-state", args.region or DEFAULT_REGION


def aws_client(service: str, region: str) -> Any:
    import boto3
    from botocore.config import Config

    # An operator at 3 a.m. wants an answer or an error within seconds, not boto3's default minute of retries.
    config = Config(connect_timeout=5, read_timeout=10, retries={"total_max_attempts": 3, "mode": "standard"})
    return boto3.session.Session().client(service, region_name=region, config=config)
