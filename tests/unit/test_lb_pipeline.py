"""The install pipeline and the HAProxy runtime ordering, against an in-memory
transport: what is written, checked, reloaded and put back, in which order."""

from __future__ import annotations

from pathlib import Path

import pytest

from engines.errors import EngineOperationFailed, TargetUnreachable
from engines.lb import Backend, LbSettings, TrafficState, make_writer
from engines.lb.haproxy import (
    HaproxyWriter,
    parse_servers_state,
    parse_show_proc,
    render_haproxy,
    runtime_shape,
)
from engines.lb.nginx import render_nginx
from engines.lb.writer import (
    backup_path,
    checker_message,
    replace_argv_path,
    state_from_text,
)

MAIN = Path("/lb/nginx.conf")
CONF_D = Path("/lb/conf.d")
TARGET = CONF_D / "shipdeck-web.conf"


class FakeLb:
    """Files in a dict; commands and socket lines recorded; the LB "serves"
    whatever generation the last reload loaded."""

    def __init__(self, checker_rc: int = 0, checker_err: str = "") -> None:
        self.name = "fake"
        self.files: dict[Path, bytes] = {MAIN: b"http {\n    include /lb/conf.d/*.conf;\n}\n"}
        self.commands: list[list[str]] = []
        self.socket_lines: list[str] = []
        self.checker = (checker_rc, checker_err)
        self.serving: str | None = None
        self.weights: dict[str, dict[str, int]] = {}

    async def read_file(self, path: Path) -> bytes | None:
        return self.files.get(Path(path))

    async def write_file_atomic(self, path: Path, data: bytes) -> None:
        self.files[Path(path)] = data

    async def rename(self, src: Path, dst: Path) -> None:
        self.files[Path(dst)] = self.files.pop(Path(src))

    async def remove(self, path: Path) -> None:
        self.files.pop(Path(path), None)

    async def list_dir(self, path: Path) -> list[str]:
        return sorted(p.name for p in self.files if p.parent == Path(path))

    async def run(self, argv: list[str], timeout_s: float) -> tuple[int, str, str]:
        self.commands.append(argv)
        if "-s" not in argv:  # nginx -t / haproxy -c: the checker
            return self.checker[0], "", self.checker[1]
        installed = state_from_text(self.files[TARGET].decode()) if TARGET in self.files else None
        self.serving = installed.generation() if installed else None
        return 0, "", ""

    async def http_get(
        self, address: str, port: int, path: str, timeout_s: float
    ) -> tuple[int, dict[str, str]]:
        if port >= 9000:  # backends
            return 200, {}
        installed = next(
            (
                state_from_text(data.decode())
                for p, data in self.files.items()
                if p.parent == CONF_D and p.name.startswith("shipdeck-")
            ),
            None,
        )
        if installed is None:
            return 503, {}
        runtime = self.weights.get("shipdeck_web")
        preview = self.weights.get("shipdeck_web_preview")
        if port == installed.preview_port and preview:
            serving = tuple(installed.backend(n) for n, w in preview.items() if w)
        elif port == installed.preview_port:
            serving = installed.preview_backends
        elif runtime:  # HAProxy's runtime weights win over the file
            serving = (installed.backend(max(runtime, key=runtime.__getitem__)),)
        else:
            serving = tuple(sorted(installed.live_backends, key=lambda b: -b.weight_pct))
        release = serving[0].release if serving else ""
        return 200, {"x-shipdeck-release": release, "x-shipdeck-config": self.serving or ""}

    async def socket_command(self, path: Path, command: str, timeout_s: float) -> str:
        self.socket_lines.append(command)
        if command.startswith("show servers state"):
            backend = command.split()[-1]
            rows = "\n".join(
                f"1 {backend} {i} {name} 127.0.0.1 2 0 {w} {w} 0 15 3 4 6 0 0 0 - 900{i} - 0 0 - - 0"
                for i, (name, w) in enumerate(self.weights.get(backend, {}).items())
            )
            return (
                "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state "
                "srv_uweight srv_iweight srv_time_since_last_change srv_check_status "
                "srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id "
                "srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port "
                f"srv_check_addr srv_agent_addr srv_agent_port\n{rows}\n"
            )
        for part in command.split("; "):
            words = part.split()
            if words[:2] == ["set", "server"] and words[3] == "weight":
                backend, _, server = words[2].partition("/")
                self.weights.setdefault(backend, {})[server] = int(words[4])
        return ""


def state(blue_pct: int = 100) -> TrafficState:
    return TrafficState(
        "web",
        "127.0.0.1",
        8080,
        8081,
        (
            Backend("web-1-blue", "127.0.0.1", 9001, "v1", "blue", blue_pct),
            Backend("web-1-green", "127.0.0.1", 9002, "v2", "green", 100 - blue_pct),
        ),
        preview_color="green" if blue_pct else "blue",
    )


def nginx_settings() -> LbSettings:
    return LbSettings(
        name="edge",
        kind="nginx",
        config_dir=CONF_D,
        main_config=MAIN,
        validate_argv=("nginx", "-t", "-c", str(MAIN)),
        reload_argv=("nginx", "-c", str(MAIN), "-s", "reload"),
        verify_timeout_s=0.2,
    )


async def test_nginx_checks_the_full_config_with_the_candidate_staged_before_installing() -> None:
    lb = FakeLb()
    writer = make_writer(nginx_settings(), lb)

    await writer.apply(state())

    check = lb.commands[0]
    staged_main = Path(check[check.index("-c") + 1])
    assert staged_main.parent == MAIN.parent and staged_main != MAIN
    assert lb.commands[1][-2:] == ["-s", "reload"]
    assert lb.files[TARGET].decode() == render_nginx(state())
    assert staged_main not in lb.files  # scratch removed


async def test_a_rejected_config_leaves_the_installed_file_and_reloads_nothing() -> None:
    lb = FakeLb()
    writer = make_writer(nginx_settings(), lb)
    await writer.apply(state())
    installed = lb.files[TARGET]
    lb.checker = (1, 'nginx: [emerg] invalid port in upstream "127.0.0.1:green" in x:3\n')
    lb.commands.clear()

    with pytest.raises(EngineOperationFailed) as rejected:
        await writer.apply(state(0))

    assert rejected.value.cause.endswith(
        '[emerg] invalid port in upstream "127.0.0.1:green" in x:3'
    )
    assert lb.files[TARGET] == installed
    assert not any("reload" in argv for argv in lb.commands)
    assert sorted(p.name for p in lb.files if p.parent == CONF_D) == ["shipdeck-web.conf"]


async def test_a_reload_that_never_takes_effect_puts_the_previous_file_back() -> None:
    lb = FakeLb()
    writer = make_writer(nginx_settings(), lb)
    await writer.apply(state())
    installed = lb.files[TARGET]
    generation = lb.serving

    async def reload_ignored(argv: list[str], timeout_s: float) -> tuple[int, str, str]:
        lb.commands.append(argv)
        return 0, "", ""

    lb.run = reload_ignored  # type: ignore[method-assign]
    with pytest.raises(EngineOperationFailed) as failed:
        await writer.apply(state(0))

    assert "previous config restored" in failed.value.cause
    assert lb.files[TARGET] == installed and lb.serving == generation


async def test_the_replaced_config_is_kept_as_backup() -> None:
    lb = FakeLb()
    writer = make_writer(nginx_settings(), lb)
    await writer.apply(state())
    first = lb.files[TARGET]

    await writer.apply(state(0))

    assert lb.files[backup_path(TARGET)] == first


async def test_haproxy_raises_the_new_weight_before_lowering_the_old_one() -> None:
    lb = FakeLb()
    lb.files[Path("/lb/haproxy.cfg")] = b"global\n"
    target = CONF_D / "shipdeck-web.cfg"
    lb.files[target] = render_haproxy(state(), "/").encode()
    lb.weights = {
        "shipdeck_web": {"web-1-blue": 100, "web-1-green": 0},
        "shipdeck_web_preview": {"web-1-blue": 0, "web-1-green": 1},
    }
    writer = make_writer(
        LbSettings(
            name="edge",
            kind="haproxy",
            config_dir=CONF_D,
            main_config=Path("/lb/haproxy.cfg"),
            validate_argv=("haproxy", "-c", "-f", "/lb/haproxy.cfg", "-f", str(CONF_D)),
            reload_argv=(),
            stats_socket=Path("/lb/admin.sock"),
            master_socket=Path("/lb/master.sock"),
        ),
        lb,
    )
    assert isinstance(writer, HaproxyWriter)

    result = await writer.apply(state(0))

    sets = [line for line in lb.socket_lines if line.startswith("set server")]
    assert result.method == "runtime_api"
    assert len(sets) == 1  # one CLI line, executed in order
    assert sets[0].split("; ") == [
        "set server shipdeck_web/web-1-green weight 100",
        "set server shipdeck_web_preview/web-1-blue weight 1",
        "set server shipdeck_web/web-1-blue weight 0",
        "set server shipdeck_web_preview/web-1-green weight 0",
    ]


def test_only_weights_and_preview_choice_leave_the_haproxy_shape_unchanged() -> None:
    shape = runtime_shape(render_haproxy(state(100), "/"))

    assert runtime_shape(render_haproxy(state(0), "/")) == shape
    assert runtime_shape(render_haproxy(state(95), "/")) == shape
    moved = TrafficState("web", "127.0.0.1", 8090, 8081, state().backends, "green")
    assert runtime_shape(render_haproxy(moved, "/")) != shape
    assert runtime_shape(render_haproxy(state(), "/healthz")) != shape


def test_nginx_keeps_a_weight_zero_backend_as_backup_and_names_releases_by_address() -> None:
    text = render_nginx(state(100))

    assert "server 127.0.0.1:9002 backup" in text
    assert "server 127.0.0.1:9001 weight=100" in text
    assert '"~(^|\\s)127\\.0\\.0\\.1:9002$" "v2";' in text
    assert f"add_header X-Shipdeck-Config {state(100).generation()} always;" in text


def test_the_installed_file_says_which_state_it_renders() -> None:
    assert state_from_text(render_nginx(state(95))) == state(95)
    assert state_from_text(render_haproxy(state(5), "/")) == state(5)


def test_the_checker_message_is_the_line_that_says_what_is_wrong() -> None:
    haproxy = (
        "[NOTICE]   (1) : haproxy version is 2.6.12\n"
        "[ALERT]    (1) : config : [x.cfg:7] : 'server b/s' : invalid character 'g' in port\n"
        "[ALERT]    (1) : config : Fatal errors found in configuration.\n"
    )

    assert "invalid character 'g' in port" in checker_message(1, "", haproxy)
    assert checker_message(2, "", "") == "exited with status 2"


def test_validate_argv_paths_are_replaced_by_the_staged_files() -> None:
    argv = ["haproxy", "-c", "-f", "/lb/main.cfg", "-f", "/lb/conf.d/"]

    staged = replace_argv_path(argv, Path("/lb/conf.d"), ["/lb/conf.d/a.cfg", "/lb/conf.d/.b.next"])

    assert staged == [
        "haproxy", "-c", "-f", "/lb/main.cfg", "-f", "/lb/conf.d/a.cfg", "-f", "/lb/conf.d/.b.next"
    ]  # fmt: skip
    assert replace_argv_path(argv, Path("/elsewhere"), ["x"]) is None


def test_master_show_proc_and_servers_state_are_parsed() -> None:
    proc = (
        "#<PID>          <type>          <reloads>       <uptime>        <version>\n"
        "7501            master          2 [failed: 1]   0d00h20m10s     2.6.12\n"
        "# workers\n"
        "2385            worker          0               0d00h00m00s     2.6.12\n"
        "# old workers\n"
        "7502            worker          1               0d00h20m10s     2.6.12\n"
    )

    assert parse_show_proc(proc) == (2, 1, frozenset({2385}))
    servers = parse_servers_state(
        "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight\n"
        "3 b 1 s1 127.0.0.1 2 0 10\n3 b 2 s2 127.0.0.1 0 8 0\n"
    )
    assert (servers["s1"].usable, servers["s1"].weight) == (True, 10)
    assert servers["s2"].usable is False


async def test_a_probe_of_an_unknown_service_says_nothing_is_installed() -> None:
    writer = make_writer(nginx_settings(), FakeLb())

    with pytest.raises(EngineOperationFailed):
        await writer.probe("shop")


async def test_a_dead_backend_is_reported_by_name_before_anything_is_written() -> None:
    lb = FakeLb()

    async def refused(address: str, port: int, path: str, timeout_s: float) -> tuple[int, dict]:
        raise TargetUnreachable(f"{address}:{port}", "connection refused")

    lb.http_get = refused  # type: ignore[method-assign]
    writer = make_writer(nginx_settings(), lb)

    with pytest.raises(EngineOperationFailed) as refused_error:
        await writer.apply(state())

    assert "web-1-blue" in refused_error.value.target
    assert TARGET not in lb.files and lb.commands == []
