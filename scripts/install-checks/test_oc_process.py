"""The template processor does what `oc process` does."""

from __future__ import annotations

import io
import json
import random
import re
from contextlib import redirect_stderr

import pytest
import yaml

from render import oc_process

TemplateError = oc_process.TemplateError


def template(objects, parameters, **extra):
    return {"kind": "Template", "apiVersion": "template.openshift.io/v1", "objects": objects,
            "parameters": parameters, **extra}


def process(tmpl, given=(), **kwargs):
    return oc_process.process(tmpl, list(given), **kwargs)["items"]


@pytest.mark.parametrize(
    "text, values, expected",
    [
        ("${A}", {"A": "x"}, "x"),
        ("pre-${A}-${B}-post", {"A": "1", "B": "2"}, "pre-1-2-post"),
        ("${A}${A}", {"A": "x"}, "xx"),
        ("${UNKNOWN}", {"A": "x"}, "${UNKNOWN}"),
        ("$A {A} $(A)", {"A": "x"}, "$A {A} $(A)"),
        ("${{A}}", {"A": "3"}, 3),
        ("${{A}}", {"A": "true"}, True),
        ("${{A}}", {"A": '{"k": [1, 2]}'}, {"k": [1, 2]}),
        ("${{A}}", {"A": "null"}, None),
        # Not JSON: kept as a string, as `oc` does.
        ("${{A}}", {"A": "plain words"}, "plain words"),
        # ${{A}} is recognised only as the whole string.
        ("x-${{A}}", {"A": "3"}, "x-${{A}}"),
        # Each reference replaces the first occurrence left in the result, so a value holding
        # another reference is itself replaced (oc's order of replacement).
        ("${A}-${B}", {"A": "${B}", "B": "x"}, "x-${B}"),
    ],
)
def test_substitution(text, values, expected):
    assert oc_process.substitute(text, values)[0] == expected


def test_keys_and_nested_values_are_substituted():
    tmpl = template(
        [{"kind": "ConfigMap", "metadata": {"name": "${NAME}"}, "data": {"${KEY}": "${VALUE}"},
          "list": ["${VALUE}", {"n": "${{COUNT}}"}]}],
        [{"name": "NAME", "value": "cm"}, {"name": "KEY", "value": "K"}, {"name": "VALUE", "value": "v"},
         {"name": "COUNT", "value": "2"}],
    )
    [obj] = process(tmpl)
    assert obj == {"kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"K": "v"}, "list": ["v", {"n": 2}]}


def test_given_values_override_defaults_and_may_be_empty():
    tmpl = template([{"a": "${A}", "b": "${B}"}], [{"name": "A", "value": "default"}, {"name": "B", "value": "b"}])
    assert process(tmpl) == [{"a": "default", "b": "b"}]
    assert process(tmpl, [("A", "given"), ("B", "")]) == [{"a": "given", "b": ""}]


@pytest.mark.parametrize(
    "parameters, given, message",
    [
        ([{"name": "A", "required": True}], [], "parameter A is required and must be specified"),
        ([{"name": "A", "required": True, "value": "x"}], [("A", "")], "parameter A is required"),
        ([{"name": "A"}], [("B", "1")], 'unknown parameter name "B" (this template has: A)'),
        ([{"name": "A"}], [("A", "1"), ("A", "2")], "parameter A is given more than once"),
        ([{"name": "A", "value": 1}], [], "value must be a string (quote it in YAML), not int 1"),
        ([{"name": "A", "generate": "random"}], [], "unknown generator 'random'"),
        ([{"name": "bad-name"}], [], "parameters[0] needs a name of letters, digits and _"),
    ],
)
def test_parameter_errors(parameters, given, message):
    with pytest.raises(TemplateError) as caught:
        process(template([], parameters), given)
    assert message in str(caught.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(TemplateError) as caught:
        process(template([], [{"name": "A", "required": True}]), [("B", "1"), ("C", "2")])
    assert len(str(caught.value).splitlines()) == 3


def test_unknown_parameters_can_be_ignored():
    tmpl = template([{"a": "${A}"}], [{"name": "A", "value": "x"}])
    assert process(tmpl, [("B", "1")], ignore_unknown=True) == [{"a": "x"}]


def test_generated_values_follow_the_expression():
    tmpl = template([{"password": "${P}", "token": "${T}"}],
                    [{"name": "P", "generate": "expression", "from": "[a-zA-Z0-9]{12}"},
                     {"name": "T", "generate": "expression", "from": "tok-[\\d]{4}x"}])
    [obj] = process(tmpl, rng=random.Random(7))
    assert re.fullmatch(r"[a-zA-Z0-9]{12}", obj["password"])
    assert re.fullmatch(r"tok-[0-9]{4}x", obj["token"])
    # A given value is used as it is, not generated.
    assert process(tmpl, [("P", "mine")], rng=random.Random(7))[0]["password"] == "mine"


@pytest.mark.parametrize(
    "pattern, alphabet",
    [("[\\w]{50}", r"[a-zA-Z0-9_]"), ("[\\a]{50}", r"[a-zA-Z]"), ("[\\A]{50}", r"[^a-zA-Z0-9\s]"), ("[x-z]{50}", "[xyz]")],
)
def test_generator_classes(pattern, alphabet):
    assert re.fullmatch(f"{alphabet}{{50}}", oc_process.generate_expression(pattern, random.Random(1)))


def test_hard_coded_namespaces_are_dropped_and_parameterised_ones_kept():
    tmpl = template(
        [{"kind": "A", "metadata": {"name": "a", "namespace": "fixed"}},
         {"kind": "B", "metadata": {"name": "b", "namespace": "${NS}"}}],
        [{"name": "NS", "value": "chosen"}],
    )
    a, b = process(tmpl)
    assert "namespace" not in a["metadata"]
    assert b["metadata"]["namespace"] == "chosen"


def test_template_labels_and_given_labels_go_on_every_object():
    tmpl = template([{"kind": "A", "metadata": {"name": "a", "labels": {"own": "1"}}}, {"kind": "B"}],
                    [{"name": "APP", "value": "kip"}], labels={"app": "${APP}"})
    a, b = process(tmpl, labels={"team": "x"})
    assert a["metadata"]["labels"] == {"own": "1", "app": "kip", "team": "x"}
    assert b["metadata"]["labels"] == {"app": "kip", "team": "x"}


def run_main(args, tmp_path, tmpl):
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(tmpl))
    out, err = io.StringIO(), io.StringIO()
    with redirect_stderr(err):
        code = oc_process.main(["-f", str(path), *args], out=out.write)
    return code, out.getvalue(), err.getvalue()


def test_command_line_prints_a_v1_list(tmp_path):
    tmpl = template([{"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c"}, "data": {"A": "${A}"}}],
                    [{"name": "A", "value": "x"}])
    code, out, _ = run_main(["-p", "A=a=b"], tmp_path, tmpl)
    assert code == 0
    assert json.loads(out) == {"kind": "List", "apiVersion": "v1", "metadata": {},
                               "items": [{"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c"},
                                          "data": {"A": "a=b"}}]}
    code, out, _ = run_main(["A=positional", "-o", "yaml"], tmp_path, tmpl)
    assert yaml.safe_load(out)["items"][0]["data"]["A"] == "positional"


def test_command_line_reads_parameter_files(tmp_path):
    tmpl = template([{"a": "${A}", "b": "${B}"}], [{"name": "A"}, {"name": "B"}])
    params = tmp_path / "params.env"
    params.write_text("# comment\nA=from file\n\nB=x=y\n")
    code, out, _ = run_main(["--param-file", str(params)], tmp_path, tmpl)
    assert code == 0 and json.loads(out)["items"] == [{"a": "from file", "b": "x=y"}]


def test_command_line_errors_exit_1_with_the_reason(tmp_path):
    tmpl = template([], [{"name": "A", "value": "x"}])
    code, out, err = run_main(["-p", "NOPE=1"], tmp_path, tmpl)
    assert (code, out) == (1, "")
    assert 'error: unknown parameter name "NOPE"' in err
    code, _, err = run_main(["-p", "NOEQUALS"], tmp_path, tmpl)
    assert code == 1 and "-p 'NOEQUALS' must have the form NAME=VALUE" in err


def test_command_line_lists_parameters(tmp_path):
    tmpl = template([], [{"name": "A", "description": "the  a\nvalue", "value": "x"}])
    code, out, _ = run_main(["--parameters"], tmp_path, tmpl)
    assert code == 0
    assert out.splitlines()[1].split() == ["A", "the", "a", "value", "x"]


def test_a_file_that_is_not_a_template_is_refused(tmp_path):
    path = tmp_path / "cm.yaml"
    path.write_text("kind: ConfigMap\n")
    with pytest.raises(TemplateError, match="not an OpenShift Template"):
        oc_process.load_template(str(path))
