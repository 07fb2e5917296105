"""The Widget custom resource (widgets.example.com, kind Widget, version v1) that the tests of
CRD validation define: one skeleton, and each test's schema for the Widget's fields."""

from __future__ import annotations

from typing import Any

import yaml


def widget_crd(properties: dict[str, Any], *, list_names: bool = False) -> str:
    """``widget_crd_data`` as YAML."""
    return yaml.safe_dump(widget_crd_data(properties, list_names=list_names), sort_keys=False)


def widget_crd_data(properties: dict[str, Any], *, list_names: bool = False) -> dict[str, Any]:
    """The CRD; ``properties``: the top-level properties of its v1 schema (``spec`` among
    them); ``list_names`` adds the singular and list kind names."""
    names = {"kind": "Widget", "plural": "widgets"}
    if list_names:
        names.update(singular="widget", listKind="WidgetList")
    schema = {"type": "object", "properties": properties}
    version = {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": names,
            "versions": [version],
        },
    }


def spec_of(fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """``properties`` whose ``spec`` is an object with ``fields`` (and ``extra`` keywords)."""
    return {"spec": {"type": "object", "properties": fields, **extra}}


def never_shrinking(message: str) -> dict[str, Any]:
    """The schema of an integer field with the transition rule that it never shrinks."""
    return {
        "type": "integer",
        "x-kubernetes-validations": [{"rule": "self >= oldSelf", "message": message}],
    }
