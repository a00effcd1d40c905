"""template.yaml's edge: the WAF web ACL against mangaassist.client_limits, concurrency, sign-up, the body model."""

from __future__ import annotations

import json

import jsonschema
import pytest

from local.template_resources import TEMPLATE, gateway_response, resource, resources_of_type, template
from mangaassist.chat.api_models import MESSAGE_MAX_CHARS
from mangaassist.client_limits import MAX_BODY_BYTES, RATE_RULES, RateRule
from scripts.generate_template_parts import regenerate


def web_acl() -> dict:
    (acl,) = resources_of_type("AWS::WAFv2::WebACL").values()
    return acl["Properties"]


def rules() -> dict[str, dict]:
    return {rule["Name"]: rule for rule in web_acl()["Rules"]}


def test_the_web_acl_is_associated_with_the_chat_apis_stage():
    (association,) = resources_of_type("AWS::WAFv2::WebACLAssociation").values()
    arn, variables = association["Properties"]["ResourceArn"]["Fn::Sub"]
    assert arn.endswith("/restapis/${ChatApi}/stages/${Stage}")
    assert variables == {"Stage": {"Ref": "ChatApi.Stage"}}
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": ["ApiWebAcl", "Arn"]}
    assert web_acl()["Scope"] == "REGIONAL"
    assert web_acl()["DefaultAction"] == {"Allow": {}}


def test_the_three_managed_rule_groups_block_and_only_their_8kb_body_rule_is_left_to_ours():
    managed = {
        r["Statement"]["ManagedRuleGroupStatement"]["Name"]: r
        for r in web_acl()["Rules"]
        if "ManagedRuleGroupStatement" in r["Statement"]
    }
    assert set(managed) == {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    }
    for rule in managed.values():
        assert rule["OverrideAction"] == {"None": {}}  # the groups' own Block actions stand
    overrides = managed["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]["RuleActionOverrides"]
    assert overrides == [{"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}]
    own_body_rule = rules()[f"BodyOver{MAX_BODY_BYTES // 1024}KB"]
    assert own_body_rule["Priority"] < min(r["Priority"] for r in managed.values())


def test_rate_rules_are_the_client_limits_per_address_and_the_guest_chat_is_tighter():
    assert len(RATE_RULES) == 2
    for limit in RATE_RULES:
        statement = rules()[limit.name]["Statement"]["RateBasedStatement"]
        assert statement["Limit"] == limit.limit
        assert statement["EvaluationWindowSec"] == limit.window_s
        assert statement["AggregateKeyType"] == "IP"
        scope = statement.get("ScopeDownStatement", {}).get("ByteMatchStatement")
        assert (scope or {}).get("SearchString") == limit.path
        action = rules()[limit.name]["Action"]["Block"]["CustomResponse"]
        assert (action["ResponseCode"], action["CustomResponseBodyKey"]) == (429, "throttled")
    guest, everything = RATE_RULES
    assert guest.path == "/chat/guest"
    assert everything.path is None
    assert guest.limit / guest.window_s < everything.limit / everything.window_s


def test_the_body_rule_blocks_past_16kb_which_any_valid_chat_body_fits_under():
    statement = rules()[f"BodyOver{MAX_BODY_BYTES // 1024}KB"]["Statement"]["SizeConstraintStatement"]
    assert MAX_BODY_BYTES == 16 * 1024
    assert (statement["ComparisonOperator"], statement["Size"]) == ("GT", MAX_BODY_BYTES)
    assert statement["FieldToMatch"] == {"Body": {"OversizeHandling": "MATCH"}}
    assert web_acl()["AssociationConfig"]["RequestBody"]["API_GATEWAY"]["DefaultSizeInspectionLimit"] == "KB_16"
    longest = json.dumps({"message": "漫" * MESSAGE_MAX_CHARS, "session_id": "s" * 128}, ensure_ascii=True)
    assert len(longest.encode()) <= MAX_BODY_BYTES


@pytest.mark.parametrize(
    ("body_key", "response_type", "status"), [("too_large", "REQUEST_TOO_LARGE", 413), ("throttled", "THROTTLED", 429)]
)
def test_the_wafs_answers_are_the_gateways_own_for_the_same_case(body_key, response_type, status):
    gateway_status, gateway_body, _ = gateway_response("ChatApi", response_type)
    waf_body = web_acl()["CustomResponseBodies"][body_key]
    assert waf_body["ContentType"] == "APPLICATION_JSON"
    assert json.loads(waf_body["Content"]) == json.loads(gateway_body)
    assert gateway_status == status


def test_blocked_requests_are_logged_without_the_token_to_an_encrypted_short_lived_group():
    (logging,) = resources_of_type("AWS::WAFv2::LoggingConfiguration").values()
    props = logging["Properties"]
    assert props["RedactedFields"] == [{"SingleHeader": {"Name": "authorization"}}]
    assert props["LoggingFilter"]["DefaultBehavior"] == "DROP"
    group = resource(props["LogDestinationConfigs"][0]["Fn::GetAtt"][0])["Properties"]
    assert group["LogGroupName"]["Fn::Sub"].startswith("aws-waf-logs-")
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert group["KmsKeyId"] == {"Fn::GetAtt": ["OpsKey", "Arn"]}


def test_a_client_limits_change_changes_the_generated_web_acl(monkeypatch):
    import scripts.waf_resources as waf

    text = TEMPLATE.read_text(encoding="utf-8")
    monkeypatch.setattr(waf, "RATE_RULES", (RateRule("GuestChatPerClient", limit=20, window_s=60, path="/chat/guest"),))
    stale = regenerate(text)
    assert stale != text
    assert "Limit: 20\n" in stale
    assert "ApiPerClient" not in stale


def test_a_rate_rule_waf_cannot_express_is_refused():
    with pytest.raises(ValueError, match="evaluates rate rules"):
        RateRule("X", limit=100, window_s=30)
    with pytest.raises(ValueError, match="smallest rate limit"):
        RateRule("X", limit=5, window_s=60)


@pytest.mark.parametrize(
    ("function", "parameter", "default"),
    [
        ("ChatFunction", "ChatMaxConcurrency", 200),
        ("HealthPingFunction", "HealthPingReservedConcurrency", 2),
        ("AlarmRelayFunction", "AlarmRelayReservedConcurrency", 5),
    ],
)
def test_concurrency_is_reserved_from_a_parameter_that_zero_turns_off(function, parameter, default):
    condition, value, otherwise = resource(function)["Properties"]["ReservedConcurrentExecutions"]["Fn::If"]
    assert (value, otherwise) == ({"Ref": parameter}, {"Ref": "AWS::NoValue"})
    assert template()["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, 0]}]}
    assert template()["Parameters"][parameter]["Default"] == default


def test_the_chats_cap_fits_the_stages_rate_and_the_reservations_fit_the_default_account_pool():
    params = template()["Parameters"]
    reserved = sum(
        params[p]["Default"]
        for p in ("ChatMaxConcurrency", "HealthPingReservedConcurrency", "AlarmRelayReservedConcurrency")
    )
    assert reserved <= 1000 - 100  # Lambda keeps 100 of the default 1,000 unreserved
    # The stage's steady rate at about a second per chat request must fit under the cap.
    assert params["ChatMaxConcurrency"]["Default"] >= params["ApiThrottleRateLimit"]["Default"]


def test_self_sign_up_is_off_unless_the_parameter_turns_it_on():
    assert template()["Parameters"]["CustomerSelfSignUp"]["Default"] == "disabled"
    assert template()["Conditions"]["SelfSignUpDisabled"] == {"Fn::Equals": [{"Ref": "CustomerSelfSignUp"}, "disabled"]}
    admin_only = resource("CustomerUserPool")["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"]
    assert admin_only == {"Fn::If": ["SelfSignUpDisabled", True, False]}


def test_the_gateways_chat_model_refuses_unknown_properties_like_the_chat():
    schema = resource("ChatApi")["Properties"]["Models"]["ChatRequest"]
    validator = jsonschema.Draft4Validator(schema)
    assert validator.is_valid({"message": "hi", "session_id": "s-1"})
    assert not validator.is_valid({"message": "hi", "customer_id": "cust-0001"})
