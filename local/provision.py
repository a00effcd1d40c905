"""Creates the stack's AWS resources in moto from their definitions in template.yaml, and the names that bind them.

``LocalRefs`` plays CloudFormation's part: what ``!Ref``, ``!GetAtt`` and ``${...}`` resolve to locally
(pseudo parameters, parameter defaults, the physical names of what ``provision`` created). Function
environments are the template's own variables resolved against it, with the endpoints pointed at the
local stack.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from local.moto_process import FAKE_CREDENTIALS
from local.template_resources import (
    alarm_definitions,
    dynamodb_create_table_args,
    dynamodb_ttl_attribute,
    function_environment,
    resolve,
    resource,
    resources_of_type,
    template,
)
from mangaassist.faq.vectors import vectors_key

ROOT = Path(__file__).resolve().parent.parent
FAQ_DOCUMENT = ROOT / "layers" / "mangaassist" / "mangaassist" / "faq" / "faq_templates.json"
FAQ_VECTORS = FAQ_DOCUMENT.with_name("faq_templates.vectors.npz")
ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "ap-northeast-1"


class LocalRefs(dict):
    """Logical ids, parameters and pseudo parameters -> local values; unknown names resolve to themselves."""

    def __missing__(self, key: str) -> str:
        return key


def local_refs(stack_name: str) -> LocalRefs:
    """Every name the template's intrinsics may ask for, known before anything exists (workers start early)."""
    refs = LocalRefs(
        {
            "AWS::StackName": stack_name,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }
    )
    for name, parameter in template().get("Parameters", {}).items():
        refs[name] = parameter.get("Default", "")
    for logical_id in _table_ids():
        refs[logical_id] = resolve(
            resource(logical_id)["Properties"].get("TableName", f"{stack_name}-{logical_id}"), refs
        )
    bucket = f"{stack_name}-faqbucket"
    refs["FaqBucket"], refs["FaqBucket.Arn"] = bucket, f"arn:aws:s3:::{bucket}"
    for logical_id in resources_of_type("AWS::SecretsManager::Secret"):
        # CloudFormation's Ref is the secret's ARN; GetSecretValue takes the name just as well.
        refs[logical_id] = f"{stack_name}/{logical_id}"
    for logical_id in resources_of_type("AWS::SQS::Queue"):
        refs[f"{logical_id}.Arn"] = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{stack_name}-{logical_id}"
        refs[f"{logical_id}.QueueName"] = f"{stack_name}-{logical_id}"
    for logical_id in resources_of_type("AWS::SNS::Topic"):
        refs[logical_id] = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{stack_name}-{logical_id}"
    for alarm_name, (logical_id, _) in alarm_definitions().items():
        refs[logical_id] = alarm_name
        refs[f"{logical_id}.Arn"] = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{alarm_name}"
    return refs


def _table_ids() -> list[str]:
    return [*resources_of_type("AWS::DynamoDB::GlobalTable"), *resources_of_type("AWS::DynamoDB::Table")]


def aws_client(service: str, endpoint: str):
    """A client for moto itself, with moto's placeholder credentials (never the developer's own)."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        config=Config(retries={"max_attempts": 2}),
    )


def provision(moto_url: str, refs: LocalRefs, secret_values: dict[str, str], sns_endpoint: str) -> None:
    """Create, under the names in ``refs``: the tables, the FAQ bucket with its document, the channel secrets
    (``secret_values`` by logical id), the queues, the topics and the functions' subscriptions to them."""
    ddb = aws_client("dynamodb", moto_url)
    for logical_id in _table_ids():
        ddb.create_table(**dynamodb_create_table_args(logical_id, refs[logical_id]))
        ttl = dynamodb_ttl_attribute(logical_id)
        if ttl:
            ddb.update_time_to_live(
                TableName=refs[logical_id], TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl}
            )

    s3 = aws_client("s3", moto_url)
    bucket = refs["FaqBucket"]
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    versioning = resource("FaqBucket")["Properties"].get("VersioningConfiguration")
    if versioning:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": versioning["Status"]})
    s3.put_object(Bucket=bucket, Key=refs["FaqKey"], Body=FAQ_DOCUMENT.read_bytes(), ContentType="application/json")
    # The document's vectors beside it, as `make seed-faq` writes them: no worker embeds the FAQ at start.
    s3.put_object(Bucket=bucket, Key=vectors_key(refs["FaqKey"]), Body=FAQ_VECTORS.read_bytes())

    sm = aws_client("secretsmanager", moto_url)
    for logical_id, res in resources_of_type("AWS::SecretsManager::Secret").items():
        args: dict[str, Any] = {"Name": refs[logical_id], "Description": res["Properties"].get("Description", "")}
        if logical_id in secret_values:
            args["SecretString"] = secret_values[logical_id]
        elif "GenerateSecretString" in res["Properties"]:
            # CloudFormation generates these at deploy time; so does the local stack, once per run.
            args["SecretString"] = secrets.token_urlsafe(48)
        sm.create_secret(**args)

    sqs = aws_client("sqs", moto_url)
    for logical_id in resources_of_type("AWS::SQS::Queue"):
        refs[logical_id] = sqs.create_queue(QueueName=refs[f"{logical_id}.QueueName"])["QueueUrl"]

    sns = aws_client("sns", moto_url)
    for logical_id, res in resources_of_type("AWS::SNS::Topic").items():
        attributes = {"DisplayName": str(res["Properties"].get("DisplayName", logical_id))}
        arn = sns.create_topic(Name=refs[logical_id].rsplit(":", 1)[1], Attributes=attributes)["TopicArn"]
        assert arn == refs[logical_id], (arn, refs[logical_id])
    for function_id, topic_id in sns_subscriptions():
        sns.subscribe(TopicArn=refs[topic_id], Protocol="http", Endpoint=f"{sns_endpoint}/{function_id}")


def sns_subscriptions() -> list[tuple[str, str]]:
    """(function logical id, topic logical id) for every function the template subscribes to a topic."""
    found = []
    for function_id, res in resources_of_type("AWS::Serverless::Function").items():
        for event in (res["Properties"].get("Events") or {}).values():
            topic = (event.get("Properties") or {}).get("Topic")
            if event.get("Type") == "SNS" and isinstance(topic, dict) and "Ref" in topic:
                found.append((function_id, topic["Ref"]))
    return found


def function_env(logical_id: str, refs: LocalRefs, overrides: dict[str, str]) -> dict[str, str]:
    """The function's environment as the template declares it, resolved locally, then ``overrides``."""
    resolved = resolve(function_environment(logical_id), refs)
    env = {k: "" if v is None else str(v) for k, v in resolved.items()}
    env.update(overrides)
    return env
