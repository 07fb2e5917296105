"""Will it apply? The pure transition checks (views/transitions), one rule at a time."""

from __future__ import annotations

import copy

import pytest
import yaml
from conftest import REPO, require_crds
from fleetc.core.output_layout import object_path
from fleetc.views import transitions
from fleetc.views.transitions import ERROR, NOT_CHECKED, Obj
from widget_crd import never_shrinking, spec_of, widget_crd_data

README = (REPO / "README.md").read_text(encoding="utf-8")


def _obj(body: dict, cluster: str = "c1") -> Obj:
    """The object where fleetc writes it."""
    return Obj(f"{cluster}/{object_path(Obj('', body).key)}", body)


def _files(bodies: list[dict]) -> dict[str, bytes]:
    return {_obj(b).path: yaml.safe_dump(b).encode() for b in bodies}


def _check(old: list[dict], new: list[dict], crds=None) -> list[transitions.Finding]:
    return transitions.check(_files(old), _files(new), crds)


def _fields(found) -> list[tuple[str, str, str]]:
    return [(f.key, f.field_text, f.severity) for f in found]


DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "app"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1"}]},
        },
    },
}


def _edit(body: dict, path: str, value) -> dict:
    out = copy.deepcopy(body)
    *parents, last = path.split(".")
    target = out
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target.setdefault(part, {})
    if value is None:
        target.pop(last)
    else:
        target[last] = value
    return out


def test_deployment_selector_change_is_refused():
    new = _edit(DEPLOYMENT, "spec.selector", {"matchLabels": {"app": "web2"}})
    (found,) = _check([DEPLOYMENT], [new])
    assert (found.key, found.field_text, found.severity) == (
        "Deployment.apps/app/web",
        "spec.selector",
        ERROR,
    )
    assert found.message == "field is immutable"
    assert "rename the object" in found.hint
    assert found.file == "c1/app/deployment.apps_web.yaml"


def test_deployment_template_and_replicas_may_change():
    new = _edit(DEPLOYMENT, "spec.replicas", 5)
    new = _edit(new, "spec.template.spec.containers", [{"name": "web", "image": "nginx:2"}])
    assert _check([DEPLOYMENT], [new]) == []


SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web", "namespace": "app"},
    "spec": {"clusterIP": "10.0.0.10", "ports": [{"port": 80}], "selector": {"app": "web"}},
}


def test_service_cluster_ip_change_is_refused():
    new = _edit(SERVICE, "spec.clusterIP", "10.0.0.11")
    assert _fields(_check([SERVICE], [new])) == [("Service/app/web", "spec.clusterIP", ERROR)]
    # Leaving it out keeps the allocated address; setting one where none was is refused.
    without = _edit(SERVICE, "spec.clusterIP", None)
    assert _check([SERVICE], [without]) == []
    assert _fields(_check([without], [SERVICE])) == [("Service/app/web", "spec.clusterIP", ERROR)]
    # To and from ExternalName the API server reallocates: allowed.
    external = _edit(_edit(new, "spec.type", "ExternalName"), "spec.externalName", "x.example")
    assert _check([SERVICE], [external]) == []


def test_headless_service_cannot_become_a_load_balancer():
    headless = _edit(SERVICE, "spec.clusterIP", "None")
    lb = _edit(_edit(headless, "spec.clusterIP", None), "spec.type", "LoadBalancer")
    assert _fields(_check([headless], [lb])) == [("Service/app/web", "spec.type", ERROR)]


STATEFULSET = {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "metadata": {"name": "db", "namespace": "app"},
    "spec": {
        "serviceName": "db",
        "replicas": 1,
        "selector": {"matchLabels": {"app": "db"}},
        "template": DEPLOYMENT["spec"]["template"],
        "volumeClaimTemplates": [
            {
                "metadata": {"name": "data"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            }
        ],
    },
}


def test_statefulset_volume_claim_templates_change_is_refused():
    new = _edit(STATEFULSET, "spec.volumeClaimTemplates.0.spec.resources.requests.storage", "2Gi")
    (found,) = _check([STATEFULSET], [new])
    assert (found.field_text, found.severity) == ("spec.volumeClaimTemplates", ERROR)
    assert "may change only in replicas, template" in found.message


def test_statefulset_mutable_fields_and_defaults():
    new = _edit(STATEFULSET, "spec.replicas", 3)
    new = _edit(new, "spec.updateStrategy", {"type": "OnDelete"})
    new = _edit(new, "spec.podManagementPolicy", "OrderedReady")  # the default, made explicit
    assert _check([STATEFULSET], [new]) == []
    parallel = _edit(STATEFULSET, "spec.podManagementPolicy", "Parallel")
    assert _fields(_check([STATEFULSET], [parallel])) == [
        ("StatefulSet.apps/app/db", "spec.podManagementPolicy", ERROR)
    ]


JOB = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "migrate", "namespace": "app"},
    "spec": {"template": DEPLOYMENT["spec"]["template"], "backoffLimit": 2},
}


def test_job_template_change_is_refused():
    new = _edit(JOB, "spec.template.spec.containers", [{"name": "m", "image": "migrate:2"}])
    assert _fields(_check([JOB], [new])) == [("Job.batch/app/migrate", "spec.template", ERROR)]
    assert _check([JOB], [_edit(JOB, "spec.backoffLimit", 4)]) == []


def test_suspended_job_may_change_its_scheduling_directives():
    old = _edit(JOB, "spec.suspend", True)
    new = _edit(old, "spec.template.spec.nodeSelector", {"zone": "a"})
    assert _check([old], [new]) == []
    image = _edit(old, "spec.template.spec.containers", [{"name": "m", "image": "m:2"}])
    assert _fields(_check([old], [image])) == [("Job.batch/app/migrate", "spec.template", ERROR)]


def test_pvc_storage_class_and_shrink_are_refused_growth_is_not():
    pvc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "app"},
        "spec": {
            "storageClassName": "fast",
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "10Gi"}},
        },
    }
    assert _check([pvc], [_edit(pvc, "spec.resources.requests.storage", "20Gi")]) == []
    shrink = _edit(pvc, "spec.resources.requests.storage", "5Gi")
    assert _fields(_check([pvc], [shrink])) == [
        ("PersistentVolumeClaim/app/data", "spec.resources.requests.storage", ERROR)
    ]
    slow = _edit(pvc, "spec.storageClassName", "slow")
    assert _fields(_check([pvc], [slow])) == [
        ("PersistentVolumeClaim/app/data", "spec.storageClassName", ERROR)
    ]
    modes = _edit(pvc, "spec.accessModes", ["ReadWriteMany"])
    assert _fields(_check([pvc], [modes])) == [
        ("PersistentVolumeClaim/app/data", "spec.accessModes", ERROR)
    ]
    # A claim without a class may get one (the retroactive default storage class).
    unset = _edit(pvc, "spec.storageClassName", None)
    assert _check([unset], [pvc]) == []


def test_immutable_configmap_and_secret_data():
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "namespace": "app"},
        "data": {"a": "1"},
    }
    assert _check([cm], [_edit(cm, "data", {"a": "2"})]) == []
    frozen = _edit(cm, "immutable", True)
    changed = _edit(frozen, "data", {"a": "2"})
    assert _fields(_check([frozen], [changed])) == [("ConfigMap/app/cfg", "data", ERROR)]
    secret = {**frozen, "kind": "Secret", "data": {"a": "c2VjcmV0"}}
    new_secret = _edit(secret, "data", {"a": "b3RoZXI="})
    found = _check([secret], [new_secret])
    assert _fields(found) == [("Secret/app/cfg", "data", ERROR)]
    assert not any("c2VjcmV0" in f.message or "b3RoZXI=" in f.message for f in found)
    assert _fields(_check([secret], [_edit(secret, "type", "kubernetes.io/tls")])) == [
        ("Secret/app/cfg", "type", ERROR)
    ]


def test_role_binding_role_ref_is_immutable():
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "b", "namespace": "app"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
        "subjects": [],
    }
    changed = _edit(binding, "roleRef.name", "r2")
    assert _fields(_check([binding], [changed])) == [
        ("RoleBinding.rbac.authorization.k8s.io/app/b", "roleRef", ERROR)
    ]


def test_namespace_move_is_reported_on_the_new_object():
    moved = _edit(DEPLOYMENT, "metadata.namespace", "web")
    (found,) = _check([DEPLOYMENT], [moved])
    assert (found.key, found.field_text) == ("Deployment.apps/web/web", "metadata.namespace")
    assert "moves from namespace app to web" in found.message
    # A rename in the same namespace is not a move.
    renamed = _edit(DEPLOYMENT, "metadata.name", "web2")
    assert _check([DEPLOYMENT], [renamed]) == []


CRD = widget_crd_data(
    spec_of(
        {
            "size": never_shrinking("no shrinking"),
            "url": {
                "type": "string",
                "x-kubernetes-validations": [{"rule": "isURL(self) || self == oldSelf"}],
            },
        }
    )
)
WIDGET = {
    "apiVersion": "example.com/v1",
    "kind": "Widget",
    "metadata": {"name": "w", "namespace": "app"},
    "spec": {"size": 3},
}


def test_crd_removed_while_its_resources_stay():
    (found,) = _check([CRD, WIDGET], [WIDGET])
    assert found.key == "CustomResourceDefinition.apiextensions.k8s.io/widgets.example.com"
    assert "removed from the cluster while 1 of its resources stay rendered" in found.message
    assert "Widget.example.com/app/w" in found.message
    # Removing both, or keeping the CRD, is fine.
    assert _check([CRD, WIDGET], []) == []
    assert _check([CRD, WIDGET], [CRD, WIDGET]) == []


def test_namespace_removed_while_objects_stay_in_it():
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}}
    (found,) = _check([ns, DEPLOYMENT], [DEPLOYMENT])
    assert found.key == "Namespace/app" and "Deployment.apps/app/web" in found.message


def test_cel_transition_rule_of_the_clusters_crd():
    shrunk = _edit(WIDGET, "spec.size", 2)
    (found,) = _check([CRD, WIDGET], [CRD, shrunk])
    assert (found.field_text, found.severity) == ("spec.size", ERROR)
    assert found.message.startswith("no shrinking (CRD transition rule: self >= oldSelf)")
    assert _check([CRD, WIDGET], [CRD, _edit(WIDGET, "spec.size", 4)]) == []


def test_cel_rule_celpy_cannot_evaluate_is_not_checked_never_passed():
    before = _edit(WIDGET, "spec.url", "https://a.example")
    after = _edit(WIDGET, "spec.url", "https://b.example")
    (found,) = _check([CRD, before], [CRD, after])
    assert (found.field_text, found.severity) == ("spec.url", NOT_CHECKED)
    assert "isURL" in found.message


def _bgp_peer_crd() -> dict:
    path = require_crds() / "metallb/metallb.io_bgppeers.yaml"
    if not path.is_file():
        pytest.skip(f"the upstream MetalLB CRDs are not available (looked for {path})")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_cel_transition_rule_of_the_upstream_metallb_bgppeer_crd():
    crd = _bgp_peer_crd()
    peer = {
        "apiVersion": "metallb.io/v1beta2",
        "kind": "BGPPeer",
        "metadata": {"name": "tor", "namespace": "metallb-system"},
        "spec": {
            "myASN": 64500,
            "peerASN": 64501,
            "peerAddress": "10.0.0.1",
            "enableGracefulRestart": False,
        },
    }
    flipped = _edit(peer, "spec.enableGracefulRestart", True)
    (found,) = _check([crd, peer], [crd, flipped])
    assert (found.key, found.field_text, found.severity) == (
        "BGPPeer.metallb.io/metallb-system/tor",
        "spec.enableGracefulRestart",
        ERROR,
    )
    assert "EnableGracefulRestart cannot be changed after creation" in found.message
    # Through --crds (not in the cluster's output) the rule applies the same way.
    external = transitions._own_crds([_obj(crd)])
    assert _fields(_check([peer], [flipped], external)) == _fields([found])
    assert _check([crd, peer], [crd, _edit(peer, "spec.peerASN", 64502)]) == []


def test_every_immutable_rule_is_in_the_readme_table():
    for rule in transitions.IMMUTABLE:
        row = f"| {rule.kind} |"
        assert row in README, rule.kind
        assert rule.source.split(" ")[0] in README, rule.source


def test_unchanged_output_has_no_findings():
    objects = [DEPLOYMENT, SERVICE, STATEFULSET, JOB, CRD, WIDGET]
    assert _check(objects, copy.deepcopy(objects)) == []


def test_only_differing_files_are_compared_and_broken_ones_are_left_out():
    files = {
        "c1/kustomization.yaml": b"resources: []\n",
        "c1/app/deployment.apps_web.yaml": yaml.safe_dump(DEPLOYMENT).encode(),
        "c1/broken.yaml": b"a: [\n",
    }
    changed = _edit(DEPLOYMENT, "spec.selector", {"matchLabels": {"app": "x"}})
    new = {**files, "c1/app/deployment.apps_web.yaml": yaml.safe_dump(changed).encode()}
    new["c1/broken.yaml"] = b"b: [\n"
    assert _fields(transitions.check(files, new)) == [
        ("Deployment.apps/app/web", "spec.selector", ERROR)
    ]
    # A cluster only one side has is not a transition (it is created or removed whole).
    assert transitions.check({}, new) == []
    assert [
        o.key.name for o in transitions.parse("c1/x.yaml", files["c1/app/deployment.apps_web.yaml"])
    ] == ["web"]
    assert transitions.parse("c1/broken.yaml", b"a: [\n") == []


def _kinded(kind: str, api: str, **fields) -> dict:
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": "x", "namespace": "app"},
        **fields,
    }


SIMPLE = {
    "ReplicaSet selector": (
        _kinded("ReplicaSet", "apps/v1", spec={"selector": {"matchLabels": {"a": "1"}}}),
        "spec.selector",
        {"matchLabels": {"a": "2"}},
    ),
    "DaemonSet selector": (
        _kinded("DaemonSet", "apps/v1", spec={"selector": {"matchLabels": {"a": "1"}}}),
        "spec.selector",
        {"matchLabels": {"a": "2"}},
    ),
    "ClusterRoleBinding roleRef": (
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "b"},
            "roleRef": {"kind": "ClusterRole", "name": "a"},
        },
        "roleRef",
        {"kind": "ClusterRole", "name": "b"},
    ),
    "StorageClass parameters": (
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "fast"},
            "provisioner": "csi.example.com",
            "parameters": {"type": "ssd"},
        },
        "parameters",
        {"type": "hdd"},
    ),
    "CRD scope": (
        {**CRD, "spec": {**CRD["spec"], "versions": []}},
        "spec.scope",
        "Cluster",
    ),
    "Service loadBalancerClass": (
        _kinded("Service", "v1", spec={"type": "LoadBalancer", "loadBalancerClass": "a"}),
        "spec.loadBalancerClass",
        "b",
    ),
    "Service primary IP family": (
        _kinded("Service", "v1", spec={"ipFamilies": ["IPv4"]}),
        "spec.ipFamilies",
        ["IPv6"],
    ),
    "Job completions": (
        _kinded("Job", "batch/v1", spec={"completions": 3, "template": {}}),
        "spec.completions",
        4,
    ),
}


@pytest.mark.parametrize("case", sorted(SIMPLE))
def test_each_immutable_rule_fires_on_its_field(case):
    body, field, value = SIMPLE[case]
    new = _edit(body, field, value)
    found = _check([body], [new])
    assert [f.field_text for f in found] in ([field], [field + ".0"]), found
    assert all(f.severity == ERROR for f in found)


def test_reclaim_policy_default_and_elastic_indexed_jobs():
    sc = SIMPLE["StorageClass parameters"][0]
    # Writing out the default reclaimPolicy is no change; another policy is.
    assert _check([sc], [_edit(sc, "reclaimPolicy", "Delete")]) == []
    assert _fields(_check([sc], [_edit(sc, "reclaimPolicy", "Retain")])) == [
        ("StorageClass.storage.k8s.io/fast", "reclaimPolicy", ERROR)
    ]
    job = _kinded(
        "Job",
        "batch/v1",
        spec={"completionMode": "Indexed", "completions": 3, "parallelism": 3, "template": {}},
    )
    scaled = _edit(_edit(job, "spec.completions", 5), "spec.parallelism", 5)
    assert _check([job], [scaled]) == []
