"""``--topology-mode kwok``: one kwok cluster per role, real control planes without Docker.

The topology plugin's dispatch calls ``clusters.kwok.builder.build_kwok_provider(context)``
(a ``ProviderContext``, clusters/provider.py), which returns a ``KwokProvider``.

- provider.py: the lifecycle (preflight, sweep, provision, teardown) and the builder;
- capabilities.py: what its clusters can do and what every kwok run stands in for;
- config.py: the kwokctl configuration of each role's cluster (pure);
- kwokctl.py: kwokctl inside a cluster's network namespace;
- forward.py: the API server, bound to its namespace's loopback, reached at the namespace's address;
- loadbalancer.py: LoadBalancer addresses (network-namespace hosts), ``host_for(role, ns, name)``;
- preflight.py: root, iproute2, memory, loopback;
- sweep.py: the leftovers of finished earlier runs, and kept cluster sets;
- pilot_binaries.py: which pilot-discovery runs for an istiod image (same Istio source as its istioctl);
- istiod*.py, workloads*.py, pod_sandbox.py: host processes built from what the suite applied;
- stand_ins.py: the external istiods and their gateway; gateway_model.py (what the gateway's Envoy
  would do, from the Gateway/VirtualService/DestinationRule), haproxy_config.py (that, for
  HAProxy), gateway_proxy.py (HAProxy run and reloaded in the gateway's LoadBalancer namespace);
- hostnames.py: the topology's hostname publishing (the clusters' own hosts files).
The network-namespace test hosts themselves are clusters/netns.py, their /etc files clusters/netns_etc.py.
"""
