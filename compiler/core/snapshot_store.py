"""Where staged rollouts keep the content of resource snapshots: a folder beside fleet.lock."""

SNAPSHOT_STORE = "fleet.snapshots"
