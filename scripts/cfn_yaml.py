"""CloudFormation short-form intrinsics (!Ref, !Sub, !GetAtt, !If) as Python values, and a YAML writer for them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class Intrinsic:
    tag: str  # "!Ref", "!Sub", "!GetAtt", "!If" ...
    value: Any  # a string for scalar forms, a list for sequence forms

    def as_long_form(self) -> dict[str, Any]:
        """The JSON form, as local/template_resources.py reads a template back."""
        name = "Ref" if self.tag == "!Ref" else f"Fn::{self.tag[1:]}"
        value = self.value.split(".", 1) if self.tag == "!GetAtt" else self.value
        return {name: long_form(value)}


def ref(name: str) -> Intrinsic:
    return Intrinsic("!Ref", name)


def sub(text: str) -> Intrinsic:
    return Intrinsic("!Sub", text)


def get_att(resource: str, attribute: str) -> Intrinsic:
    return Intrinsic("!GetAtt", f"{resource}.{attribute}")


def long_form(value: Any) -> Any:
    """Replace every Intrinsic in a structure by its JSON form (for comparing with a parsed template)."""
    if isinstance(value, Intrinsic):
        return value.as_long_form()
    if isinstance(value, dict):
        return {k: long_form(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [long_form(v) for v in value]
    return value


class _TemplateDumper(yaml.SafeDumper):
    """Block style, lists indented under their key, like the hand-written parts of template.yaml."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def choose_scalar_style(self) -> str:
        # PyYAML quotes every scalar with an explicit tag; `!Ref Name` reads better and parses the same.
        style = super().choose_scalar_style()
        event = self.event
        if style == "'" and event.tag and event.tag.startswith("!") and not event.tag.startswith("!!"):
            analysis = self.analysis
            if analysis.allow_block_plain and not analysis.multiline and not analysis.empty:
                return ""
        return style


def _represent_intrinsic(dumper: yaml.SafeDumper, data: Intrinsic) -> yaml.Node:
    if isinstance(data.value, list | tuple):
        return dumper.represent_sequence(data.tag, data.value)
    style = "|" if "\n" in data.value else None
    return dumper.represent_scalar(data.tag, data.value, style=style)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


_TemplateDumper.add_representer(Intrinsic, _represent_intrinsic)
_TemplateDumper.add_representer(str, _represent_str)


def dump(mapping: dict[str, Any], indent: int) -> str:
    """YAML text of a mapping, every line indented by `indent` spaces (to sit inside a template section)."""
    text = yaml.dump(
        mapping,
        Dumper=_TemplateDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=100_000,
        indent=2,
    )
    pad = " " * indent
    return "".join(f"{pad}{line}" if line.strip() else line for line in text.splitlines(keepends=True))
