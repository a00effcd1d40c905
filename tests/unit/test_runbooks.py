"""docs/runbooks: one per failure mode in the design's format, one for every alarm, figures as the registry says."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from local.template_resources import ROOT, resources_of_type
from mangaassist.health import operator_banner
from mangaassist.language import detect_language
from mangaassist.ops.alarms import OPS_RUNBOOKS, alarm_catalog, all_runbooks
from mangaassist.registry import PING_AVAILABILITY_METRIC, PLATFORM_RUNBOOKS, SERVICES, ServiceSpec
from scripts import banner as banner_cli

RUNBOOKS = ROOT / "docs" / "runbooks"
NOW = 1_800_000_000.0
FIELDS = ("Severity", "Detection alarm", "Impact", "Service")
SECTIONS = ("## Immediate action", "## Recovery")


def read(name: str) -> str:
    path = RUNBOOKS / f"{name}.md"
    assert path.is_file(), f"no runbook docs/runbooks/{name}.md"
    return path.read_text(encoding="utf-8")


def field(text: str, name: str) -> str:
    match = re.search(rf"^\| \*\*{re.escape(name)}\*\* \| (.+) \|$", text, re.MULTILINE)
    assert match, f"runbook lacks the {name} row"
    return match.group(1)


def deployed_alarms() -> dict[str, str]:
    """AlarmName -> runbook named in its description, for every alarm in template.yaml."""
    found = {**resources_of_type("AWS::CloudWatch::Alarm"), **resources_of_type("AWS::CloudWatch::CompositeAlarm")}
    result = {}
    for res in found.values():
        props = res["Properties"]
        match = re.search(r"\| Runbook: ([a-z0-9-]+) \|", props["AlarmDescription"])
        assert match, f"{props['AlarmName']} names no runbook"
        result[props["AlarmName"]] = match.group(1)
    return result


def test_every_alarm_in_the_template_has_a_runbook_that_names_it():
    alarms = deployed_alarms()
    assert alarms
    for alarm_name, runbook in alarms.items():
        text = read(runbook)
        if alarm_catalog()[alarm_name].component:
            continue  # a window of a burn-rate alert: its composite is the one named
        assert f"`{alarm_name}`" in field(text, "Detection alarm"), (alarm_name, runbook)


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_every_registry_service_has_a_runbook_with_its_registry_figures(spec: ServiceSpec):
    text = read(spec.runbook)
    assert re.match(r"P\d", field(text, "Severity")).group(0) == spec.tier.severity
    assert f"`{spec.circuit_open_alarm}`" in field(text, "Detection alarm")
    facts = field(text, "Service")
    assert re.match(rf"`{spec.name}`, tier {int(spec.tier)}\b", facts), facts
    breaker = re.search(r"opens after (\d+) failures in (\d+) s and stays open (\d+) s", facts)
    assert breaker, facts
    assert tuple(map(int, breaker.groups())) == (
        spec.breaker.failure_threshold,
        spec.breaker.window_seconds,
        spec.breaker.open_seconds,
    )
    assert f"call timeout {spec.timeout_ms} ms" in facts
    impact = field(text, "Impact")
    if spec.traffic_share:
        assert f"~{round(spec.traffic_share * 100)} % of chat traffic" in impact


@pytest.mark.parametrize("name", sorted(all_runbooks()))
def test_every_runbook_has_the_designs_format(name):
    text = read(name)
    assert text.startswith("# Runbook: ")
    for row in FIELDS:
        assert field(text, row).strip()
    for heading in SECTIONS:
        assert heading in text, (name, heading)
    actions = text.split("## Immediate action")[1].split("## Recovery")[0]
    recovery = text.split("## Recovery")[1]
    assert re.search(r"^1\. ", actions, re.MULTILINE)
    assert re.search(r"^1\. ", recovery, re.MULTILINE)


def test_severity_row_covers_every_alarm_that_points_at_the_runbook():
    for alarm_name, runbook in deployed_alarms().items():
        spec = alarm_catalog()[alarm_name]
        assert spec.severity in field(read(runbook), "Severity"), (alarm_name, runbook)


def test_platform_and_ops_runbooks_exist():
    for name in [*PLATFORM_RUNBOOKS.values(), *OPS_RUNBOOKS.values()]:
        read(name)


def test_the_index_lists_every_runbook_and_nothing_else():
    index = read("README")
    listed = set(re.findall(r"\]\(([a-z0-9-]+)\.md\)", index))
    assert listed == all_runbooks()
    on_disk = {path.stem for path in RUNBOOKS.glob("*.md")} - {"README"}
    assert on_disk == all_runbooks(), "a runbook file nobody links to, or a link to nothing"


def test_runbooks_link_only_to_runbooks_that_exist():
    for path in RUNBOOKS.glob("*.md"):
        for target in re.findall(r"\]\(([A-Za-z0-9_-]+)\.md\)", path.read_text(encoding="utf-8")):
            assert (RUNBOOKS / f"{target}.md").is_file(), (path.name, target)


def test_availability_doc_carries_the_arithmetic():
    text = (ROOT / "docs" / "availability.md").read_text(encoding="utf-8")
    assert "21.6 minutes" in text
    assert "0.05 % × 30 days × 24 h × 60 min" in text
    for component in ("API Gateway", "ECS Orchestrator", "DynamoDB", "Bedrock LLM", "OpenSearch", "End-to-end"):
        assert component in text, component
    for alarm_name in ("ChatSloFastBurn", "ChatSloSlowBurn", "ChatSloBudgetBurn"):
        assert f"`{alarm_name}`" in text


def test_docs_name_only_alarms_that_exist():
    alarms = set(deployed_alarms())
    docs = [
        *RUNBOOKS.glob("*.md"),
        *(ROOT / "docs" / name for name in ("availability.md", "deploy.md", "architecture.md")),
    ]
    pattern = re.compile(
        r"`([A-Z][A-Za-z0-9]+(?:CircuitOpen|Availability|Errors|Throttles|Burn|Silent|P99|Deliveries))`"
    )
    metrics = {PING_AVAILABILITY_METRIC} | {m for s in SERVICES for m in (s.error_metric, s.timeout_metric)}
    for path in docs:
        for name in set(pattern.findall(Path(path).read_text(encoding="utf-8"))) - metrics:
            assert name in alarms, (path.name, name)


# The seed's runbooks that tell on-call to post a banner on the chatbot ("If outage expected >15min: post banner
# on chatbot"), by runbook name.
SEED_BANNER_RUNBOOKS = ("order-service-unavailable",)


def banner_commands(text: str) -> list[list[str]]:
    """Each `scripts/banner.py ...` command in the text's code blocks, as argv after the script (lines joined)."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            if "scripts/banner.py" in line:
                argv = shlex.split(line, comments=True)
                script = next(i for i, arg in enumerate(argv) if arg.endswith("scripts/banner.py"))
                commands.append(argv[script + 1 :])
    return commands


@pytest.mark.parametrize("name", SEED_BANNER_RUNBOOKS)
def test_runbooks_that_post_a_banner_give_a_command_that_posts_a_valid_one(name):
    text = read(name)
    actions = text.split("## Immediate action")[1].split("## Recovery")[0]
    recovery = text.split("## Recovery")[1]
    posts = [argv for argv in banner_commands(actions) if "post" in argv]
    assert posts, f"{name} says to post a banner but gives no scripts/banner.py post command"
    for argv in posts:
        args = banner_cli.parser().parse_args(argv)
        expires_at = NOW + banner_cli.duration_s(args.expires_in)
        operator_banner(
            message_en=args.en, message_ja=args.ja, reason=args.reason, expires_at=expires_at, now=NOW
        )  # raises on a text the CLI would refuse
        assert detect_language(args.ja) == "ja"
        assert detect_language(args.en) == "en"
    clears = [argv for argv in banner_commands(recovery) if argv[-1] == "clear"]
    assert clears, f"{name}: say how the banner comes down"


def test_the_runbook_index_shows_the_banner_commands():
    commands = banner_commands(read("README"))
    assert {argv[argv.index("--region") + 2] for argv in commands} == {"post", "show", "clear"}
