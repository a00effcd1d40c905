"""Reads resource definitions out of template.yaml so the local stack and tests never restate them."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that keeps CloudFormation short-form intrinsics (!Ref, !GetAtt, !Sub ...) as dicts."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


@functools.cache
def template() -> dict[str, Any]:
    return yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


def resource(logical_id: str) -> dict[str, Any]:
    return template()["Resources"][logical_id]


def resources_of_type(cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template()["Resources"].items() if v.get("Type") == cfn_type}


def dynamodb_create_table_args(logical_id: str, table_name: str) -> dict[str, Any]:
    """CreateTable arguments for a table declared in template.yaml (keys, attributes, billing)."""
    props = resource(logical_id)["Properties"]
    return {
        "TableName": table_name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }


def dynamodb_ttl_attribute(logical_id: str) -> str | None:
    spec = resource(logical_id)["Properties"].get("TimeToLiveSpecification") or {}
    return spec.get("AttributeName") if spec.get("Enabled", True) else None


# ---------------------------------------------------------------- functions, alarms, API responses
# Read by the local stack (local/run.py) so that what it wires up is what the template declares.


def function_properties(logical_id: str) -> dict[str, Any]:
    """A function's Properties with Globals.Function merged in (the function's own values win)."""
    return {**template().get("Globals", {}).get("Function", {}), **resource(logical_id)["Properties"]}


def function_environment(logical_id: str) -> dict[str, Any]:
    """Globals' and the function's environment variables, intrinsics left unresolved (see ``resolve``)."""
    globals_ = template().get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    own = resource(logical_id)["Properties"].get("Environment", {}).get("Variables", {})
    return {**globals_, **own}


def alarm_definitions() -> dict[str, tuple[str, dict[str, Any]]]:
    """AlarmName -> (logical id, resource) for every metric and composite alarm the template declares."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for cfn_type in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"):
        for logical_id, res in resources_of_type(cfn_type).items():
            name = res.get("Properties", {}).get("AlarmName", logical_id)
            found[name] = (logical_id, res)
    return found


def gateway_response(api_logical_id: str, response_type: str) -> tuple[int | None, str | None, dict[str, str]]:
    """(status, JSON body, headers) API Gateway answers with for ``response_type`` (None where not declared)."""
    responses = resource(api_logical_id)["Properties"].get("GatewayResponses", {})
    spec = responses.get(response_type) or {}
    status = int(spec["StatusCode"]) if "StatusCode" in spec else None
    body = (spec.get("ResponseTemplates") or {}).get("application/json")
    headers = {k: str(v).strip("'") for k, v in ((spec.get("ResponseParameters") or {}).get("Headers") or {}).items()}
    return status, body, headers


def resolve(value: Any, refs: dict[str, Any]) -> Any:
    """Resolve Ref, Fn::Sub and Fn::GetAtt against ``refs`` (logical ids, parameters, "AWS::..." pseudo
    parameters and "Id.Attr" attributes); raises KeyError for a name ``refs`` does not know. A ``LocalRefs``
    answers every Ref and GetAtt (an unknown name with itself); only a Fn::Sub name can still raise."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return refs[arg]
        if key == "Fn::GetAtt":
            return refs[".".join(arg) if isinstance(arg, list) else arg]
        if key == "Fn::Sub":
            text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            names = {**refs, **{k: resolve(v, refs) for k, v in extra.items()}}
            return re.sub(r"\$\{([^}!]+)\}", lambda m: str(names[m.group(1)]), text)
    if isinstance(value, dict):
        return {k: resolve(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, refs) for v in value]
    return value
