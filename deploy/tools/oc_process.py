#!/usr/bin/env python3
"""Processes an OpenShift Template into a `v1` List, as `oc process -f FILE` does, for machines
and clusters without `oc`:

    deploy/tools/oc_process.py -f deploy/openshift/configmap.yaml \\
        -p IMAGES='java=eclipse/che-java:11;' | kubectl apply -n k8s-image-puller -f -

What it implements, with `oc`'s meaning:
  * `${NAME}` is replaced by the parameter's value anywhere in a string, keys included;
    `${{NAME}}`, when it is the whole string, is replaced by the value read as JSON (a
    number, boolean, object...), or kept as a string when it is not JSON. References to
    names that are not parameters stay as they are.
  * a parameter's value comes from `-p NAME=VALUE` (or `NAME=VALUE`, or `--param-file`),
    else from its `value`, else from `generate: expression` and its `from` pattern;
    `required: true` with no value is an error; an unknown `-p` name is an error unless
    `--ignore-unknown-parameters`.
  * a hard-coded `metadata.namespace` is dropped (the objects go to the namespace they are
    applied to); one that references a parameter stays.
  * the template's `labels` (and `-l`) are added to every object.
Output: JSON (the default, as `oc`) or YAML with `-o yaml`. Needs PyYAML for YAML.
Exit status: 0 on success, 1 on a template or parameter error (said on stderr), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import string
import sys
from collections.abc import Callable, Iterable
from typing import Any

# The same patterns as `oc`: `${NAME}` anywhere, `${{NAME}}` only as the whole string.
STRING_REFERENCE = re.compile(r"\$\{([a-zA-Z0-9_]+?)\}")
NON_STRING_REFERENCE = re.compile(r"^\$\{\{([a-zA-Z0-9_]+)\}\}$")
PARAMETER_NAME = re.compile(r"^[a-zA-Z0-9_]+$")

# Character classes of `generate: expression`, as OpenShift documents them.
GENERATOR_CLASSES = {
    "w": string.ascii_letters + string.digits + "_",
    "d": string.digits,
    "a": string.ascii_letters,
    "A": "~!@#$%^&*()-_+={}[]\\|<,>.?/\"';:`",
}


class TemplateError(Exception):
    """A template or parameter problem, worded so that a person can fix it."""


def _read(path: str) -> str:
    """A file's text; "-" is stdin."""
    if path == "-":
        return sys.stdin.read()
    with open(path, encoding="utf-8") as file:
        return file.read()


def load_template(path: str) -> dict[str, Any]:
    """Reads a Template from a JSON or YAML file ("-" for stdin)."""
    try:
        text = _read(path)
    except OSError as err:
        raise TemplateError(f"cannot read the template {path}: {err.strerror}") from err
    try:
        document = json.loads(text)
    except ValueError:
        try:
            import yaml
        except ImportError as err:
            raise TemplateError(
                f"{path} is not JSON, and reading YAML needs PyYAML (pip install pyyaml)"
            ) from err
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise TemplateError(f"{path} is neither JSON nor valid YAML: {err}") from err
    if not isinstance(document, dict) or document.get("kind") != "Template":
        raise TemplateError(f"{path} is not an OpenShift Template (its kind must be Template)")
    if not isinstance(document.get("objects", []), list):
        raise TemplateError(f"{path}: objects must be a list")
    if not isinstance(document.get("parameters", []), list):
        raise TemplateError(f"{path}: parameters must be a list")
    return document


def parse_assignments(pairs: Iterable[str], source: str) -> list[tuple[str, str]]:
    """Splits NAME=VALUE strings at the first "="; the value may be empty."""
    parsed = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise TemplateError(f"{source} {pair!r} must have the form NAME=VALUE")
        parsed.append((name, value))
    return parsed


def read_param_file(path: str) -> list[str]:
    """NAME=VALUE lines; blank lines and lines starting with # are skipped."""
    try:
        lines = _read(path).splitlines()
    except OSError as err:
        raise TemplateError(f"cannot read the parameter file {path}: {err.strerror}") from err
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def generate_expression(pattern: str, rng: random.Random) -> str:
    """A value for `generate: expression`: literal characters, and classes such as
    `[a-zA-Z0-9]{8}` or `[\\w]{4}` (ranges, \\w \\d \\a \\A), each `{n}` times (once without)."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern[i] != "[":
            out.append(pattern[i])
            i += 1
            continue
        end = i + 1
        while end < len(pattern) and pattern[end] != "]":
            end += 2 if pattern[end] == "\\" else 1
        if end >= len(pattern):
            raise TemplateError(f"generator pattern {pattern!r}: '[' at {i} is never closed")
        alphabet = _character_class(pattern[i + 1 : end], pattern)
        i = end + 1
        count = 1
        quantifier = re.match(r"\{(\d+)\}", pattern[i:])
        if quantifier:
            count = int(quantifier.group(1))
            i += quantifier.end()
        out.extend(rng.choice(alphabet) for _ in range(count))
    return "".join(out)


def _character_class(body: str, pattern: str) -> str:
    chars: list[str] = []
    i = 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            escaped = body[i + 1]
            chars.extend(GENERATOR_CLASSES.get(escaped, escaped))
            i += 2
        elif i + 2 < len(body) and body[i + 1] == "-":
            low, high = body[i], body[i + 2]
            if ord(low) > ord(high):
                raise TemplateError(f"generator pattern {pattern!r}: range {low}-{high} is reversed")
            chars.extend(chr(c) for c in range(ord(low), ord(high) + 1))
            i += 3
        else:
            chars.append(body[i])
            i += 1
    if not chars:
        raise TemplateError(f"generator pattern {pattern!r} has an empty character class")
    return "".join(chars)


def resolve_parameters(
    template: dict[str, Any],
    given: list[tuple[str, str]],
    *,
    ignore_unknown: bool = False,
    rng: random.Random | None = None,
) -> dict[str, str]:
    """The value of every parameter, or a TemplateError listing every problem found."""
    problems: list[str] = []
    declared: dict[str, dict[str, Any]] = {}
    for index, parameter in enumerate(template.get("parameters") or []):
        name = parameter.get("name") if isinstance(parameter, dict) else None
        if not isinstance(name, str) or not PARAMETER_NAME.match(name):
            problems.append(f"parameters[{index}] needs a name of letters, digits and _")
            continue
        if not isinstance(parameter.get("value", ""), str):
            problems.append(
                f"parameter {name}: value must be a string (quote it in YAML), "
                f"not {type(parameter['value']).__name__} {parameter['value']!r}"
            )
            continue
        declared[name] = parameter

    overrides: dict[str, str] = {}
    for name, value in given:
        if name in overrides:
            problems.append(f"parameter {name} is given more than once")
        elif name not in declared and not ignore_unknown:
            known = ", ".join(sorted(declared)) or "none"
            problems.append(f'unknown parameter name "{name}" (this template has: {known})')
        overrides[name] = value

    rng = rng or random.SystemRandom()
    values: dict[str, str] = {}
    for name, parameter in declared.items():
        value = overrides.get(name, parameter.get("value") or "")
        generator = parameter.get("generate")
        if not value and generator:
            if generator != "expression":
                problems.append(f"parameter {name}: unknown generator {generator!r} (only 'expression' exists)")
                continue
            try:
                value = generate_expression(str(parameter.get("from") or ""), rng)
            except TemplateError as err:
                problems.append(f"parameter {name}: {err}")
                continue
        if not value and parameter.get("required"):
            problems.append(f"parameter {name} is required and must be specified (-p {name}=VALUE)")
        values[name] = value
    if problems:
        raise TemplateError("\n".join(problems))
    return values


def substitute(text: str, values: dict[str, str]) -> tuple[Any, bool]:
    """Returns the substituted value and whether it stays a string."""
    whole = NON_STRING_REFERENCE.match(text)
    if whole and whole.group(1) in values:
        raw = values[whole.group(1)]
        try:
            return json.loads(raw), False
        except ValueError:
            # Not JSON (an unquoted word, say): `oc` keeps it as a string.
            return raw, True
    out = text
    # Like `oc`, each reference found in the original string replaces the first occurrence left
    # in the result, so a value that itself contains `${X}` can be replaced in turn.
    for match in STRING_REFERENCE.finditer(text):
        if match.group(1) in values:
            out = out.replace(match.group(0), values[match.group(1)], 1)
    return out, True


def _visit(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, str):
        return substitute(node, values)[0]
    if isinstance(node, list):
        return [_visit(item, values) for item in node]
    if isinstance(node, dict):
        visited = {}
        for key, value in node.items():
            visited[_substitute_key(key, values)] = _visit(value, values)
        return visited
    return node


def _substitute_key(key: Any, values: dict[str, str]) -> Any:
    """Keys are substituted too, but always stay strings."""
    if not isinstance(key, str):
        return key
    whole = NON_STRING_REFERENCE.match(key)
    if whole and whole.group(1) in values:
        return values[whole.group(1)]
    return substitute(key, values)[0]


def _strip_namespace(obj: dict[str, Any]) -> None:
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and "namespace" in metadata:
        namespace = metadata["namespace"]
        if not (isinstance(namespace, str) and STRING_REFERENCE.search(namespace)):
            del metadata["namespace"]


def process(
    template: dict[str, Any],
    given: list[tuple[str, str]],
    *,
    ignore_unknown: bool = False,
    labels: dict[str, str] | None = None,
    rng: random.Random | None = None,
) -> dict[str, Any]:
    """The processed template as a `v1` List."""
    values = resolve_parameters(template, given, ignore_unknown=ignore_unknown, rng=rng)
    object_labels = {
        _substitute_key(k, values): str(substitute(v, values)[0])
        for k, v in {**(template.get("labels") or {}), **(labels or {})}.items()
    }
    items = []
    for index, obj in enumerate(template.get("objects") or []):
        if not isinstance(obj, dict):
            raise TemplateError(f"objects[{index}] is not an object")
        obj = json.loads(json.dumps(obj))
        _strip_namespace(obj)
        obj = _visit(obj, values)
        if object_labels:
            metadata = obj.setdefault("metadata", {})
            metadata["labels"] = {**(metadata.get("labels") or {}), **object_labels}
        items.append(obj)
    return {"kind": "List", "apiVersion": "v1", "metadata": {}, "items": items}


def describe_parameters(template: dict[str, Any]) -> str:
    """The table `oc process --parameters` prints."""
    rows = [("NAME", "DESCRIPTION", "GENERATOR", "VALUE")]
    for parameter in template.get("parameters") or []:
        rows.append(
            (
                parameter.get("name", ""),
                " ".join(str(parameter.get("description", "")).split()),
                parameter.get("generate", ""),
                " ".join(str(parameter.get("value", "")).split()),
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    return "\n".join(
        "   ".join(cell.ljust(width) for cell, width in zip(row[:3], widths)) + "   " + row[3]
        for row in rows
    )


def render(document: dict[str, Any], output: str) -> str:
    if output == "json":
        return json.dumps(document, indent=4) + "\n"
    try:
        import yaml
    except ImportError as err:
        raise TemplateError("-o yaml needs PyYAML (pip install pyyaml)") from err
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False, allow_unicode=True)


def main(argv: list[str] | None = None, out: Callable[[str], Any] = sys.stdout.write) -> int:
    parser = argparse.ArgumentParser(
        prog="oc_process.py",
        description="Process an OpenShift Template into a List, like `oc process -f FILE`.",
    )
    parser.add_argument("-f", "--filename", required=True, help="the template (JSON or YAML; - for stdin)")
    parser.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                        help="set a parameter (repeatable)")
    parser.add_argument("--param-file", action="append", default=[], metavar="FILE",
                        help="NAME=VALUE lines to set parameters from")
    parser.add_argument("-l", "--labels", action="append", default=[], metavar="KEY=VALUE[,...]",
                        help="labels to add to every object")
    parser.add_argument("-o", "--output", choices=["json", "yaml"], default="json")
    parser.add_argument("--parameters", action="store_true", help="list the parameters and stop")
    parser.add_argument("--ignore-unknown-parameters", action="store_true")
    parser.add_argument("--local", action="store_true", help="accepted for `oc` compatibility; always local")
    parser.add_argument("assignments", nargs="*", metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    try:
        template = load_template(args.filename)
        if args.parameters:
            out(describe_parameters(template) + "\n")
            return 0
        given = []
        for path in args.param_file:
            given += parse_assignments(read_param_file(path), f"line of {path}")
        given += parse_assignments(args.param, "-p")
        given += parse_assignments(args.assignments, "argument")
        labels = dict(parse_assignments([p for group in args.labels for p in group.split(",") if p], "-l"))
        result = process(template, given, ignore_unknown=args.ignore_unknown_parameters, labels=labels)
        out(render(result, args.output))
    except TemplateError as err:
        for line in str(err).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
