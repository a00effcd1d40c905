"""template.yaml against the registry, the code that runs in it and the design: alarms, routes, IAM, tables."""

from __future__ import annotations

import importlib.util
import re
from typing import Any

import pytest

from local.template_resources import ROOT, TEMPLATE, resource, resources_of_type, template
from mangaassist.alerting.settings import RelaySettings
from mangaassist.alerting.transitions import ALARMS_PK
from mangaassist.chat.client_budget_store import LLM_BUDGET_PK_PREFIX
from mangaassist.chat.resolver import CHAT_PATHS, GUEST_CHAT_PATH, ROUTES
from mangaassist.health.items import FLAGS_PK, HEALTH_PK
from mangaassist.ops import slo
from mangaassist.ops.alarms import alarm_catalog
from mangaassist.registry import METRIC_NAMESPACE, SERVICES, STATE_CIRCUITS_PK, service
from scripts.generate_template_parts import TemplateSectionError, http_services, regenerate

FUNCTIONS = {"ChatFunction": "chat", "HealthPingFunction": "health_ping", "AlarmRelayFunction": "alarm_relay"}
API_GATEWAY_TIMEOUT_S = 29


def alarms() -> dict[str, dict[str, Any]]:
    found = {**resources_of_type("AWS::CloudWatch::Alarm"), **resources_of_type("AWS::CloudWatch::CompositeAlarm")}
    return {res["Properties"]["AlarmName"]: res for res in found.values()}


def environment(function: str) -> dict[str, Any]:
    shared = template()["Globals"]["Function"]["Environment"]["Variables"]
    own = resource(function)["Properties"].get("Environment", {}).get("Variables", {})
    return {**shared, **own}


def statements(function: str) -> list[dict[str, Any]]:
    """Every statement a function may have; a conditional one (Fn::If with AWS::NoValue) as when it applies."""
    found = []
    for policy in resource(function)["Properties"]["Policies"]:
        for statement in policy["Statement"]:
            if "Fn::If" in statement:
                _, applies, otherwise = statement["Fn::If"]
                assert otherwise == {"Ref": "AWS::NoValue"}, statement
                statement = applies
            found.append(statement)
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# ---------------------------------------------------------------- generated parts


def test_generated_sections_are_in_step_with_the_registry():
    text = TEMPLATE.read_text(encoding="utf-8")
    assert regenerate(text) == text, "template.yaml is stale: run `make generate`"


def test_a_hand_edit_inside_a_generated_section_is_detected_and_undone():
    text = TEMPLATE.read_text(encoding="utf-8")
    edited = text.replace("      Threshold: 10\n", "      Threshold: 11\n", 1)
    assert edited != text
    assert regenerate(edited) == text


def test_a_registry_change_changes_the_generated_template(monkeypatch):
    import scripts.alarm_resources as alarm_resources
    import scripts.generate_template_parts as generator
    from mangaassist.ops import alarms as catalog

    text = TEMPLATE.read_text(encoding="utf-8")
    fewer = tuple(spec for spec in SERVICES if spec.name != "feedback")
    for module in (alarm_resources, generator, catalog):
        monkeypatch.setattr(module, "SERVICES", fewer)
    catalog.alarm_catalog.cache_clear()
    try:
        stale = regenerate(text)
    finally:
        catalog.alarm_catalog.cache_clear()
    assert "FeedbackCircuitOpen" in text
    assert (
        "FeedbackCircuitOpen"
        not in stale.split("<<< generated: alarms-and-dashboard")[0].split(">>> generated: alarms-and-dashboard")[1]
    )
    assert "FEEDBACK_URL" not in stale


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda t: t.replace("# <<< generated: chat-service-urls", "# end"), "no end marker"),
        (lambda t: t.replace(">>> generated: chat-service-urls", ">>> generated: chat-urls"), "unknown"),
        (
            lambda t: t.replace(
                "  # >>> generated: health-ping-service-urls", "  # >>> generated: chat-service-urls\n  # x"
            ),
            "twice",
        ),
        (
            lambda t: re.sub(r"\n *# >>> generated: service-url-parameters.*\n", "\n", t).replace(
                "  # <<< generated: service-url-parameters\n", ""
            ),
            "lacks",
        ),
    ],
)
def test_broken_markers_are_refused(damage, message):
    with pytest.raises(TemplateSectionError, match=message):
        regenerate(damage(TEMPLATE.read_text(encoding="utf-8")))


# ---------------------------------------------------------------- alarms


def test_order_service_availability_is_exactly_the_designs_alarm():
    props = alarms()["OrderServiceAvailability"]["Properties"]
    stats = {m["Id"]: m["MetricStat"] for m in props["Metrics"] if "MetricStat" in m}
    assert sorted(stat["Metric"]["MetricName"] for stat in stats.values()) == [
        "OrderServiceError",
        "OrderServiceTimeout",
    ]
    for stat in stats.values():
        assert stat["Metric"]["Namespace"] == "MangaAssist/ServiceHealth"
        assert stat["Metric"]["Dimensions"] == [{"Name": "service", "Value": "order_service"}]
        assert (stat["Period"], stat["Stat"]) == (60, "Sum")
    [returned] = [m for m in props["Metrics"] if m.get("ReturnData")]
    assert re.fullmatch(r"FILL\((\w+), 0\) \+ FILL\((\w+), 0\)", returned["Expression"])
    assert set(re.findall(r"FILL\((\w+)", returned["Expression"])) == set(stats)
    assert props["Threshold"] == 10
    assert props["ComparisonOperator"] == "GreaterThanThreshold"
    assert props["EvaluationPeriods"] == 1
    assert props["TreatMissingData"] == "notBreaching"


def test_one_circuit_open_alarm_per_registry_service():
    deployed = alarms()
    for spec in SERVICES:
        props = deployed[spec.circuit_open_alarm]["Properties"]
        assert props["MetricName"] == "CircuitOpen"
        assert props["Namespace"] == METRIC_NAMESPACE
        assert props["Dimensions"] == [{"Name": "service", "Value": spec.name}]
        assert (props["Statistic"], props["Threshold"]) == ("Maximum", 1)
        assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert "OrderServiceCircuitOpen" in deployed


def test_circuit_open_alarms_resolve_when_their_metric_stops_and_only_cloudwatch_publishes_to_the_topic():
    for spec in SERVICES:
        props = alarms()[spec.circuit_open_alarm]["Properties"]
        assert props["TreatMissingData"] == "notBreaching", spec.name
        assert props["OKActions"] == [{"Ref": "AlarmTopic"}]
    (policy,) = resources_of_type("AWS::SNS::TopicPolicy").values()
    assert policy["Properties"]["Topics"] == [{"Ref": "AlarmTopic"}]
    allow, deny_others, deny_plain = policy["Properties"]["PolicyDocument"]["Statement"]
    assert (allow["Effect"], allow["Principal"], allow["Action"]) == (
        "Allow",
        {"Service": "cloudwatch.amazonaws.com"},
        "sns:Publish",
    )
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert (deny_others["Effect"], deny_others["Principal"], deny_others["Action"]) == ("Deny", "*", "sns:Publish")
    assert deny_others["Condition"] == {"StringNotEquals": {"aws:PrincipalServiceName": "cloudwatch.amazonaws.com"}}
    assert deny_plain["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_every_notifying_alarm_has_alarm_and_ok_actions_and_every_window_belongs_to_a_composite():
    deployed = alarms()
    topic = {"Ref": "AlarmTopic"}
    composite_rules = " ".join(
        res["Properties"]["AlarmRule"] for res in deployed.values() if res["Type"] == "AWS::CloudWatch::CompositeAlarm"
    )
    for name, res in deployed.items():
        props = res["Properties"]
        if alarm_catalog()[name].component:
            assert "AlarmActions" not in props, name
            assert "OKActions" not in props, name
            assert f'ALARM("{name}")' in composite_rules, name
        else:
            assert props["AlarmActions"] == [topic], name
            assert props["OKActions"] == [topic], name


def test_template_alarms_are_the_catalog():
    assert set(alarms()) == set(alarm_catalog())
    for name, res in alarms().items():
        assert res["Properties"]["AlarmDescription"] == alarm_catalog()[name].description


def test_metric_math_references_only_defined_ids_and_returns_one_series():
    for name, res in alarms().items():
        metrics = res["Properties"].get("Metrics")
        if not metrics:
            continue
        ids = {m["Id"] for m in metrics}
        returned = [m for m in metrics if m.get("ReturnData")]
        assert len(returned) == 1, name
        for metric in metrics:
            if "Expression" in metric:
                names = set(re.findall(r"\b([a-z][a-z0-9_]*)\b", metric["Expression"]))
                assert names <= ids | {"if", "fill", "or", "and", "max", "repeat"}, (name, names - ids)
        periods = {m["MetricStat"]["Period"] for m in metrics if "MetricStat" in m}
        assert len(periods) == 1, f"{name}: one period for every input"


def test_burn_rate_windows_follow_the_slo():
    deployed = alarms()
    assert pytest.approx(0.0005) == slo.ERROR_BUDGET
    for alert in slo.BURN_RATE_ALERTS:
        windows = [f"{alert.name}{slo.window_label(w)}" for w in (alert.long_window_s, alert.short_window_s)]
        rule = deployed[alert.name]["Properties"]["AlarmRule"]
        assert rule == " AND ".join(f'ALARM("{w}")' for w in windows)
        for window_name, seconds in zip(windows, (alert.long_window_s, alert.short_window_s), strict=True):
            props = deployed[window_name]["Properties"]
            assert props["Threshold"] == alert.burn_rate
            for metric in props["Metrics"]:
                if "MetricStat" in metric:
                    assert metric["MetricStat"]["Period"] == seconds
            [burn] = [m for m in props["Metrics"] if m.get("ReturnData")]
            assert "/ 0.0005" in burn["Expression"]
            names = {m["MetricStat"]["Metric"]["MetricName"] for m in props["Metrics"] if "MetricStat" in m}
            assert names == {slo.CHAT_REQUESTS_METRIC, slo.CHAT_FAILURES_METRIC, "5XXError"}
    assert [(a.burn_rate, a.long_window_s, a.short_window_s) for a in slo.BURN_RATE_ALERTS[:2]] == [
        (14.4, 3600, 300),
        (6.0, 21600, 1800),
    ]


def test_bedrock_availability_waits_as_long_as_the_pinger_does_before_opening_the_circuit():
    props = alarms()["BedrockAvailability"]["Properties"]
    llm = service("llm")
    assert props["EvaluationPeriods"] == props["DatapointsToAlarm"] == llm.ping_failures_to_open
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in props["Metrics"] if "MetricStat" in m}
    assert names == {"PingAvailability", llm.error_metric, llm.timeout_metric}


# ---------------------------------------------------------------- functions


def test_functions_run_python_313_on_arm64_with_tracing_and_powertools_settings():
    globals_ = template()["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.13"
    assert globals_["Architectures"] == ["arm64"]
    assert globals_["Tracing"] == "Active"
    shared = globals_["Environment"]["Variables"]
    assert shared["POWERTOOLS_METRICS_NAMESPACE"] == METRIC_NAMESPACE
    assert shared["POWERTOOLS_TRACE_DISABLED"] == "false"
    assert shared["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
    assert shared["POWERTOOLS_TRACER_CAPTURE_ERROR"] == "false"
    assert shared["STATE_CACHE_TTL_S"] == "1"
    assert environment("ChatFunction")["POWERTOOLS_SERVICE_NAME"] == slo.CHAT_SERVICE
    names = {environment(fn)["POWERTOOLS_SERVICE_NAME"] for fn in FUNCTIONS}
    assert names == set(FUNCTIONS.values())
    for function in FUNCTIONS:
        assert resource(function)["Metadata"]["BuildMethod"] == "makefile"


@pytest.mark.parametrize(("function", "directory"), FUNCTIONS.items())
def test_each_handler_exists_and_its_makefile_builds_it(function, directory):
    props = resource(function)["Properties"]
    module_name, handler_name = props["Handler"].split(".")
    code = ROOT / props["CodeUri"]
    path = code / f"{module_name}.py"
    spec = importlib.util.spec_from_file_location(f"template_check_{directory}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert callable(getattr(module, handler_name))
    makefile = (code / "Makefile").read_text(encoding="utf-8")
    assert f"build-{function}:" in makefile
    assert f"cp {module_name}.py" in makefile


def test_every_http_service_url_reaches_the_chat_and_the_pinger():
    for function in ("ChatFunction", "HealthPingFunction"):
        env = environment(function)
        for spec in http_services():
            assert env[spec.url_env] == {"Ref": f"{spec.metric_prefix}Url"}
        assert env["BEDROCK_MODEL_ID"] == {"Ref": "BedrockModelId"}
    assert {spec.kind for spec in SERVICES} - {"http"} == {"bedrock"}
    assert "ORDER_SERVICE_URL" not in environment("AlarmRelayFunction")


def test_required_environment_variables_of_the_layer_are_set():
    # Every os.environ["X"] in the layer is a variable some function cannot start without.
    required = set()
    for path in (ROOT / "layers/mangaassist/mangaassist").rglob("*.py"):
        required |= set(re.findall(r"os\.environ\[\"([A-Z0-9_]+)\"\]", path.read_text(encoding="utf-8")))
    assert "STATE_TABLE" in required
    defined = set().union(*(environment(fn) for fn in FUNCTIONS))
    assert required <= defined
    chat = environment("ChatFunction")
    assert {"FAQ_BUCKET", "FAQ_KEY", "STORE_BASE_URL"} <= set(chat)


def test_the_relay_boots_from_the_templates_environment(monkeypatch):
    for key, value in environment("AlarmRelayFunction").items():
        monkeypatch.setenv(key, value if isinstance(value, str) else f"<{key}>")
    settings = RelaySettings.from_env()
    assert settings.idempotency_table == "<IDEMPOTENCY_TABLE>"
    assert settings.slack_webhook_secret_id == "<SLACK_WEBHOOK_SECRET_ID>"
    assert settings.pagerduty_routing_key_secret_id == "<PAGERDUTY_ROUTING_KEY_SECRET_ID>"
    assert settings.dashboard_url == "<DASHBOARD_URL>"
    assert settings.runbook_base_url == "<RUNBOOK_BASE_URL>"


def test_timeouts_leave_room_for_the_slowest_dependency():
    slowest_s = max(spec.timeout_ms for spec in SERVICES) / 1000
    chat = resource("ChatFunction")["Properties"]["Timeout"]
    assert slowest_s * 1.5 <= chat < API_GATEWAY_TIMEOUT_S
    ping = resource("HealthPingFunction")["Properties"]["Timeout"]
    assert slowest_s * 2 <= ping <= 60 / 2  # a run never overlaps the next two scheduled ones
    relay = resource("AlarmRelayFunction")["Properties"]["Timeout"]
    connect, read = RelaySettings(idempotency_table="t", state_table="s").http_timeout
    assert relay >= 2 * (connect + read) + 5  # Slack and PagerDuty in turn, plus secrets and DynamoDB


def test_relay_retries_then_lands_in_the_encrypted_failure_queue():
    props = resource("AlarmRelayFunction")["Properties"]
    config = props["EventInvokeConfig"]
    assert config["MaximumRetryAttempts"] == 2
    assert config["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": ["AlarmRelayFailureQueue", "Arn"]},
    }
    assert props["Events"]["AlarmTopic"]["Properties"]["Topic"] == {"Ref": "AlarmTopic"}
    assert resource("AlarmRelayFailureQueue")["Properties"]["KmsMasterKeyId"] == {"Ref": "OpsKey"}
    assert resource("AlarmTopic")["Properties"]["KmsMasterKeyId"] == {"Ref": "OpsKey"}
    depth = alarms()["AlarmRelayFailedDeliveries"]["Properties"]
    assert depth["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["AlarmRelayFailureQueue", "QueueName"]}}
    ]


def test_health_pinger_runs_every_minute_without_retries():
    props = resource("HealthPingFunction")["Properties"]
    [event] = props["Events"].values()
    assert event["Type"] == "Schedule"
    assert event["Properties"]["Schedule"] == "rate(1 minute)"
    assert props["EventInvokeConfig"]["MaximumRetryAttempts"] == 0


# ---------------------------------------------------------------- API


def test_every_chat_route_is_an_api_event_with_the_right_auth():
    events = resource("ChatFunction")["Properties"]["Events"]
    routes = {(e["Properties"]["Path"], e["Properties"]["Method"].upper()): e["Properties"] for e in events.values()}
    assert set(routes) == {(path, method) for path, methods in ROUTES.items() for method in methods}
    assert routes[("/status", "GET")]["Auth"]["Authorizer"] == "AWS_IAM"
    assert routes[("/health", "GET")]["Auth"]["Authorizer"] == "NONE"
    for route in (("/chat", "POST"), ("/feedback", "POST")):
        assert "Auth" not in routes[route], "customer routes use the default Cognito authorizer"
    api = resource("ChatApi")["Properties"]
    assert api["Auth"]["DefaultAuthorizer"] == "CustomerPool"
    assert "UserPoolArn" in api["Auth"]["Authorizers"]["CustomerPool"]
    chat = routes[("/chat", "POST")]["RequestModel"]
    assert chat["ValidateBody"] is True
    assert api["Models"][chat["Model"]]["required"] == ["message"]


def test_signed_in_chat_has_cognito_and_the_guest_chat_no_authorizer_but_the_same_validation():
    events = resource("ChatFunction")["Properties"]["Events"]
    routes = {(e["Properties"]["Path"], e["Properties"]["Method"].upper()): e["Properties"] for e in events.values()}
    api = resource("ChatApi")["Properties"]
    signed_in, guest = routes[("/chat", "POST")], routes[(GUEST_CHAT_PATH, "POST")]
    # POST /chat keeps the API's default authorizer, the Cognito user pool; nothing turns it off.
    assert api["Auth"]["DefaultAuthorizer"] == "CustomerPool"
    assert signed_in.get("Auth", {}).get("Authorizer", "CustomerPool") == "CustomerPool"
    assert guest["Auth"] == {"Authorizer": "NONE"}
    assert guest["RequestModel"] == signed_in["RequestModel"]
    assert guest["RequestModel"]["Required"] is True
    assert guest["RequestModel"]["ValidateBody"] is True
    # Both are served by the one chat function (same handler, same orchestrator).
    chat_events = [e for e in events.values() if e["Properties"]["Path"] in CHAT_PATHS]
    assert len(chat_events) == 2


def test_the_guest_chat_has_its_own_tighter_throttle():
    api = resource("ChatApi")["Properties"]
    params = template()["Parameters"]
    settings = {(s["ResourcePath"], s["HttpMethod"]): s for s in api["MethodSettings"]}
    guest = settings[("/~1chat~1guest", "POST")]
    assert guest["ThrottlingRateLimit"] == {"Ref": "GuestChatThrottleRateLimit"}
    assert guest["ThrottlingBurstLimit"] == {"Ref": "GuestChatThrottleBurstLimit"}
    assert params["GuestChatThrottleRateLimit"]["Default"] < params["ApiThrottleRateLimit"]["Default"]
    assert params["GuestChatThrottleBurstLimit"]["Default"] < params["ApiThrottleBurstLimit"]["Default"]
    assert guest["MetricsEnabled"] is True
    assert guest["DataTraceEnabled"] is False


def test_the_slo_counts_the_5xx_of_exactly_the_chat_routes():
    events = resource("ChatFunction")["Properties"]["Events"].values()
    deployed = {(e["Properties"]["Method"].upper(), e["Properties"]["Path"]) for e in events}
    chat_routes = {(method, path) for method, path in deployed if path in CHAT_PATHS}
    assert set(slo.CHAT_ROUTES) == chat_routes == {("POST", path) for path in CHAT_PATHS}
    for alert in slo.BURN_RATE_ALERTS:
        props = alarms()[f"{alert.name}{slo.window_label(alert.short_window_s)}"]["Properties"]
        counted = {
            (dims["Method"], dims["Resource"])
            for m in props["Metrics"]
            if "MetricStat" in m and m["MetricStat"]["Metric"]["MetricName"] == "5XXError"
            for dims in [{d["Name"]: d["Value"] for d in m["MetricStat"]["Metric"]["Dimensions"]}]
        }
        assert counted == set(slo.CHAT_ROUTES)
        [burn] = [m for m in props["Metrics"] if m.get("ReturnData")]
        for metric in props["Metrics"]:
            if "MetricStat" in metric:
                assert metric["Id"] in burn["Expression"]


def test_stage_is_throttled_logged_and_traced_and_health_has_its_own_throttle():
    api = resource("ChatApi")["Properties"]
    settings = {s["ResourcePath"]: s for s in api["MethodSettings"]}
    assert settings["/*"]["ThrottlingRateLimit"] == {"Ref": "ApiThrottleRateLimit"}
    assert settings["/*"]["DataTraceEnabled"] is False
    assert settings["/~1health"]["ThrottlingRateLimit"] < template()["Parameters"]["ApiThrottleRateLimit"]["Default"]
    assert api["TracingEnabled"] is True
    assert api["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    retention = resource("ApiAccessLogGroup")["Properties"]["RetentionInDays"]
    assert retention == {"Ref": "LogRetentionDays"}


def test_gateway_errors_have_the_chats_error_shape_and_reveal_nothing():
    import json

    responses = resource("ChatApi")["Properties"]["GatewayResponses"]
    assert {"DEFAULT_4XX", "DEFAULT_5XX", "BAD_REQUEST_BODY", "UNAUTHORIZED", "THROTTLED"} <= set(responses)
    for kind, response in responses.items():
        body = json.loads(response["ResponseTemplates"]["application/json"])
        assert set(body) == {"error"}, kind
        assert set(body["error"]) == {"code", "message"}, kind
        assert "$context" not in response["ResponseTemplates"]["application/json"], kind


# ---------------------------------------------------------------- IAM


def test_function_policies_name_their_resources_and_actions():
    for function in FUNCTIONS:
        for statement in statements(function):
            for action in as_list(statement["Action"]):
                assert "*" not in action, (function, action)
            for res in as_list(statement["Resource"]):
                assert res != "*", (function, statement["Sid"])


def _leading_keys(function: str, action: str) -> set[str]:
    keys: set[str] = set()
    for statement in statements(function):
        if action in as_list(statement["Action"]) and "state" in str(statement["Resource"]):
            for operator in ("ForAllValues:StringEquals", "ForAllValues:StringLike"):
                keys |= set(statement["Condition"].get(operator, {}).get("dynamodb:LeadingKeys", ()))
    return keys


def test_state_table_access_is_pinned_to_each_functions_partitions():
    copies = f"{STATE_CIRCUITS_PK}#*"  # the circuits' read copies (CircuitReadCopies)
    assert _leading_keys("ChatFunction", "dynamodb:Query") == {STATE_CIRCUITS_PK, copies, HEALTH_PK, FLAGS_PK}
    # Each client's Bedrock budget is a partition of its own (mangaassist.chat.client_budget_store).
    assert _leading_keys("ChatFunction", "dynamodb:UpdateItem") == {
        STATE_CIRCUITS_PK,
        copies,
        f"{LLM_BUDGET_PK_PREFIX}*",
    }
    assert _leading_keys("HealthPingFunction", "dynamodb:UpdateItem") == {
        STATE_CIRCUITS_PK,
        copies,
        HEALTH_PK,
        FLAGS_PK,
    }
    assert _leading_keys("ChatFunction", "dynamodb:PutItem") == {STATE_CIRCUITS_PK}
    assert _leading_keys("HealthPingFunction", "dynamodb:PutItem") == {STATE_CIRCUITS_PK, HEALTH_PK, FLAGS_PK}
    assert _leading_keys("AlarmRelayFunction", "dynamodb:PutItem") == {ALARMS_PK}
    assert _leading_keys("AlarmRelayFunction", "dynamodb:Query") == set()


def test_only_the_relay_reads_the_channel_secrets_and_only_the_chat_reads_the_faq():
    def actions(function: str) -> set[str]:
        return {a for s in statements(function) for a in as_list(s["Action"])}

    def secrets_read(function: str) -> list:
        return [s["Resource"] for s in statements(function) if "secretsmanager:GetSecretValue" in as_list(s["Action"])]

    assert "secretsmanager:GetSecretValue" in actions("AlarmRelayFunction")
    assert secrets_read("ChatFunction") == [{"Ref": "ClientKeySecret"}], "the budget's HMAC key, nothing else"
    assert secrets_read("HealthPingFunction") == []
    assert "ClientKeySecret" not in str(secrets_read("AlarmRelayFunction"))
    assert "s3:GetObject" in actions("ChatFunction")
    assert "s3:GetObject" not in actions("HealthPingFunction") | actions("AlarmRelayFunction")
    assert "bedrock:InvokeModel" not in actions("AlarmRelayFunction")
    [faq] = [s for s in statements("ChatFunction") if s["Action"] == "s3:GetObject"]
    assert faq["Resource"] == {"Fn::Sub": "${FaqBucket.Arn}/${FaqKey}"}


# ---------------------------------------------------------------- data


def test_state_table_keeps_the_key_schema_the_code_depends_on():
    props = resource("StateTable")["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    idem = resource("IdempotencyTable")["Properties"]
    assert idem["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert idem["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


@pytest.mark.parametrize("table", ["StateTable", "IdempotencyTable"])
def test_tables_are_on_demand_encrypted_recoverable_and_can_grow_a_dr_replica(table):
    res = resource(table)
    props = res["Properties"]
    assert res["Type"] == "AWS::DynamoDB::GlobalTable"
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    primary, dr = props["Replicas"]
    assert primary["Region"] == {"Ref": "AWS::Region"}
    condition, replica, absent = dr["Fn::If"]
    assert condition == "HasDrReplica"
    assert replica["Region"] == {"Ref": "DrReplicaRegion"}
    assert absent == {"Ref": "AWS::NoValue"}
    for spec in (primary, replica):
        assert spec["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert template()["Parameters"]["DrReplicaRegion"]["Default"] == ""


def test_faq_bucket_is_private_encrypted_versioned_and_tls_only():
    props = resource("FaqBucket")["Properties"]
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["VersioningConfiguration"]["Status"] == "Enabled"
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    policy = resource("FaqBucketPolicy")["Properties"]["PolicyDocument"]["Statement"]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in policy)


def test_channel_secrets_are_created_empty_and_encrypted():
    for name in ("SlackWebhookSecret", "PagerDutyRoutingKeySecret"):
        props = resource(name)["Properties"]
        assert "SecretString" not in props
        assert "GenerateSecretString" not in props
        assert props["KmsKeyId"] == {"Ref": "OpsKey"}


def test_generated_references_point_at_resources_and_parameters_that_exist():
    text = TEMPLATE.read_text(encoding="utf-8")
    body = text.split(">>> generated: alarms-and-dashboard")[1].split("<<< generated: alarms-and-dashboard")[0]
    known = set(template()["Resources"]) | set(template()["Parameters"])
    for name in re.findall(r"\$\{([A-Za-z0-9]+)(?:\.\w+)?\}", body):
        assert name in known, name
    for name in re.findall(r"!Ref (\w+)", body):
        assert name in known, name


def test_the_chat_and_the_pinger_may_invoke_only_the_internal_apis_named_by_the_parameter():
    parameter = template()["Parameters"]["InternalApiArns"]
    assert (parameter["Type"], parameter["Default"]) == ("CommaDelimitedList", "")
    assert template()["Conditions"]["CallsInternalApis"] == {
        "Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "InternalApiArns"}]}, ""]}]
    }
    for function, sid in (("ChatFunction", "InvokeInternalApis"), ("HealthPingFunction", "PingInternalApis")):
        conditional = [
            s["Fn::If"] for p in resource(function)["Properties"]["Policies"] for s in p["Statement"] if "Fn::If" in s
        ]
        assert [(c[0], c[1]["Sid"]) for c in conditional] == [("CallsInternalApis", sid)]
        invoke = [s for s in statements(function) if "execute-api:Invoke" in as_list(s["Action"])]
        assert invoke == [
            {"Sid": sid, "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": {"Ref": "InternalApiArns"}}
        ]
    assert not [s for s in statements("AlarmRelayFunction") if "execute-api:Invoke" in as_list(s["Action"])]
