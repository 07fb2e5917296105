"""The output writer quotes every string that a YAML 1.1, YAML 1.2 or Go (go-yaml, as used by
sigs.k8s.io/yaml and kustomize) reader would take for something else (issue 13, finding 12).

The readers are modelled here independently of the writer: PyYAML is a YAML 1.1 reader,
ruamel.yaml a YAML 1.2 reader, and Go's rules are written out from strconv's and go-yaml v2's
documentation."""

from __future__ import annotations

import io
import re

import pytest
import yaml
from fleetc.core import yamlout
from hypothesis import example, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

# go-yaml v2 resolve table (resolve.go) and the names strconv.ParseFloat accepts.
GO_WORDS = {
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE",
    "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "~", "null", "Null",
    "NULL", "", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
    ".nan", ".NaN", ".NAN", "<<",
}  # fmt: skip
_DEC = r"[0-9](?:_?[0-9])*"
GO_INT = re.compile(
    r"[-+]?(?:0[xX](?:_?[0-9a-fA-F])+|0[bB](?:_?[01])+|0[oO](?:_?[0-7])+|0(?:_?[0-7])*"
    r"|[1-9](?:_?[0-9])*)"
)  # strconv.ParseInt(s, 0, 64), syntax only
GO_FLOAT = re.compile(
    rf"[-+]?(?:(?:{_DEC}(?:\.(?:{_DEC})?)?|\.{_DEC})(?:[eE][-+]?{_DEC})?"
    r"|0[xX](?:_?[0-9a-fA-F])*\.?(?:_?[0-9a-fA-F])*[pP][-+]?[0-9]+"
    r"|(?i:inf|infinity|nan))"
)  # strconv.ParseFloat(s, 64), syntax only


def go_reads_as_non_string(text: str) -> bool:
    return text in GO_WORDS or bool(GO_INT.fullmatch(text) or GO_FLOAT.fullmatch(text))


def _ruamel_load(text: str):
    return YAML(typ="safe", pure=True).load(io.StringIO(text))


def written(value: str) -> str:
    return yamlout.dump({"k": value})[len("k: ") :].rstrip("\n")


def check(value: str) -> None:
    out = yamlout.dump({"k": value})
    assert yaml.safe_load(out) == {"k": value}, out  # YAML 1.1
    assert _ruamel_load(out) == {"k": value}, out  # YAML 1.2
    text = written(value)
    if go_reads_as_non_string(value) and "\n" not in value:
        assert text[:1] in "'\"", (value, out)  # quoted, so Go reads a string


NUMBERISH = st.from_regex(r"\A[-+]?[0-9._:xXoObBeEpPaAfFiInNtTyY]{0,8}\Z")
WORDS = st.sampled_from(sorted(GO_WORDS | {"Inf", "-Infinity", "NaN", "yEs"}))


@settings(max_examples=3000, deadline=None)
@given(st.one_of(NUMBERISH, WORDS))
@example("1e3")
@example("0o17")
@example("08")
@example("1234e5")
@example("0x1F")
@example("1_000")
@example(".5")
@example("+1")
@example("inf")
@example("nan")
@example("~")
@example("y")
@example("n")
@example("0x1p-2")
@example("1:20")
def test_strings_a_reader_would_take_for_numbers_or_words_are_quoted(value):
    check(value)


@settings(max_examples=1000, deadline=None)
@given(st.text(max_size=12))
def test_every_string_round_trips(value):
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return
    check(value)


@pytest.mark.parametrize(
    "value", ["1.2.3", "10.0.0.0/8", "v1.31.2", "app", "e1", "1e", "x86_64", "a:b"]
)
def test_ordinary_strings_stay_plain(value):
    assert written(value) == value
