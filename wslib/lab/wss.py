"""Notebook 12's experiments: ``wss://`` captured, decrypted with a key log, behind nginx's TLS.

Each experiment runs real peers on ``127.0.0.1`` with a throwaway CA (:mod:`wslib.lab.certs`),
captures the traffic (:mod:`wslib.lab.capture`) and keeps the TLS secrets in an NSS key log
(``Capture.keylog``, written beside the capture as ``NAME.keys``)::

    from wslib.lab import wss
    cap = wss.echo_123_456()                 # the article's two messages, over wss://
    cap.write("/tmp/wss.pcap")               # /tmp/wss.pcap and /tmp/wss.keys

- :func:`echo_123_456`: websocket-client sends ``123`` and ``456`` to ``wslib.serve(ssl=...)``
  over TLS 1.3, as notebook 05 did over plain TCP.
- :func:`sizes`: messages of growing sizes over TLS 1.2 with ChaCha20-Poly1305: what record
  sizes tell an observer who cannot decrypt.
- :func:`nginx_tls_both_legs`: ``wss://`` to nginx, which ends TLS and forwards plain ``ws://``
  to the server: one capture, one leg encrypted, one in the clear.
- :func:`record_sizes`: message sizes against the TLS records that carried them;
  :func:`tshark_websocket`: what tshark decodes with the same key log (the cross-check).

The keys are throwaway: a new CA and new session secrets each time, nothing that protects
anything. A key log of a real session is as secret as the traffic it decrypts.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..sync.client import connect
from ..sync.server import ServerConnection, serve
from . import tools
from .certs import LocalCA
from .scenario import Scenario

if TYPE_CHECKING:
    from .capture import Capture

__all__ = [
    "SCENARIOS",
    "SIZES",
    "echo_123_456",
    "nginx_tls_both_legs",
    "record_sizes",
    "sizes",
    "tshark_websocket",
]

#: The message sizes of :func:`sizes`, in bytes: one to more than a TLS record's 16 KiB.
SIZES = (1, 10, 100, 1_000, 10_000, 20_000)


def _echo(conn: ServerConnection) -> None:
    for message in conn:
        conn.send(message)


class _KeyLog:
    """A temporary key log file; ``text`` reads what OpenSSL appended to it."""

    def __init__(self) -> None:
        handle, name = tempfile.mkstemp(prefix="wslib-", suffix=".keys")
        os.close(handle)
        self.path = Path(name)

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="ascii")

    def __enter__(self) -> _KeyLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.path.unlink(missing_ok=True)


def echo_123_456() -> Capture:
    """websocket-client sends ``123`` and ``456`` over ``wss://`` (TLS 1.3) to an echo server."""
    import websocket  # websocket-client

    from .capture import capture

    with (
        tools.without_proxy_variables(),
        LocalCA() as ca,
        _KeyLog() as keys,
        serve(_echo, ssl=ca.server_context(keylog=keys.path)) as server,
        capture([server.port], timeout=20, grace=0.5) as cap,
    ):
        ws = websocket.create_connection(
            f"wss://localhost:{server.port}/", timeout=10, sslopt={"ca_certs": str(ca.ca_pem)}
        )
        try:
            for text in ("123", "456"):
                ws.send(text)
                if ws.recv() != text:
                    raise RuntimeError("the echo over wss:// did not match")
        finally:
            ws.close()
        cap.keylog = keys.text
    return cap


def sizes(message_sizes: Sequence[int] = SIZES) -> Capture:
    """Text messages of ``message_sizes`` bytes and their echoes, over TLS 1.2 (ChaCha20)."""
    from .capture import capture

    with LocalCA() as ca, _KeyLog() as keys:
        context = ca.server_context(keylog=keys.path)
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers("ECDHE-ECDSA-CHACHA20-POLY1305")  # RFC 7905: another AEAD
        with (
            serve(_echo, ssl=context, max_size=2**20) as server,
            capture([server.port], timeout=20, grace=0.5) as cap,
            connect(f"wss://localhost:{server.port}/", ssl=ca.client_context()) as conn,
        ):
            for size in message_sizes:
                text = "x" * size
                conn.send(text)
                if conn.recv(timeout=10) != text:
                    raise RuntimeError("the echo over wss:// did not match")
        cap.keylog = keys.text
    return cap


def nginx_tls_both_legs() -> Capture:
    """``123`` and ``456`` to nginx over ``wss://``; nginx forwards them over ``ws://``."""
    from .capture import capture
    from .proxy import Nginx

    with (
        tools.without_proxy_variables(),
        LocalCA() as ca,
        _KeyLog() as keys,  # nginx keeps no key log: the client's has the secrets
        serve(_echo) as server,
        Nginx(server.port, tls=ca.server_pem) as proxy,
        capture([proxy.port, server.port], timeout=20, grace=0.5) as cap,
    ):
        with connect(proxy.url, ssl=ca.client_context(keylog=keys.path)) as conn:
            for text in ("123", "456"):
                conn.send(text)
                if conn.recv(timeout=10) != text:
                    raise RuntimeError("the echo through nginx did not match")
        time.sleep(0.3)
        cap.keylog = keys.text
    return cap


def record_sizes(conversation: Any) -> list[tuple[str, int, int]]:
    """``(direction, message bytes, record bytes)`` for each data frame of a decrypted conversation.

    The record bytes are those of the encrypted records (headers included) sent that way after
    the previous frame's last packet, up to this frame's: what an observer without the keys
    sees, and can map to the message. (Meant for one message at a time each way, as in an
    echo; the first frame also counts the upgrade's records: use frames after the 101.)
    """
    tls = conversation.tls
    if tls is None:
        raise ValueError("not a TLS conversation")
    rows = []
    last = {"c2s": 0, "s2c": 0}
    if conversation.response is not None:  # the upgrade's records are not a message's
        last = {"c2s": conversation.response.packet, "s2c": conversation.response.packet}
    for frame in conversation.frames:
        wire = sum(
            5 + r.length
            for r in tls.records
            if r.direction == frame.direction
            and r.encrypted
            and last[frame.direction] < r.packet <= frame.packet
        )
        last[frame.direction] = frame.packet
        if frame.opcode_name in ("TEXT", "BINARY", "CONTINUATION"):
            rows.append((frame.direction, frame.length, wire))
    return rows


def tshark_websocket(capture_file: str | os.PathLike[str], keylog: str | os.PathLike[str] | None,
                     port: int) -> list[str]:  # fmt: skip
    """What tshark decodes as WebSocket in a TLS capture, with the key log: one line per frame.

    ``packet  direction-port  opcode  length  text``. Raises :class:`FileNotFoundError` when
    tshark is not installed (:func:`wslib.lab.tools.tshark` says how to get it).
    """
    binary = shutil.which("tshark")
    if binary is None:
        raise FileNotFoundError(f"tshark is not installed: {tools.tshark().advice}")
    command = [binary, "-r", str(capture_file), "-n", "-d", f"tcp.port=={port},tls"]
    command += ["-d", f"tls.port=={port},http"]
    if keylog is not None:
        command += ["-o", f"tls.keylog_file:{keylog}"]
    fields = ["frame.number", "tcp.srcport", "websocket.opcode", "websocket.payload_length",
              "websocket.payload.text"]  # fmt: skip
    command += ["-Y", "websocket", "-T", "fields", "-E", "separator=\t"]
    command += [arg for name in fields for arg in ("-e", name)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"tshark failed: {done.stderr.strip()}")
    return done.stdout.splitlines()


def scenarios() -> dict[str, Scenario]:
    """The recordings notebook 12 ships, for :mod:`wslib.lab.recordings`."""
    throwaway = "throwaway keys: its TLS secrets are in the `.keys` file beside it"
    found = [
        Scenario(
            "wss-echo-123-456",
            "The article's `123` and `456` over `wss://` (TLS 1.3, AES-256-GCM): a TLS "
            "handshake and encrypted records, no HTTP, no frames without the key log "
            f"({throwaway}).",
            "websocket-client → `wslib.serve(ssl=...)` echo server, local CA from `trustme`",
            echo_123_456,
        ),
        Scenario(
            "wss-sizes",
            f"Text messages of {', '.join(f'{n:,}' for n in SIZES)} bytes and their echoes over "
            f"TLS 1.2 with ChaCha20-Poly1305: record sizes follow message sizes ({throwaway}).",
            "`wslib.connect(ssl=...)` → `wslib.serve(ssl=...)` echo server, "
            "local CA from `trustme`",
            sizes,
        ),
        Scenario(
            "nginx-tls-both-legs",
            "`123` and `456` over `wss://` to nginx, which ends TLS and forwards `ws://`: one "
            f"leg encrypted, one in the clear, in one capture ({throwaway}: the client's).",
            "`wslib.connect(ssl=...)` → nginx `listen ... ssl` → `wslib.serve` echo server",
            nginx_tls_both_legs,
            seconds=2.0,
        ),
    ]
    return {scenario.name: scenario for scenario in found}


SCENARIOS = scenarios()
