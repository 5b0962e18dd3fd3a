"""The demo web app shipdeck deploys in tests, benchmarks and `make demo`.

Stdlib only, so it runs on the tiny offline base image. Behaviour is set by
environment variables, so one image can play a healthy or a broken release:

- ``VERSION``           the release name it reports (default ``dev``)
- ``ERROR_RATE``        fraction 0..1 of ``/`` requests answered with 500
- ``EXTRA_LATENCY_MS``  added to every ``/`` request
- ``HEALTHY``           ``false`` makes ``/healthz`` answer 503

``/version`` answers ``version=…`` and is never slowed or failed: a smoke test
of a release that fails 1% of ``/`` on purpose must not fail 1% of deploys.
- ``PORT``              listen port (default 8000)

It must never block on one slow client: a threading server with a large
backlog (the default backlog of 5 drops SYNs under load) and Nagle disabled
(headers and body as two writes otherwise cost 40 ms per request).
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BUCKETS_S = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)


class Metrics:
    """Prometheus counters and a latency histogram, guarded by one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests_by_code: dict[str, int] = {}
        self.bucket_counts = [0] * len(BUCKETS_S)
        self.duration_count = 0
        self.duration_sum_s = 0.0
        self.checkouts = 0

    def observe(self, code: int, duration_s: float, checkout: bool) -> None:
        with self._lock:
            key = str(code)
            self.requests_by_code[key] = self.requests_by_code.get(key, 0) + 1
            for index, bound in enumerate(BUCKETS_S):
                if duration_s <= bound:
                    self.bucket_counts[index] += 1
            self.duration_count += 1
            self.duration_sum_s += duration_s
            if checkout:
                self.checkouts += 1

    def render(self, version: str) -> str:
        with self._lock:
            lines = [
                "# HELP http_requests_total Requests served, by status code.",
                "# TYPE http_requests_total counter",
            ]
            for code, count in sorted(self.requests_by_code.items()):
                lines.append(f'http_requests_total{{code="{code}",version="{version}"}} {count}')
            lines += [
                "# HELP http_request_duration_seconds Request latency.",
                "# TYPE http_request_duration_seconds histogram",
            ]
            for bound, count in zip(BUCKETS_S, self.bucket_counts, strict=True):
                lines.append(
                    f'http_request_duration_seconds_bucket{{le="{bound}",version="{version}"}} {count}'
                )
            lines.append(
                f'http_request_duration_seconds_bucket{{le="+Inf",version="{version}"}} {self.duration_count}'
            )
            lines.append(
                f'http_request_duration_seconds_sum{{version="{version}"}} {self.duration_sum_s:.6f}'
            )
            lines.append(
                f'http_request_duration_seconds_count{{version="{version}"}} {self.duration_count}'
            )
            lines += [
                "# HELP checkouts_total Completed checkouts (a business metric).",
                "# TYPE checkouts_total counter",
                f'checkouts_total{{version="{version}"}} {self.checkouts}',
                "",
            ]
            return "\n".join(lines)


class Settings:
    """The behaviour knobs, read once at start."""

    def __init__(self, env: dict[str, str]) -> None:
        self.version = env.get("VERSION", "dev")
        self.error_rate = float(env.get("ERROR_RATE", "0") or 0)
        self.extra_latency_s = float(env.get("EXTRA_LATENCY_MS", "0") or 0) / 1000.0
        self.healthy = env.get("HEALTHY", "true").lower() not in ("false", "0", "no")
        self.port = int(env.get("PORT", "8000"))


def make_handler(settings: Settings, metrics: Metrics) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "shipdeck-demo"

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: object) -> None:
            return

        def _send(self, code: int, body: str, content_type: str = "text/plain") -> None:
            payload = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("X-App-Version", settings.version)
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                if settings.healthy:
                    self._send(200, "ok\n")
                else:
                    self._send(503, "unhealthy\n")
                return
            if path == "/version":  # for smoke tests: never slowed, never failed on purpose
                self._send(200, f"version={settings.version}\n")
                return
            if path == "/metrics":
                self._send(200, metrics.render(settings.version), "text/plain; version=0.0.4")
                return
            started = time.perf_counter()
            if settings.extra_latency_s:
                time.sleep(settings.extra_latency_s)
            failed = random.random() < settings.error_rate
            code = 500 if failed else 200
            checkout = not failed and path.startswith("/checkout")
            body = f"version={settings.version}\n" if not failed else "internal error\n"
            self._send(code, body)
            metrics.observe(code, time.perf_counter() - started, checkout)

    return Handler


class DemoServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True


def main() -> None:
    settings = Settings(dict(os.environ))
    metrics = Metrics()
    server = DemoServer(("0.0.0.0", settings.port), make_handler(settings, metrics))
    server.serve_forever()


if __name__ == "__main__":
    main()
