"""Differential test: wslib's dissection equals Wireshark's (tshark) on the same captures.

For every capture in data/pcaps/, and for synthetic captures that hold the hard TCP cases
(several frames per segment, a frame split over segments, segments out of order, sent twice, a
64-bit length), every WebSocket frame that tshark's dissector reports must match the frame
wslib decodes: packet number, tcp.stream, opcode, FIN, MASK, payload length, text, close code
and reason, ping/pong payload. tshark is told that the server's port speaks HTTP (``-d
tcp.port==PORT,http``), since a random port is not one Wireshark recognises on its own.
A ``wss://`` capture ships with its key log (``NAME.keys``): both sides decrypt with it
(tshark's ``tls.keylog_file``; its TLS port is decoded as ``tls``, then ``http`` inside).
"""

from __future__ import annotations

import json
import random
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from wslib import Frame, Opcode
from wslib.lab.dissect import Conversation, conversations

from .conftest import ROOT
from .test_dissect import Wire, deflate_session, echo_session, masked, stream_session

TSHARK = shutil.which("tshark")
pytestmark = pytest.mark.skipif(
    TSHARK is None,
    reason="tshark is not installed (Debian: apt-get install tshark; macOS: brew install "
    "wireshark); CI installs it",
)

PCAPS = sorted((ROOT / "data" / "pcaps").glob("*.pcap"))
BIG = 1 << 24  # keep whole payloads: tshark shows them whole


def keylog_for(path: Path) -> Path | None:
    """The key log shipped beside a wss:// capture (``NAME.keys``), if any."""
    keys = path.with_suffix(".keys")
    return keys if keys.exists() else None


def decode_as(
    path: Path, ports: set[int], tls_ports: set[int] | frozenset[int] = frozenset()
) -> list[str]:
    """tshark's options: HTTP on ``ports``; TLS then HTTP on ``tls_ports``, with the key log."""
    options = []
    for port in sorted(ports - tls_ports):
        options += ["-d", f"tcp.port=={port},http"]
    for port in sorted(tls_ports):
        options += ["-d", f"tcp.port=={port},tls", "-d", f"tls.port=={port},http"]
    keylog = keylog_for(path)
    if keylog is not None:
        options += ["-o", f"tls.keylog_file:{keylog}"]
    return options


def tls_ports(convs: list[Conversation]) -> set[int]:
    return {c.server.port for c in convs if c.tls is not None}


def tshark_frames(
    path: Path,
    ports: set[int],
    *,
    cut: bool = False,
    tls: set[int] | frozenset[int] = frozenset(),
) -> list[dict[str, Any]]:
    """Every WebSocket frame tshark reports, as a dict of the compared fields. ``cut``: the
    file ends inside a record (tshark decodes what comes before, then exits with status 2).
    ``tls``: the ports that speak TLS."""
    command = [TSHARK or "tshark", "-r", str(path), "-n", *decode_as(path, ports, tls)]
    command += [
        "-o", "tcp.desegment_tcp_streams:TRUE",
        "-o", "tcp.reassemble_out_of_order:TRUE",
        "-Y", "websocket",
        "-T", "json", "--no-duplicate-keys",
        "-J", "frame tcp websocket",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, timeout=60, check=False)
    if cut:
        assert done.returncode == 2 and b"cut short in the middle of a packet" in done.stderr
    else:
        assert done.returncode == 0, done.stderr.decode(errors="replace")
    frames = []
    for packet in json.loads(done.stdout or b"[]"):
        layers = packet["_source"]["layers"]
        number = int(layers["frame"]["frame.number"])
        tcp = layers["tcp"]
        stream = int((tcp[-1] if isinstance(tcp, list) else tcp)["tcp.stream"])
        found = layers["websocket"]
        for ws in found if isinstance(found, list) else [found]:
            payload = ws.get("websocket.payload")
            payload = payload if isinstance(payload, dict) else {}  # "" when empty
            close = payload.get("websocket.payload.close", {})
            control = payload.get("websocket.payload.ping", payload.get("websocket.payload.pong"))
            code = close.get("websocket.payload.close.status_code")
            frames.append(
                {
                    "packet": number,
                    "stream": stream,
                    "opcode": int(ws["websocket.opcode"]),
                    "fin": ws["websocket.fin"] == "1",
                    "masked": ws["websocket.mask"] == "1",
                    "length": int(
                        ws.get("websocket.payload_length_ext_64")
                        or ws.get("websocket.payload_length_ext_16")
                        or ws["websocket.payload_length"]
                    ),
                    "text": payload.get("websocket.payload.text"),
                    "close_code": int(code) if code is not None else None,
                    "close_reason": close.get("websocket.payload.close.reason"),
                    "control": bytes.fromhex(control.replace(":", "")) if control else None,
                }
            )
    return frames


def wslib_frames(convs: list[Conversation]) -> list[dict[str, Any]]:
    """The same fields from wslib. tshark shows a fragmented text message whole, on its last
    fragment: the texts of the fragments are joined the same way here."""
    frames = []
    for conv in convs:
        pieces: dict[str, list[str]] = {"c2s": [], "s2c": []}
        for f in conv.frames:
            text = None
            if f.text is not None:
                pieces[f.direction].append(f.text)
                if f.fin:
                    text = "".join(pieces[f.direction])
            if f.fin and f.opcode < 8:  # (an int for a reserved opcode)
                pieces[f.direction] = []
            frames.append(
                {
                    "packet": f.packet,
                    "stream": conv.stream,
                    "opcode": int(f.opcode),
                    "fin": f.fin,
                    "masked": f.masked,
                    "length": f.length,
                    "text": text or None,
                    "close_code": f.close_code,
                    "close_reason": f.close_reason or None,
                    "control": f.payload or None
                    if f.opcode in (Opcode.PING, Opcode.PONG)
                    else None,
                }
            )
    return sorted(frames, key=lambda f: f["packet"])  # tshark lists by packet, stably


def compare(path: Path) -> int:
    convs = conversations(path, max_payload=BIG, keylog=keylog_for(path))
    assert convs, f"wslib found no WebSocket conversation in {path.name}"
    ours = wslib_frames(convs)
    theirs = tshark_frames(path, {c.server.port for c in convs}, tls=tls_ports(convs))
    assert len(theirs) == len(ours), f"tshark: {len(theirs)} frames, wslib: {len(ours)}"
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert a == b, f"frame {i} differs"
    return len(ours)


def http_lines(path: Path, convs: list[Conversation]) -> tuple[list[Any], list[Any]]:
    """HTTP start lines: wslib's, and the same rebuilt from tshark's http.* fields."""
    ours = sorted((m.packet, c.stream, m.start_line) for c in convs for m in c.http_messages)
    command = [TSHARK or "tshark", "-r", str(path), "-n"]
    command += decode_as(path, {c.server.port for c in convs}, tls_ports(convs))
    fields = ["frame.number", "tcp.stream", "http.request.method", "http.request.uri",
              "http.request.version", "http.response.version", "http.response.code",
              "http.response.phrase"]  # fmt: skip
    command += ["-Y", "http", "-T", "fields", "-E", "separator=\t"]
    command += [arg for name in fields for arg in ("-e", name)]
    done = subprocess.run(command, capture_output=True, timeout=60, check=False, text=True)
    assert done.returncode == 0, done.stderr
    theirs = []
    for line in done.stdout.splitlines():
        number, stream, method, uri, version, rversion, code, phrase = line.split("\t")
        start = f"{method} {uri} {version}" if method else f"{rversion} {code} {phrase}"
        theirs.append((int(number), int(stream), start))
    return ours, theirs


@pytest.mark.parametrize("path", PCAPS, ids=[p.name for p in PCAPS])
def test_shipped_capture_matches_tshark(path: Path) -> None:
    convs = conversations(path, http=True, keylog=keylog_for(path))
    assert convs, f"wslib found nothing in {path.name}"
    assert all(c.kind != "tls" for c in convs), "a TLS connection was not decrypted"
    ours, theirs = http_lines(path, convs)
    assert ours == theirs  # the same HTTP messages, in the same packets and streams
    if all(c.kind == "http" for c in convs):  # plain HTTP (HTTP/1.0 polling): no frames
        assert tshark_frames(path, {c.server.port for c in convs}) == []
    else:
        assert compare(path) > 0


def synthetic(name: str) -> Wire:
    if name == "echo":
        return echo_session()
    if name == "deflate":
        # Unfragmented, with context takeover: what tshark 4.0 decompresses right. (It swaps the
        # client_/server_no_context_takeover parameters: packet-websocket.c inflates frames sent
        # *to* the server with the "server" context; RFC 7692 §7.1.1.1 gives that parameter to
        # the server's own compressor. And it shows a compressed message sent in fragments as
        # garbage.) tests/test_dissect.py checks those cases against zlib directly.
        return deflate_session(fragment=False)[0]
    if name == "five-in-one-and-split":
        wire = Wire()
        wire.connect()
        wire.upgrade()
        frames = [Frame(Opcode.TEXT, f"m{i}, with a comma".encode()) for i in range(5)]
        wire.send("c2s", b"".join(masked(f, i) for i, f in enumerate(frames)))
        wire.send(
            "s2c", Frame(Opcode.BINARY, bytes(range(256)) * 2).serialize(mask=False), [1, 3, 9]
        )
        wire.send("c2s", masked(Frame(Opcode.PING, b"\x00\xffping")))
        wire.send("s2c", Frame(Opcode.PONG, b"\x00\xffping").serialize(mask=False))
        return wire
    wire, _, start = stream_session(list(range(40, 72_000, 1500)))
    tail = wire.packets[start:]
    if name == "out-of-order":
        random.Random(5).shuffle(tail)
    elif name == "retransmitted":
        tail = [p for packet in tail for p in (packet, packet.copy())]
    wire.packets[start:] = tail
    close = Frame(Opcode.CLOSE, struct.pack("!H", 4001) + "fin ✓".encode())
    wire.send("c2s", masked(close))
    wire.send("s2c", close.serialize(mask=False))
    return wire


@pytest.mark.parametrize(
    "name",
    [
        "echo",
        "five-in-one-and-split",
        "out-of-order",
        "retransmitted",
        "in-order",
        "deflate",
    ],
)
def test_synthetic_capture_matches_tshark(tmp_path: Path, name: str) -> None:
    path = synthetic(name).write(tmp_path / f"{name}.pcap")
    assert compare(path) >= 4
