"""``--topology-mode kind``: kind clusters, LoadBalancers from cloud-provider-kind.

The topology plugin's dispatch calls ``clusters.kind.provider.build_kind_provider(context)``.

- cli.py: the ``kind`` and ``docker`` command adapters;
- config.py: kind cluster configs per role (pure);
- preflight.py: Docker, inotify and memory checks before anything is created;
- lifecycle.py, bringup.py, nodes.py, teardown.py: create, prepare, keep or delete clusters;
- cloud_provider_kind.py, cpk_logs.py: the host's cloud-provider-kind daemon and its logs.
"""
