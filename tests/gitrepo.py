"""Real git repositories in temporary folders, for the GitOps loop tests."""

from __future__ import annotations

import git
from conftest import FleetDir

APP_PLACEMENT = """
apiVersion: fleetc.io/v1alpha1
kind: Fleet
metadata:
  name: demo
spec:
  placements:
    - name: baseline
      resourceSelectors:
        - {group: "", version: v1, kind: Namespace, name: base}
      policy:
        placementType: PickAll
    - name: app
      resourceSelectors:
        - {group: "", version: v1, kind: Namespace, name: app}
      policy:
        affinity:
          clusterAffinity:
            requiredDuringSchedulingIgnoredDuringExecution:
              clusterSelectorTerms:
                - labelSelector:
                    matchLabels: {env: prod}
"""

HUB = """
apiVersion: v1
kind: Namespace
metadata:
  name: base
---
apiVersion: v1
kind: Namespace
metadata:
  name: app
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: app
data:
  color: blue
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: app
  annotations:
    # Plain on purpose: the diff must redact it (fleetc refuses plain Secrets without this).
    fleetc.io/allow-plain-secret: "true"
    kubectl.kubernetes.io/last-applied-configuration: '{"stringData":{"password":"hunter2-old"}}'
stringData:
  password: hunter2-old
  user: admin
"""


class GitFleet(FleetDir):
    """A fleet in a git repository, committed step by step."""

    def __init__(self, root) -> None:
        super().__init__(root)
        self.repo = git.Repo.init(root, initial_branch="main")
        with self.repo.config_writer() as config:
            config.set_value("user", "name", "Test")
            config.set_value("user", "email", "test@example.com")
            config.set_value("commit", "gpgsign", "false")

    def commit(self, message: str) -> str:
        self.repo.git.add("--all")
        self.repo.git.commit("--quiet", "--allow-empty", "-m", message)
        return self.repo.head.commit.hexsha

    def state(self) -> tuple[str, str, bytes]:
        """Working tree status, stash list and raw index: what diff must never change."""
        index = (self.root / ".git" / "index").read_bytes()
        return self.repo.git.status("--porcelain"), self.repo.git.stash("list"), index


def demo_fleet(root) -> GitFleet:
    fleet = GitFleet(root)
    fleet.write("fleet.yaml", APP_PLACEMENT)
    fleet.write("hub/app.yaml", HUB)
    fleet.cluster("c1", {"env": "prod"})
    fleet.cluster("c2", {"env": "prod"})
    fleet.cluster("c3", {"env": "dev"})
    fleet.commit("fleet")
    return fleet
