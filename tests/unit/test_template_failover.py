"""template.yaml's failover records: off by default; on, the design's health check and a failover record per region."""

from __future__ import annotations

import re

import pytest

from local.template_resources import template

FAILOVER_RESOURCES = ("ApiCertificate", "ApiDomain", "ApiDomainMapping", "ApiHealthCheck", "ApiFailoverRecord")
# Design Q36 section 5: "HealthCheckIntervalSeconds: 10", "UnhealthyThresholdCount: 3 # ... (30s)".
SEED_INTERVAL_S = 10
SEED_FAILURES = 3


def resources() -> dict:
    return template()["Resources"]


def props(name: str) -> dict:
    return resources()[name]["Properties"]


def test_off_by_default_every_part_waits_for_both_parameters() -> None:
    params = template()["Parameters"]
    assert params["ApiDomainName"]["Default"] == ""
    assert params["ApiHostedZoneId"]["Default"] == ""
    condition = template()["Conditions"]["HasApiDomain"]["Fn::And"]
    assert {"Fn::Not": [{"Fn::Equals": [{"Ref": "ApiDomainName"}, ""]}]} in condition
    assert {"Fn::Not": [{"Fn::Equals": [{"Ref": "ApiHostedZoneId"}, ""]}]} in condition
    for name in FAILOVER_RESOURCES:
        assert resources()[name]["Condition"] == "HasApiDomain", name
    for name in ("ApiCustomDomainUrl", "ApiHealthCheckId"):
        assert template()["Outputs"][name]["Condition"] == "HasApiDomain", name


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("", True),
        ("chat.example.jp", True),
        ("manga-chat.shop.example.co.jp", True),
        ("Chat.Example.jp", False),
        ("https://chat.example.jp", False),
        ("chat", False),
        ("-chat.example.jp", False),
        ("chat.example.jp.", False),
    ],
)
def test_the_domain_parameter_takes_a_dns_name_or_nothing(value: str, allowed: bool) -> None:
    pattern = template()["Parameters"]["ApiDomainName"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) is allowed


@pytest.mark.parametrize(("value", "allowed"), [("", True), ("Z0123456789ABCDEFGHIJ", True), ("zone-1", False)])
def test_the_zone_parameter_takes_a_hosted_zone_id_or_nothing(value: str, allowed: bool) -> None:
    pattern = template()["Parameters"]["ApiHostedZoneId"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) is allowed


def test_the_health_check_is_the_designs_on_this_regions_own_get_health() -> None:
    config = props("ApiHealthCheck")["HealthCheckConfig"]
    assert config["RequestInterval"] == SEED_INTERVAL_S
    assert config["FailureThreshold"] == SEED_FAILURES
    assert (config["Type"], config["Port"], config["EnableSNI"]) == ("HTTPS", 443, True)
    assert config["ResourcePath"] == {"Fn::Sub": "/${StageName}/health"}
    # The stage's own endpoint: checking the custom domain would follow the failover it is meant to drive.
    assert config["FullyQualifiedDomainName"] == {"Fn::Sub": "${ChatApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"}
    health_route = template()["Resources"]["ChatFunction"]["Properties"]["Events"]["Health"]["Properties"]
    assert (health_route["Path"], health_route["Method"], health_route["Auth"]["Authorizer"]) == (
        "/health",
        "get",
        "NONE",
    )


def test_one_failover_alias_per_region_primary_where_the_tables_are_created() -> None:
    record = props("ApiFailoverRecord")
    assert template()["Conditions"]["CreateTables"] == {"Fn::Equals": [{"Ref": "ReplicaOfRegion"}, ""]}
    assert record["Failover"] == {"Fn::If": ["CreateTables", "PRIMARY", "SECONDARY"]}
    assert record["Name"] == {"Ref": "ApiDomainName"}
    assert record["HostedZoneId"] == {"Ref": "ApiHostedZoneId"}
    assert record["Type"] == "A"
    assert record["HealthCheckId"] == {"Ref": "ApiHealthCheck"}
    assert record["SetIdentifier"] == {"Fn::Sub": "${AWS::StackName}-${AWS::Region}"}
    assert record["AliasTarget"]["DNSName"] == {"Fn::GetAtt": ["ApiDomain", "RegionalDomainName"]}
    assert record["AliasTarget"]["HostedZoneId"] == {"Fn::GetAtt": ["ApiDomain", "RegionalHostedZoneId"]}


def test_the_custom_domain_is_regional_tls_1_2_and_maps_to_the_chat_stage() -> None:
    domain = props("ApiDomain")
    assert domain["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    assert domain["SecurityPolicy"] == "TLS_1_2"
    assert domain["RegionalCertificateArn"] == {"Ref": "ApiCertificate"}
    assert resources()["ChatApi"]["Properties"]["EndpointConfiguration"]["Type"] == "REGIONAL"
    mapping = props("ApiDomainMapping")
    assert mapping["RestApiId"] == {"Ref": "ChatApi"}
    assert mapping["Stage"] == {"Ref": "ChatApi.Stage"}
    certificate = props("ApiCertificate")
    assert certificate["ValidationMethod"] == "DNS"
    assert certificate["DomainValidationOptions"] == [
        {"DomainName": {"Ref": "ApiDomainName"}, "HostedZoneId": {"Ref": "ApiHostedZoneId"}}
    ]
