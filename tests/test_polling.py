"""The polling experiment: real servers and clients for five strategies, measured from captures."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import pytest

from wslib.lab import polling, tools
from wslib.lab.dissect import PcapError, conversations
from wslib.lab.polling import (
    POLLING,
    STRATEGIES,
    Config,
    Job,
    Measurement,
    Run,
    connections_opened,
    experiment_configs,
    measure,
    polling_bytes_per_notification,
    run,
    select,
)

needs_privileges = pytest.mark.skipif(
    not tools.capture_privileges(), reason="live capture needs root or CAP_NET_RAW"
)

# A small job: three pieces of news, 0.3 s apart on average; polls every 0.2 s.
JOB = Job(steps=3, mean_gap=0.3, seed=11)
INTERVAL = 0.2
# How late a client may be on a loaded machine (2 cores shared with other work): a generous upper
# bound that only rules out "never" and mismatched pairs, not a claim about speed.
SLACK_S = 2.0


def small_configs() -> list[Config]:
    configs = [Config(s, INTERVAL, job=JOB, tasks=1) for s in STRATEGIES]
    configs.append(Config("keepalive", INTERVAL, browser=True, job=JOB, tasks=1))
    return configs


# --- tasks and configurations ---------------------------------------------------------------------


def test_job_schedule_is_seeded_increasing_and_bounded() -> None:
    job = Job(steps=50, mean_gap=0.5, seed=3)
    offsets = job.offsets()
    assert offsets == Job(steps=50, mean_gap=0.5, seed=3).offsets()
    assert offsets != Job(steps=50, mean_gap=0.5, seed=4).offsets()
    assert len(offsets) == 50
    gaps = [b - a for a, b in zip([0.0, *offsets], offsets, strict=False)]
    assert all(0 < gap <= 3 * 0.5 + 1e-9 for gap in gaps)
    assert 0.3 < sum(gaps) / len(gaps) < 0.7  # a mean near mean_gap


def test_job_json_round_trip() -> None:
    assert Job.from_json(JOB.to_json()) == JOB


@pytest.mark.parametrize("config", small_configs(), ids=lambda c: c.label)
def test_label_round_trip(config: Config) -> None:
    strategy, interval, browser = Config.parse_label(config.label)
    assert strategy == config.strategy and browser == config.browser
    assert interval == (config.interval if config.strategy in POLLING else None)


def test_unknown_strategy_and_label_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown strategy"):
        Config("carrier-pigeon")
    with pytest.raises(ValueError, match="not a configuration label"):
        Config.parse_label("favicon.ico")


def test_experiment_configs_have_each_configuration_once() -> None:
    configs = experiment_configs()
    assert len(configs) == len(set(configs))
    assert {c.strategy for c in configs} == set(STRATEGIES)
    assert any(c.browser for c in configs)


# --- the servers and clients, without capture -----------------------------------------------------


@pytest.mark.timeout(30)
def test_every_strategy_delivers_every_event() -> None:
    before = set(threading.enumerate())
    result = run(small_configs(), 0.1, captured=False)
    assert result.errors == []
    for port, config in result.configs.items():
        (log,) = result.logs[port]
        assert len(log.tasks) == 1
        assert sorted(log.known) == [(log.tasks[0], step) for step in (1, 2, 3)], config.label
        # the server handled what the client sent (WebSocket: the one upgrade)
        assert result.requests[port] == log.requests, config.label
    threading.Event().wait(0.2)
    assert set(threading.enumerate()) <= before, "threads left running"


# --- measured from a real capture -----------------------------------------------------------------


@pytest.fixture(scope="module")
def captured() -> tuple[Run, list[Measurement]]:
    if not tools.capture_privileges():
        pytest.skip("live capture needs root or CAP_NET_RAW")
    result = run(small_configs(), 0.1)
    assert result.errors == []
    assert result.capture.dropped in (0, None)
    return result, measure(result.packets)


def by_label(measurements: list[Measurement], label: str) -> Measurement:
    (found,) = [m for m in measurements if m.label == label]
    return found


@needs_privileges
@pytest.mark.timeout(30)
def test_counts_match_each_strategy(captured: tuple[Run, list[Measurement]]) -> None:
    result, measurements = captured
    assert {m.port for m in measurements} == set(result.configs)
    for m in measurements:
        (log,) = result.logs[m.port]
        assert m.requests == result.requests[m.port] == log.requests, m.label
        assert m.connections == log.connections, m.label
        assert len(m.events) == m.notifications == JOB.steps, m.label
    short = by_label(measurements, f"short-{INTERVAL:g}s")
    assert short.connections == short.requests  # HTTP/1.0: one connection per request
    assert short.connections == connections_opened("short", short.requests - 1)
    for label in (f"keepalive-{INTERVAL:g}s", "long", "sse", "websocket"):
        m = by_label(measurements, label)
        assert m.connections == 1 == connections_opened(m.strategy, m.requests - 1), label
    long = by_label(measurements, "long")
    assert long.requests == JOB.steps + 1  # the submission, then one held request per event
    assert by_label(measurements, "sse").requests == 2  # the submission and the stream
    assert by_label(measurements, "websocket").requests == 1  # the upgrade
    # Three packets open each connection: at least that many per connection.
    assert short.packets >= 3 * short.connections


@needs_privileges
@pytest.mark.timeout(30)
def test_bytes_split_adds_up(captured: tuple[Run, list[Measurement]]) -> None:
    result, measurements = captured
    convs = conversations(result.packets, http=True)
    for m in measurements:
        # IPv4 and TCP headers: 20 bytes each at least, 60 each at most.
        assert 40 * m.packets <= m.tcpip <= 120 * m.packets, m.label
        mine = [c for c in convs if c.server.port == m.port]
        if m.strategy in ("short", "keepalive", "long"):
            bodies = sum(
                int(msg.headers.get("Content-Length") or 0) for c in mine for msg in c.http_messages
            )
            assert m.framing == 0 and m.payload == bodies, m.label
        if m.strategy == "websocket":
            # frame headers, and the close frames' codes (wslib.lab.bill: control frames)
            closes = sum(f.length for c in mine for f in c.frames if f.opcode.is_control)
            assert m.framing == sum(c.framing_bytes for c in mine) + closes > 0
        if m.strategy == "sse":
            assert m.framing > 0  # "id:", "event:", "data:" and the empty lines
    plain = by_label(measurements, f"keepalive-{INTERVAL:g}s")
    browser = by_label(measurements, f"keepalive-browser-{INTERVAL:g}s")
    assert browser.http > plain.http + 500 * (browser.requests - 1)  # ~700 B more per request


@needs_privileges
@pytest.mark.timeout(30)
def test_a_request_head_and_its_body_leave_in_one_segment(
    captured: tuple[Run, list[Measurement]],
) -> None:
    # http.client writes a POST's head and body separately: two segments where a browser sends
    # one, an extra packet counted against polling. Every submission must arrive whole.
    from scapy.layers.inet import TCP

    posts = [bytes(p[TCP].payload) for p in captured[0].packets if TCP in p]
    posts = [data for data in posts if data.startswith(b"POST ")]
    assert len(posts) == 5  # one submission per HTTP configuration
    for data in posts:
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        assert length > 0 and len(body) == length, data


def test_run_reports_its_progress() -> None:
    calls: list[tuple[float, int, int]] = []
    configs = [Config("long", job=Job(steps=2, mean_gap=0.6, seed=3), tasks=1)]
    result = run(configs, 0.0, captured=False, progress=lambda *a: calls.append(a))
    assert result.errors == []
    assert calls, "no progress reported during a run of about a second"
    assert all(total == 1 and 0 <= running <= 1 and t >= 0 for t, running, total in calls)
    assert [t for t, _, _ in calls] == sorted(t for t, _, _ in calls)


@needs_privileges
@pytest.mark.timeout(30)
def test_latency_from_capture_agrees_with_the_clients(
    captured: tuple[Run, list[Measurement]],
) -> None:
    result, measurements = captured
    for m in measurements:
        (log,) = result.logs[m.port]
        client_times = sorted(log.known.values())
        assert len(client_times) == len(m.known)
        for seen, packet in zip(client_times, sorted(m.known), strict=True):
            # The packet is captured a little before the client has read and parsed it. On a
            # loaded machine the client may read it much later: the upper bound only says "it
            # arrived", generously; the counts above already pair each news with its packet.
            assert -0.002 <= seen - packet < SLACK_S, m.label
        assert all(latency >= 0 for latency in m.latencies), m.label
        if m.strategy in POLLING:
            assert max(m.latencies) < INTERVAL + SLACK_S, m.label
        else:
            assert max(m.latencies) < SLACK_S, m.label


@needs_privileges
@pytest.mark.timeout(30)
def test_measure_reads_the_written_pcap_the_same(
    captured: tuple[Run, list[Measurement]], tmp_path: Path
) -> None:
    result, measurements = captured
    path = result.write(tmp_path / "run.pcap")
    again = measure(path)
    assert [m.row() for m in again] == [m.row() for m in measurements]


def test_measure_of_no_packets_is_empty() -> None:
    assert measure([]) == []


def test_measure_a_missing_file() -> None:
    with pytest.raises(PcapError):
        measure(Path("/nonexistent/polling.pcap"))


# --- the models the exercises use -----------------------------------------------------------------


def test_polling_bytes_per_notification() -> None:
    assert polling_bytes_per_notification(500, 1.0, 0.25) == 2000  # 4 polls per piece of news
    assert polling_bytes_per_notification(500, 0.5, 1.0) == 1000
    assert polling_bytes_per_notification(500, 4.0, 1.0) == 125  # one poll tells 4 events
    with pytest.raises(ValueError):
        polling_bytes_per_notification(500, 0, 1)


def test_connections_opened() -> None:
    assert connections_opened("short", 10) == 11
    assert [connections_opened(s, 10) for s in STRATEGIES[1:]] == [1, 1, 1, 1]
    with pytest.raises(ValueError):
        connections_opened("smoke-signals", 1)


# --- the shipped recording ------------------------------------------------------------------------

RECORDING = polling.recording_path()


@pytest.mark.timeout(30)
def test_the_shipped_recording_measures_consistently() -> None:
    assert RECORDING.exists(), f"{RECORDING.name} is committed in data/pcaps/"
    measurements = measure(RECORDING)
    assert {m.label for m in measurements} == {c.label for c in polling.RECORDING_CONFIGS}
    finish = [m for m in measurements if m.job is not None and m.job.steps == 1]
    assert {m.label for m in finish} >= {"short-1s", "long", "sse", "websocket"}
    for m in measurements:
        assert m.notifications >= len(m.events) - 3 * 2, m.label  # tasks cut by the end
        assert m.latencies and min(m.latencies) >= 0, m.label
        bound = (m.interval or 0) + 0.1 if m.strategy in POLLING else 0.1
        assert max(m.latencies) < bound, m.label
        assert not math.isnan(m.bytes_per_notification)
    ws = select(measurements, "websocket", job=polling.FINISH_JOB)
    assert ws.connections == ws.requests == 3  # one per client, for the whole minute
    short = select(measurements, "short", interval=1.0, job=polling.FINISH_JOB)
    assert short.connections == short.requests
    assert RECORDING.stat().st_size < 2_000_000


@pytest.mark.timeout(30)
def test_a_reused_client_port_starts_a_new_span() -> None:
    # HTTP/1.0 polling: the server closes first, so the OS hands the client's port out again; a
    # connection is a span from its SYN, not everything one client port ever sent (07's timeline
    # drew 50-second bars where there were only short connections).
    for m in measure(RECORDING):
        assert len(m.spans) == m.connections, m.label
    short = select(measure(RECORDING), "short", interval=1.0, job=polling.FINISH_JOB)
    assert max(b - a for a, b in short.spans) < 1.0  # each poll a short connection


def test_scenario_for_the_recordings_module() -> None:
    from wslib.lab.recordings import Scenario

    scenarios = polling.SCENARIOS
    assert list(scenarios) == ["polling-vs-websocket"]
    (scenario,) = scenarios.values()
    assert isinstance(scenario, Scenario) and scenario.run is polling.record_scenario
