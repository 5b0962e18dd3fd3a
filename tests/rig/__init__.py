"""The real test rig: dockerd, sshd hosts, registry, nginx, HAProxy, Prometheus,
started on 127.0.0.1 on demand and torn down after. Used by integration tests,
benchmarks and the demo."""
