"""``fleetc init``: a new fleet repository that validate, render and check accept at once.

Two clusters (dev and prod), a hub namespace with an app (Deployment, Service, ConfigMap), a
placement, the GitHub Actions template, a pre-commit configuration pinned to this release, a
``.gitignore``, and the JSON Schemas in ``.fleetc/schemas/`` for the editor modelines.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..core.schema import schema_files
from ..core.version import __version__

# Where fleetc is installed from: its git repository (the pre-commit `repo:` and the workflow's
# pip requirement pin the release tag v<version>).
SOURCE_REPOSITORY = "https://github.com/fleetc/fleetc"
SCHEMA_DIR = ".fleetc/schemas"

FLEET = f"""\
# yaml-language-server: $schema={SCHEMA_DIR}/fleet.schema.json
# The fleet: placements say which hub objects go to which clusters (KubeFleet semantics).
apiVersion: fleetc.io/v1alpha1
kind: Fleet
metadata:
  name: {{name}}
spec:
  resources: [hub/]
  inventory: clusters/
  output: rendered/
  placements:
    # The web app on every cluster.
    - name: web
      resourceSelectors:
        - {{{{group: "", version: v1, kind: Namespace, name: web}}}}
      policy:
        placementType: PickAll
"""

CLUSTER = f"""\
# yaml-language-server: $schema=../{SCHEMA_DIR}/cluster.schema.json
apiVersion: fleetc.io/v1alpha1
kind: Cluster
metadata:
  name: {{name}}
  labels:
    env: {{env}}
spec:
  kubernetesVersion: "1.31"
"""

HUB = """\
# Plain Kubernetes manifests, as on a KubeFleet hub. The `web` placement in fleet.yaml selects
# the Namespace, which brings every object in it along.
apiVersion: v1
kind: Namespace
metadata:
  name: web
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-settings
  namespace: web
data:
  greeting: hello
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: nginxinc/nginx-unprivileged:1.27
          ports:
            - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: web
spec:
  selector:
    app: web
  ports:
    - port: 80
      targetPort: 8080
"""

PRE_COMMIT = f"""\
# pre-commit (https://pre-commit.com): `pipx install pre-commit && pre-commit install`.
# fleetc-render re-renders and fails once when rendered/ was stale (git add it, commit again);
# use fleetc-check instead to only fail. Bump `rev` with fleetc (a release tag).
repos:
  - repo: {SOURCE_REPOSITORY}
    rev: v{__version__}
    hooks:
      - id: fleetc-render
"""

GITIGNORE = """\
# fleetc's staging files while a render runs; its lock and journal live in .git/ (in the
# fleet's folder only outside a git repository)
.fleetc-staging-*
.fleetc-lock
.fleetc-journal
__pycache__/
.venv/
"""

README = """\
# {name}

A Kubernetes fleet compiled by [fleetc]({repository}): edit `fleet.yaml`, `clusters/` and
`hub/`, then run `fleetc render` and commit `rendered/` and `fleet.lock` with your change
(`fleetc render --commit --include staged` does both in one commit). CI
(`.github/workflows/fleetc.yaml`) fails when the committed output is stale.
"""


def files(name: str) -> dict[str, bytes]:
    """Every file of a new fleet named ``name``, by path relative to its folder."""
    workflow = resources.files("fleetc.ci").joinpath("fleetc.yaml").read_bytes()
    found = {
        "fleet.yaml": FLEET.format(name=name),
        "clusters/dev-1.yaml": CLUSTER.format(name="dev-1", env="dev"),
        "clusters/prod-1.yaml": CLUSTER.format(name="prod-1", env="prod"),
        "hub/web.yaml": HUB,
        ".pre-commit-config.yaml": PRE_COMMIT,
        ".gitignore": GITIGNORE,
        "README.md": README.format(name=name, repository=SOURCE_REPOSITORY),
    }
    out = {path: text.encode("utf-8") for path, text in found.items()}
    out[".github/workflows/fleetc.yaml"] = workflow
    out.update({f"{SCHEMA_DIR}/{n}": data for n, data in schema_files().items()})
    return out


def existing(folder: Path, names: dict[str, bytes]) -> list[str]:
    """The files ``init`` would overwrite (it never does)."""
    return sorted(path for path in names if (folder / path).exists())


def write(folder: Path, names: dict[str, bytes]) -> None:
    for path, data in names.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
