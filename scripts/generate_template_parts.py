"""Rewrites the generated sections of template.yaml from the registry, the ops alarm catalog and client limits.

template.yaml marks each generated section with a pair of comment lines::

    # >>> generated: <section> ...
    # <<< generated: <section>

Everything between them is replaced; everything else in the file is left exactly as written.
`python -m scripts.generate_template_parts` rewrites the file, `--check` only reports (exit 1) when it is stale.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mangaassist.registry import SERVICES, ServiceSpec
from scripts.alarm_resources import alarm_resources
from scripts.cfn_yaml import dump, ref, sub
from scripts.dashboard_body import dashboard_body_text
from scripts.waf_resources import web_acl_resources

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
DASHBOARD = "ServiceHealthDashboard"

_BEGIN = re.compile(r"^(?P<indent>[ ]*)# >>> generated: (?P<name>[a-z0-9-]+)\b.*$", re.MULTILINE)


class TemplateSectionError(Exception):
    """template.yaml's generated-section markers are missing, unknown or unbalanced."""


def http_services() -> list[ServiceSpec]:
    return [spec for spec in SERVICES if spec.kind == "http"]


def url_parameter(spec: ServiceSpec) -> str:
    return f"{spec.metric_prefix}Url"


def service_url_parameters() -> dict[str, Any]:
    return {
        url_parameter(spec): {
            "Type": "String",
            "Default": "",
            # TLS only; empty until the service exists, and then its circuit simply stays open.
            "AllowedPattern": r"^(https://\S+)?$",
            "ConstraintDescription": "an https:// base URL, or empty",
            "Description": (
                f"Base URL of {spec.display_name} ({spec.name}, tier {int(spec.tier)}); "
                f"empty = not deployed yet, the chat uses its fallback: {spec.fallback}"
            ),
        }
        for spec in http_services()
    }


def service_url_variables() -> dict[str, Any]:
    return {spec.url_env: ref(url_parameter(spec)) for spec in http_services()}


def dashboard_resource() -> dict[str, Any]:
    return {
        DASHBOARD: {
            "Type": "AWS::CloudWatch::Dashboard",
            "Properties": {
                "DashboardName": sub("${AWS::StackName}-service-health"),
                "DashboardBody": sub(dashboard_body_text()),
            },
        }
    }


def alarms_and_dashboard() -> dict[str, Any]:
    return {**alarm_resources(), **dashboard_resource()}


SECTIONS: dict[str, Callable[[], dict[str, Any]]] = {
    "service-url-parameters": service_url_parameters,
    "chat-service-urls": service_url_variables,
    "health-ping-service-urls": service_url_variables,
    "alarms-and-dashboard": alarms_and_dashboard,
    "edge-web-acl": web_acl_resources,
}


def regenerate(text: str) -> str:
    """template.yaml's text with every generated section rendered afresh."""
    seen: set[str] = set()
    out: list[str] = []
    position = 0
    for begin in _BEGIN.finditer(text):
        name, indent = begin.group("name"), len(begin.group("indent"))
        if name not in SECTIONS:
            raise TemplateSectionError(f"unknown generated section {name!r}")
        if name in seen:
            raise TemplateSectionError(f"generated section {name!r} appears twice")
        seen.add(name)
        end = re.compile(rf"^[ ]*# <<< generated: {re.escape(name)}[ ]*$", re.MULTILINE).search(text, begin.end())
        if end is None:
            raise TemplateSectionError(f"generated section {name!r} has no end marker")
        if _BEGIN.search(text, begin.end(), end.start()):
            raise TemplateSectionError(f"generated section {name!r} contains another section")
        out.append(text[position : begin.end() + 1])
        out.append(dump(SECTIONS[name](), indent))
        out.append(text[end.start() : end.end()])  # the end marker line, indentation included
        position = end.end()
    missing = set(SECTIONS) - seen
    if missing:
        raise TemplateSectionError(f"template.yaml lacks generated sections: {', '.join(sorted(missing))}")
    out.append(text[position:])
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if template.yaml is out of step")
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    args = parser.parse_args(argv)
    current = args.template.read_text(encoding="utf-8")
    fresh = regenerate(current)
    if fresh == current:
        print(f"{args.template.name}: generated sections are in step with the registry")
        return 0
    if args.check:
        diff = difflib.unified_diff(
            current.splitlines(keepends=True), fresh.splitlines(keepends=True), "template.yaml", "regenerated", n=1
        )
        sys.stdout.writelines(list(diff)[:80])
        print(f"\n{args.template.name} is out of step with the registry: run `make generate`", file=sys.stderr)
        return 1
    args.template.write_text(fresh, encoding="utf-8")
    print(f"{args.template.name}: generated sections rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
