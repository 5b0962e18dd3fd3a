"""The real rig: dockerd, sshd hosts, registry, nginx, HAProxy, Prometheus,
started on 127.0.0.1 on demand and torn down after.

The demo owns it (``shipdeck demo`` runs on it, from a checkout or an installed
wheel); the integration tests and benchmarks import it from here. Plain Python
that drives real processes: it must never import Textual, the faces or pytest
(a missing component raises ``RigUnavailable``; the tests turn that into a skip),
and it writes only under the work and cache directories it is given, never next
to its own files. ``system-packages.sh`` installs the Debian packages it drives
(``make system``)."""
