"""kube/objects.py: the object helpers the installer, the cluster lifecycle and the checks share."""

from __future__ import annotations

from kube.objects import (
    condition_status,
    condition_true,
    describe_condition,
    is_deployment,
    items,
    lb_address,
    lb_addresses,
    name_of,
    rollout_status,
    stale_status,
)


def deployment(generation: int, observed: int, updated: int, available: int) -> dict[str, object]:
    return {
        "metadata": {"name": "istiod", "namespace": "external-istiod", "generation": generation},
        "spec": {"replicas": 2},
        "status": {
            "observedGeneration": observed,
            "updatedReplicas": updated,
            "availableReplicas": available,
            "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}],
        },
    }


def test_conditions_names_and_lists() -> None:
    obj = deployment(1, 1, 2, 2)
    assert condition_true(obj, "Available") and condition_status(obj, "Progressing") is None
    assert describe_condition(obj, "Available") == "Available=True (MinimumReplicasAvailable)"
    assert describe_condition(obj, "Ready") == "no Ready condition"
    assert name_of(obj) == "external-istiod/istiod"
    assert items({"kind": "List", "items": [obj]}) == [obj] and items(None) == []


def test_a_rollout_is_done_when_the_latest_spec_is_updated_and_available_everywhere() -> None:
    assert rollout_status(deployment(2, 2, 2, 2)) == (True, "replicas=2 updated=2 available=2")
    assert rollout_status(deployment(2, 1, 2, 2))[0] is False  # the controller has not seen spec 2
    assert rollout_status(deployment(2, 2, 1, 2))[0] is False  # an old pod still serves
    assert is_deployment("deployment.apps/istiod") and not is_deployment("service/istiod")


def test_a_replica_failure_is_part_of_the_rollout_state() -> None:
    """As the first kwok-tier run showed: the wait said "updated=0" while every pod creation was
    refused by the injection webhook; the Deployment's ReplicaFailure condition says why."""
    failing = deployment(1, 1, 0, 0)
    message = (
        'Internal error occurred: failed calling webhook "namespace.sidecar-injector.istio.io": '
        "failed to call webhook: context deadline exceeded"
    )
    failing["status"]["conditions"] = [  # type: ignore[index]
        {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": message}
    ]
    done, state = rollout_status(failing)
    assert not done
    assert state == f"replicas=2 updated=0 available=0; ReplicaFailure: {message}"


def test_a_status_from_an_older_generation_is_stale() -> None:
    obj = deployment(3, 2, 2, 2)
    assert stale_status(obj) == "status.observedGeneration 2 < metadata.generation 3"
    current = deployment(3, 3, 2, 2)
    assert stale_status(current, {"observedGeneration": 1}) == (
        "the condition's observedGeneration 1 < metadata.generation 3"
    )
    assert stale_status(current) == ""


def test_load_balancer_addresses_are_ips_or_hostnames() -> None:
    service = {
        "status": {"loadBalancer": {"ingress": [{}, {"hostname": "lb.example.com"}, {"ip": "172.18.0.200"}]}}
    }
    assert lb_addresses(service) == ["lb.example.com", "172.18.0.200"]
    assert lb_address(service) == "lb.example.com"
    assert lb_address({"status": {}}) is None
