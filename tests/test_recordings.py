"""wslib.lab.recordings and data/pcaps/: the shipped captures, their manifest, how they are made."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from wslib.lab import recordings, tools
from wslib.lab.recordings import MANIFEST_BEGIN, MANIFEST_END, SCENARIOS, pcap_facts
from wslib.lab.scenario import Scenario, recorded

ROOT = Path(__file__).resolve().parent.parent
PCAPS = ROOT / "data" / "pcaps"
README = PCAPS / "README.md"
MAX_TOTAL = 5 * 1024 * 1024

needs_privileges = pytest.mark.skipif(
    not tools.capture_privileges(), reason="live capture needs root or CAP_NET_RAW"
)
needs_tshark = pytest.mark.skipif(not tools.tshark(), reason="tshark is not installed")


def manifest_files() -> set[str]:
    """Every ``NAME.pcap`` or ``NAME.json`` that a table row of the manifest starts with."""
    return set(
        re.findall(r"^\|\s*`?([\w.-]+\.(?:pcap|json))`?\s*\|", README.read_text(), re.MULTILINE)
    )


def manifest_ports() -> dict[str, int]:
    ports = {}
    for line in README.read_text().splitlines():
        cells = [cell.strip(" `") for cell in line.strip().strip("|").split("|")]
        if cells and cells[0].endswith(".pcap") and len(cells) == 7:
            ports[cells[0]] = int(cells[3])
    return ports


# --- the manifest ---------------------------------------------------------------------------------


def test_every_file_in_the_manifest_exists() -> None:
    listed = manifest_files()
    assert listed, "the manifest lists no capture"
    missing = sorted(name for name in listed if not (PCAPS / name).is_file())
    assert not missing, f"listed in data/pcaps/README.md but absent: {missing}"


def test_every_pcap_is_in_the_manifest() -> None:
    shipped = {
        path.name for path in PCAPS.iterdir() if path.suffix in (".pcap", ".pcapng", ".json")
    }
    unlisted = sorted(shipped - manifest_files())
    assert not unlisted, f"add these to data/pcaps/README.md: {unlisted}"


def test_every_scenario_is_shipped() -> None:
    assert {scenario.file for scenario in SCENARIOS.values()} <= manifest_files()


def test_the_captures_stay_small() -> None:
    total = sum(path.stat().st_size for path in PCAPS.iterdir() if path.is_file())
    assert total < MAX_TOTAL, f"data/pcaps/ holds {total:,} bytes, over 5 MB"


def test_the_generated_table_matches_the_files() -> None:
    """Ports, packet counts and sizes in the manifest are those of the files on disk."""
    text = README.read_text()
    assert text.count(MANIFEST_BEGIN) == 1 and text.count(MANIFEST_END) == 1
    generated = text.split(MANIFEST_BEGIN)[1].split(MANIFEST_END)[0].strip().splitlines()
    assert generated == recordings.manifest_rows(PCAPS)


def test_the_manifest_gives_the_regeneration_command() -> None:
    text = README.read_text()
    assert ".venv/bin/python -m wslib.lab.recordings\n" in text
    for name in SCENARIOS:
        assert f"`.venv/bin/python -m wslib.lab.recordings {name}`" in text


# --- what the shipped files hold (read with scapy: no privileges needed) --------------------------


# TCP connections in each capture, where it is not one: two HTTP/1.0 requests; nginx's two legs;
# notebook 07's minute of polling opens hundreds (None: not counted here, see test_polling.py).
CONNECTIONS: dict[str, int | None] = {
    "http10-123-456": 2,
    "nginx-both-legs": 2,
    "nginx-tls-both-legs": 2,
    "idle-timeout-kill": 2,
    "heartbeat-keeps-alive": 2,
    "polling-vs-websocket": None,
    # Every leg and Redis connection, plus the start-up probes (each "does it accept yet?").
    "cluster-path": None,
    "deflate-chat": 3,  # notebook 11: no compression, deflate, deflate without context takeover
}


def segments(name: str) -> list[object]:
    from scapy.layers.inet import TCP
    from scapy.utils import rdpcap

    return [packet[TCP] for packet in rdpcap(str(PCAPS / name)) if TCP in packet]


@pytest.mark.parametrize(
    ("name", "connections"),
    [(s.file, CONNECTIONS.get(name, 1)) for name, s in SCENARIOS.items() if s.suffix == ".pcap"],
)
def test_each_capture_has_its_connections_each_packet_once(
    name: str, connections: int | None
) -> None:
    facts = pcap_facts(PCAPS / name)
    if connections is not None:
        assert facts["connections"] == connections
    assert facts["port"] == manifest_ports()[name]
    keys = [(s.sport, s.dport, s.seq, s.ack, str(s.flags), len(s.payload)) for s in segments(name)]
    assert len(keys) == len(set(keys)), "a packet appears twice"


def test_close_abnormal_ends_with_a_reset_and_no_fin() -> None:
    flags = [segment.flags for segment in segments("close-abnormal.pcap")]
    assert any(f.R for f in flags) and not any(f.F for f in flags)


@pytest.mark.parametrize("name", ["close-clean.pcap", "echo-123-456.pcap"])
def test_clean_closes_end_with_two_fins_and_no_reset(name: str) -> None:
    flags = [segment.flags for segment in segments(name)]
    assert sum(1 for f in flags if f.F) == 2 and not any(f.R for f in flags)


def tshark_frames(path: Path, port: int) -> list[list[str]]:
    fields = ["websocket.opcode", "websocket.mask", "websocket.payload_length"]
    fields += ["websocket.payload_length_ext_64", "websocket.payload.text"]
    fields += ["websocket.payload.close.status_code", "websocket.payload.close.reason"]
    command = ["tshark", "-r", str(path), "-d", f"tcp.port=={port},http", "-Y", "websocket"]
    command += ["-T", "fields"] + [arg for field in fields for arg in ("-e", field)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [line.split("\t") for line in result.stdout.splitlines()]


@needs_tshark
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # (opcode, mask, length or 64-bit length, text, close code, close reason)
        (
            "echo-123-456.pcap",
            [
                ("1", "1", "3", "123", "", ""),
                ("1", "0", "3", "123", "", ""),
                ("1", "1", "3", "456", "", ""),
                ("1", "0", "3", "456", "", ""),
                ("8", "1", "2", "", "1000", ""),
                ("8", "0", "2", "", "1000", ""),
            ],
        ),
        (
            "close-clean.pcap",
            [
                ("1", "1", "5", "hello", "", ""),
                ("1", "0", "5", "hello", "", ""),
                ("8", "1", "16", "", "1000", "done for today"),
                ("8", "0", "16", "", "1000", "done for today"),
            ],
        ),
        (
            "close-abnormal.pcap",
            [("1", "1", "5", "hello", "", ""), ("1", "0", "5", "hello", "", "")],
        ),
    ],
)
def test_tshark_sees_the_frames(name: str, expected: list[tuple[str, ...]]) -> None:
    rows = tshark_frames(PCAPS / name, manifest_ports()[name])
    got = [
        (op, mask, ext64 or length, text, code, reason)
        for op, mask, length, ext64, text, code, reason in rows
    ]
    assert got == expected


@needs_tshark
def test_tshark_sees_the_64_bit_length_and_the_ping_between_fragments() -> None:
    big = tshark_frames(PCAPS / "big-message.pcap", manifest_ports()["big-message.pcap"])
    assert [(row[0], row[2], row[3]) for row in big[:2]] == [("1", "127", "70000")] * 2
    fragmented = tshark_frames(
        PCAPS / "fragmented-ping.pcap", manifest_ports()["fragmented-ping.pcap"]
    )
    assert [row[0] for row in fragmented] == ["1", "9", "10", "0", "0", "1", "8", "8"]


@needs_tshark
def test_keepalive_pings_are_each_answered() -> None:
    rows = tshark_frames(PCAPS / "keepalive-idle.pcap", manifest_ports()["keepalive-idle.pcap"])
    opcodes = [row[0] for row in rows]
    pings = opcodes.count("9")
    assert pings >= 10 and opcodes.count("10") == pings
    assert all(row[1] == "0" for row in rows if row[0] == "9")  # the server pings, unmasked


# --- the results shipped as JSON (what a capture cannot hold) -----------------------------------

RESULTS = [scenario for scenario in SCENARIOS.values() if scenario.suffix == ".json"]


@pytest.mark.parametrize("scenario", RESULTS, ids=lambda scenario: scenario.file)
def test_each_result_file_says_how_it_was_made(scenario: Scenario) -> None:
    data = recorded(scenario.name, PCAPS)
    assert data["name"] == scenario.name
    assert data["shows"] == scenario.shows and data["made"] == scenario.made
    assert data["regenerate"] == f".venv/bin/python -m wslib.lab.recordings {scenario.name}"
    assert data["tools"]["nginx"].startswith("nginx version")
    assert data["results"]


def test_the_recorded_broken_recipes_are_the_measured_statuses() -> None:
    from wslib.exercises.nb08 import MEASURED_STATUS
    from wslib.lab.proxy import BROKEN

    rows = recorded("nginx-broken-recipes", PCAPS)["results"]["variants"]
    assert [row["variant"] for row in rows] == [*BROKEN, None]  # the full recipe last
    assert {row["variant"]: row["status"] for row in rows[:-1]} == MEASURED_STATUS
    assert rows[-1]["status"] == 101
    assert all(row["server"].startswith("nginx") for row in rows)


def test_the_recorded_idle_runs_are_the_articles() -> None:
    results = recorded("idle-timeouts", PCAPS)["results"]
    quiet, server, client = (results[k] for k in ("quiet", "server heartbeat", "client heartbeat"))
    assert quiet["idle_timeout"] == 10 and quiet["server_code"] == 1006
    assert 9.5 <= quiet["lived"] <= 11.5
    assert server["lived"] is None and server["pings"] >= 3 and server["server_code"] == 1000
    assert client["open at the end"] and client["pongs"] >= 3
    pongs = [t for t, event in client["timeline"] if event == "pong"]
    assert len(pongs) == client["pongs"]
    # no silence as long as the timeout: a pong at least every idle timeout
    assert all(b - a < client["idle_timeout"] for a, b in zip([0.0, *pongs], pongs, strict=False))


# --- recording ------------------------------------------------------------------------------------


@needs_privileges
def test_recording_a_scenario_writes_the_file_and_its_manifest(tmp_path: Path) -> None:
    written = recordings.record(["echo-123-456"], directory=tmp_path, log=None)
    assert written == [tmp_path / "echo-123-456.pcap"]
    facts = pcap_facts(written[0])
    assert facts["connections"] == 1 and facts["packets"] >= 14
    readme = (tmp_path / "README.md").read_text()
    assert f"| {facts['port']} | {facts['packets']} |" in readme
    # A second run replaces the generated table instead of adding another one.
    recordings.record(["close-abnormal"], directory=tmp_path, log=None)
    readme = (tmp_path / "README.md").read_text()
    assert readme.count(MANIFEST_BEGIN) == 1
    assert "`echo-123-456.pcap`" in readme and "`close-abnormal.pcap`" in readme
    if tools.tshark():
        rows = tshark_frames(written[0], facts["port"])
        assert [row[4] for row in rows if row[0] == "1"] == ["123", "123", "456", "456"], rows


@needs_privileges
def test_a_short_keepalive_recording_has_pings_and_pongs(tmp_path: Path) -> None:
    cap = recordings.keepalive_idle(idle=1.2, interval=0.5)
    path = cap.write(tmp_path / "keepalive.pcap")
    if tools.tshark():
        rows = tshark_frames(path, pcap_facts(path)["port"])
        opcodes = [row[0] for row in rows]
        assert opcodes.count("9") >= 2 and opcodes.count("9") == opcodes.count("10")


@pytest.mark.skipif(not tools.nginx(), reason="nginx is not installed")
def test_recording_results_writes_json_and_its_manifest_row(tmp_path: Path) -> None:
    written = recordings.record(["nginx-broken-recipes"], directory=tmp_path, log=None)
    assert written == [tmp_path / "nginx-broken-recipes.json"]
    data = recorded("nginx-broken-recipes", tmp_path)
    shipped = recorded("nginx-broken-recipes", PCAPS)
    # the same table as the shipped one (the nginx version aside)
    strip = [{k: v for k, v in row.items() if k != "server"} for row in data["results"]["variants"]]
    want = [
        {k: v for k, v in row.items() if k != "server"} for row in shipped["results"]["variants"]
    ]
    assert strip == want
    readme = (tmp_path / "README.md").read_text()
    assert "| `nginx-broken-recipes.json` |" in readme and "| — | — |" in readme


def test_an_unknown_scenario_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        recordings.record(["no-such-capture"], directory=tmp_path, log=None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "wslib.lab.recordings",
            "no-such-capture",
            "--directory",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "no scenario 'no-such-capture'" in result.stderr
    assert not list(tmp_path.iterdir())


def test_the_list_option_names_every_scenario() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wslib.lab.recordings", "--list"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert [line.split()[0] for line in result.stdout.splitlines()] == list(SCENARIOS)
