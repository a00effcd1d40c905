"""The WAF web ACL in front of the API stage, from mangaassist.client_limits (the local front reads the same)."""

from __future__ import annotations

import json
from typing import Any

from mangaassist.client_limits import MAX_BODY_BYTES, RATE_RULES, RateRule
from scripts.cfn_yaml import Intrinsic, get_att, sub

WEB_ACL = "ApiWebAcl"
TOO_LARGE_BODY = "too_large"
THROTTLED_BODY = "throttled"
# The gateway's own answers for the same cases (template.yaml's GatewayResponses): one error shape for a client.
RESPONSE_BODIES = {
    TOO_LARGE_BODY: {"error": {"code": "too_large", "message": "The request is too large."}},
    THROTTLED_BODY: {
        "error": {"code": "throttled", "message": "Too many requests right now. Please try again in a moment."}
    },
}

# Managed groups, evaluated after our own rules. The common rule set's SizeRestrictions_BODY blocks bodies over
# 8 KB; the body-size rule above it decides at MAX_BODY_BYTES instead, so that one rule is only counted.
MANAGED_GROUPS = (
    ("AWSManagedRulesAmazonIpReputationList", ()),
    ("AWSManagedRulesKnownBadInputsRuleSet", ()),
    ("AWSManagedRulesCommonRuleSet", ("SizeRestrictions_BODY",)),
)


def _visibility(name: str) -> dict[str, Any]:
    return {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": name}


def _block(status: int, body_key: str, headers: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    response: dict[str, Any] = {"ResponseCode": status, "CustomResponseBodyKey": body_key}
    if headers:
        response["ResponseHeaders"] = [{"Name": k, "Value": v} for k, v in headers]
    return {"Block": {"CustomResponse": response}}


def _rate_rule(rule: RateRule, priority: int) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Limit": rule.limit,
        "EvaluationWindowSec": rule.window_s,
        # API Gateway is the first hop: the source address is the client's, X-Forwarded-For is whatever it says.
        "AggregateKeyType": "IP",
    }
    if rule.path is not None:
        statement["ScopeDownStatement"] = {
            "ByteMatchStatement": {
                "FieldToMatch": {"UriPath": {}},
                "PositionalConstraint": "ENDS_WITH",
                "SearchString": rule.path,
                "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
            }
        }
    return {
        "Name": rule.name,
        "Priority": priority,
        "Statement": {"RateBasedStatement": statement},
        "Action": _block(429, THROTTLED_BODY, (("Retry-After", str(rule.window_s)),)),
        "VisibilityConfig": _visibility(rule.name),
    }


def _body_size_rule(priority: int) -> dict[str, Any]:
    name = f"BodyOver{MAX_BODY_BYTES // 1024}KB"
    return {
        "Name": name,
        "Priority": priority,
        "Statement": {
            "SizeConstraintStatement": {
                # Past the inspection limit the WAF cannot see the body's size; MATCH treats that as too large.
                "FieldToMatch": {"Body": {"OversizeHandling": "MATCH"}},
                "ComparisonOperator": "GT",
                "Size": MAX_BODY_BYTES,
                "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
            }
        },
        "Action": _block(413, TOO_LARGE_BODY),
        "VisibilityConfig": _visibility(name),
    }


def _managed_rule(name: str, counted_only: tuple[str, ...], priority: int) -> dict[str, Any]:
    group: dict[str, Any] = {"VendorName": "AWS", "Name": name}
    if counted_only:
        group["RuleActionOverrides"] = [{"Name": rule, "ActionToUse": {"Count": {}}} for rule in counted_only]
    return {
        "Name": name,
        "Priority": priority,
        "Statement": {"ManagedRuleGroupStatement": group},
        "OverrideAction": {"None": {}},
        "VisibilityConfig": _visibility(name),
    }


def web_acl_rules() -> list[dict[str, Any]]:
    own = [_body_size_rule(0), *(_rate_rule(rule, i) for i, rule in enumerate(RATE_RULES, start=1))]
    managed = [_managed_rule(name, counted, len(own) + i) for i, (name, counted) in enumerate(MANAGED_GROUPS)]
    return [*own, *managed]


def web_acl_resources() -> dict[str, Any]:
    return {
        WEB_ACL: {
            "Type": "AWS::WAFv2::WebACL",
            "Properties": {
                "Name": sub("${AWS::StackName}-api"),
                "Description": "MangaAssist API edge: body size, per-client rates, AWS managed rule groups",
                "Scope": "REGIONAL",
                "DefaultAction": {"Allow": {}},
                # API Gateway's default body inspection limit; the body-size rule decides at the same size.
                "AssociationConfig": {"RequestBody": {"API_GATEWAY": {"DefaultSizeInspectionLimit": "KB_16"}}},
                "CustomResponseBodies": {
                    key: {"ContentType": "APPLICATION_JSON", "Content": json.dumps(body)}
                    for key, body in RESPONSE_BODIES.items()
                },
                "Rules": web_acl_rules(),
                "VisibilityConfig": _visibility("MangaAssistApi"),
            },
        },
        # Blocked requests only, without the token: who was turned away and by which rule, for the on-call.
        f"{WEB_ACL}Logging": {
            "Type": "AWS::WAFv2::LoggingConfiguration",
            "Properties": {
                "ResourceArn": get_att(WEB_ACL, "Arn"),
                "LogDestinationConfigs": [get_att(f"{WEB_ACL}LogGroup", "Arn")],
                "RedactedFields": [{"SingleHeader": {"Name": "authorization"}}],
                "LoggingFilter": {
                    "DefaultBehavior": "DROP",
                    "Filters": [
                        {
                            "Behavior": "KEEP",
                            "Requirement": "MEETS_ANY",
                            "Conditions": [{"ActionCondition": {"Action": "BLOCK"}}],
                        }
                    ],
                },
            },
        },
        # WAF writes only to log groups named aws-waf-logs-*.
        f"{WEB_ACL}LogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": sub("aws-waf-logs-${AWS::StackName}-api"),
                "RetentionInDays": Intrinsic("!Ref", "LogRetentionDays"),
                "KmsKeyId": get_att("OpsKey", "Arn"),
            },
        },
        f"{WEB_ACL}Association": {
            "Type": "AWS::WAFv2::WebACLAssociation",
            "Properties": {
                "ResourceArn": Intrinsic(
                    "!Sub",
                    [
                        "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${ChatApi}/stages/${Stage}",
                        {"Stage": Intrinsic("!Ref", "ChatApi.Stage")},
                    ],
                ),
                "WebACLArn": get_att(WEB_ACL, "Arn"),
            },
        },
    }
