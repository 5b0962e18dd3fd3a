"""Docker-over-SSH latency and fan-out: is talking to 8 hosts about as fast as to 1?

    .venv/bin/python bench/bench_hosts.py [--json] [--rounds N]

Starts the real rig with 8 sshd hosts (sharing one dockerd, as the rig does),
then measures, each as the median of ``--rounds`` rounds:

* ``connect``             — SSH handshake + auth of a fresh pool to one host;
* ``connect + first call`` — the same plus the Docker socket forward and the
  first Docker API call, a container listing (what a cold ``shipdeck status``
  pays per host);
* fan-out over 1 vs 8 hosts of: the cold connect + first call, a warm
  ``list_containers``, and a deploy step (start v1, health-wait, remove).

Target: 8 hosts take under 2x one host (fan-out ratio < 2); the exit status
says whether the cold connect + first call met it.
Caveat: the 8 rig hosts share one dockerd and this machine's CPUs, so the
deploy step's ratio is pessimistic compared with 8 real hosts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from console.demo.rig.rig import Rig, RigHost
from engines.docker_host import ContainerSpec, DockerHost, HealthCheck
from engines.fanout import fan_out
from engines.ssh import SshPool

HOSTS = 8
TARGET_RATIO = 2.0


async def timed(step: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await step()
    return time.perf_counter() - started


async def cold_connect_s(host: RigHost) -> tuple[float, float]:
    """(SSH connect, connect + first Docker call) of a brand-new pool."""
    async with SshPool() as pool:
        connect_s = await timed(lambda: pool.connection(host.ssh_target()))
    async with SshPool() as pool:
        docker_host = DockerHost(host.host_spec(), pool)
        first_call_s = await timed(docker_host.list_containers)
        await docker_host.close()
    return connect_s, first_call_s


async def cold_fan_out_s(hosts: list[RigHost]) -> float:
    async with SshPool() as pool:
        docker_hosts = [DockerHost(host.host_spec(), pool) for host in hosts]
        result = await fan_out(docker_hosts, lambda docker_host: docker_host.list_containers())
        for docker_host in docker_hosts:
            await docker_host.close()
    if not result.all_ok:
        raise RuntimeError(result.describe_failures())
    return result.elapsed_s


async def warm_fan_outs_s(rig: Rig, hosts: list[RigHost], rounds: int) -> dict[str, float]:
    """Median fan-out time of a cheap call and of a deploy step, connections warm."""
    spec = ContainerSpec(
        service="bench",
        release="v1",
        image=rig.digests["v1"],
        container_port=8000,
        host_port=0,
        color="blue",
    )

    async def deploy_step(docker_host: DockerHost) -> None:
        info = await docker_host.start_container(spec)
        await docker_host.wait_healthy(info, HealthCheck(interval_s=0.1))
        await docker_host.remove_container(info, force=True)

    async with SshPool() as pool:
        docker_hosts = [DockerHost(host.host_spec(), pool) for host in hosts]
        warm = await fan_out(docker_hosts, lambda docker_host: docker_host.ensure_image(spec.image))
        if not warm.all_ok:
            raise RuntimeError(warm.describe_failures())
        timings: dict[str, list[float]] = {"list": [], "deploy": []}
        for _ in range(rounds):
            listed = await fan_out(docker_hosts, lambda docker_host: docker_host.list_containers())
            deployed = await fan_out(docker_hosts, deploy_step)
            for result in (listed, deployed):
                if not result.all_ok:
                    raise RuntimeError(result.describe_failures())
            timings["list"].append(listed.elapsed_s)
            timings["deploy"].append(deployed.elapsed_s)
        for docker_host in docker_hosts:
            await docker_host.close()
    return {name: statistics.median(values) for name, values in timings.items()}


async def measure(rig: Rig, rounds: int) -> dict[str, object]:
    singles = [await cold_connect_s(rig.hosts[0]) for _ in range(rounds)]
    results: dict[str, object] = {
        "hosts": len(rig.hosts),
        "rounds": rounds,
        "connect_ms": 1000 * statistics.median(s[0] for s in singles),
        "connect_and_first_docker_call_ms": 1000 * statistics.median(s[1] for s in singles),
    }
    fan_outs: dict[str, dict[str, float]] = {}
    for count in (1, len(rig.hosts)):
        hosts = rig.hosts[:count]
        cold = [await cold_fan_out_s(hosts) for _ in range(rounds)]
        warm = await warm_fan_outs_s(rig, hosts, rounds)
        fan_outs[str(count)] = {
            "cold_connect_and_first_call_ms": 1000 * statistics.median(cold),
            "warm_list_containers_ms": 1000 * warm["list"],
            "deploy_step_ms": 1000 * warm["deploy"],
        }
    one, many = fan_outs["1"], fan_outs[str(len(rig.hosts))]
    results["fan_out"] = fan_outs
    results["ratio"] = {name: many[name] / one[name] for name in one}
    results["target_ratio"] = TARGET_RATIO
    return results


def report(results: dict[str, object]) -> str:
    fan = results["fan_out"]
    ratio = results["ratio"]
    assert isinstance(fan, dict) and isinstance(ratio, dict)
    many = str(results["hosts"])
    lines = [
        f"connect (SSH handshake + auth), 1 host:       {results['connect_ms']:7.1f} ms",
        "connect + first Docker call, 1 host:          "
        f"{results['connect_and_first_docker_call_ms']:7.1f} ms",
        "",
        f"fan-out (median of {results['rounds']})      1 host    {many} hosts   ratio  target",
    ]
    for name, label in (
        ("cold_connect_and_first_call_ms", "connect + first call"),
        ("warm_list_containers_ms", "list containers (warm)"),
        ("deploy_step_ms", "start+health+remove"),
    ):
        verdict = "ok" if ratio[name] < TARGET_RATIO else "MISSED"
        lines.append(
            f"{label:<26} {fan['1'][name]:7.1f} ms {fan[many][name]:7.1f} ms"
            f"  {ratio[name]:5.2f}x  <{TARGET_RATIO:g}x {verdict}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per measurement")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="shipdeck-bench-") as workdir:
        rig = Rig.start(n_hosts=HOSTS, workdir=Path(workdir))
        try:
            results = asyncio.run(measure(rig, args.rounds))
        finally:
            rig.stop()
    print(json.dumps(results, indent=2) if args.json else report(results))
    ratio = results["ratio"]
    assert isinstance(ratio, dict)
    return 0 if ratio["cold_connect_and_first_call_ms"] < TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
