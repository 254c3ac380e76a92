"""JupyterLab's kernel channel: the WebSocket a learner is using right now.

JupyterLab talks to each notebook's kernel through its Jupyter server over **one WebSocket**,
``ws://HOST:PORT/api/kernels/<kernel id>/channels``. Every message of the Jupyter messaging
protocol (the ``execute_request`` a cell sends, the ``status``, ``stream`` and
``execute_reply`` messages that come back) is one WebSocket message on that connection, whatever
the ZeroMQ channel (``shell``, ``iopub``, ``control``, ``stdin``) it belongs to on the kernel's
side. This module has three parts:

- :func:`find_jupyter_server`: from inside a notebook kernel, the Jupyter server that runs it
  (its port and token, from jupyter_server's runtime files), so that a live capture can listen
  on that port;
- a decoder of what the frames carry (:func:`decode_message`, :func:`kernel_messages`): the
  binary framing of the subprotocol ``v1.kernel.websocket.jupyter.org`` (RFC 6455 §1.9: the
  server picks one subprotocol from the client's offer) and the plain JSON framing used when no
  subprotocol was negotiated;
- the recording ``jupyterlab-kernel`` (:data:`SCENARIOS`): a real JupyterLab, driven by
  headless Chromium, runs one cell while its port is captured.

The v1 framing, as jupyter_server writes it (``serialize_msg_to_ws_v1``; this is our own reader
of that layout)::

    offset_count       8 bytes, little-endian: how many offsets follow (n)
    offsets[0..n-1]    8 bytes each, little-endian, from the start of the message:
                       offsets[0] = where the channel name starts (just after this table),
                       offsets[i] = where part i ends and part i+1 starts
    channel            "shell", "iopub", "control" or "stdin" (UTF-8)
    header             JSON: msg_id, msg_type, session, username, date, version
    parent_header      JSON: the header of the request this answers ({} for none)
    metadata           JSON
    content            JSON: what the message says (code, text, execution_state ...)
    buffers            zero or more binary buffers (widgets, arrays), up to offsets[n-1]

Without a subprotocol, a message is a text frame holding one JSON object (``channel``,
``header``, ``parent_header``, ``metadata``, ``content``); one that has binary buffers is a
binary frame: a 4-byte big-endian count, 4-byte big-endian offsets, the JSON, then the buffers.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import WebSocketError
from ..frames import Opcode
from . import tools
from .browser import BrowserUnavailable, start_chromium, wait_until
from .scenario import Scenario

__all__ = [
    "CHANNELS",
    "SCENARIOS",
    "V1_SUBPROTOCOL",
    "InvalidKernelMessage",
    "JupyterServer",
    "KernelMessage",
    "decode_json",
    "decode_message",
    "decode_v1",
    "encode_v1",
    "find_jupyter_server",
    "jupyterlab_kernel",
    "kernel_channel",
    "kernel_messages",
    "ladder_labels",
    "new_header",
    "run_cell",
    "this_kernel_id",
]

#: The subprotocol JupyterLab offers and jupyter_server picks (``Sec-WebSocket-Protocol``).
V1_SUBPROTOCOL = "v1.kernel.websocket.jupyter.org"
#: The kernel's channels that one WebSocket carries.
CHANNELS = ("shell", "iopub", "control", "stdin")
#: The path of a kernel's channel WebSocket: ``/api/kernels/<kernel id>/channels``.
CHANNELS_PATH = "/api/kernels/{kernel_id}/channels"


class InvalidKernelMessage(WebSocketError):
    """A WebSocket message on a kernel channel that is not a Jupyter message: the sender's fault.

    Raised by the decoders; a dissector that meets one keeps going (see :func:`kernel_messages`).
    """


# --- finding the learner's own Jupyter server -----------------------------------------------------


@dataclass(frozen=True)
class JupyterServer:
    """A running Jupyter server, as its runtime file (``jpserver-<pid>.json``) describes it."""

    url: str
    port: int
    token: str
    pid: int
    root_dir: str
    kernel_id: str | None = None  #: this kernel's id, when the server runs it

    def channels_url(self, kernel_id: str | None = None) -> str:
        """The ``ws://`` URL of a kernel's channel WebSocket (this kernel's by default)."""
        kernel = kernel_id or self.kernel_id
        if kernel is None:
            raise ValueError("which kernel? this process is not one of this server's kernels")
        base = self.url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        return base.rstrip("/") + CHANNELS_PATH.format(kernel_id=kernel)


def this_kernel_id() -> str | None:
    """The id of the kernel this code runs in (from its connection file), or None outside one.

    A Jupyter server names each kernel's connection file ``kernel-<kernel id>.json``; the kernel
    knows the file it was started with.
    """
    if "ipykernel" not in sys.modules:  # not a kernel: do not import ipykernel for nothing
        return None
    try:
        from ipykernel.kernelapp import IPKernelApp

        if not IPKernelApp.initialized():
            return None
        name = Path(IPKernelApp.instance().connection_file).name
    except Exception:  # any trouble here only means "not inside a kernel we can identify"
        return None
    if name.startswith("kernel-") and name.endswith(".json"):
        return name[len("kernel-") : -len(".json")]
    return None


def _running_servers(runtime_dir: str | None) -> Iterator[dict[str, Any]]:
    from jupyter_server.serverapp import list_running_servers

    # list_running_servers reads the runtime dir's jpserver-*.json files and skips (and removes)
    # those whose process is gone.
    yield from list_running_servers(runtime_dir)


def _runs_kernel(server: dict[str, Any], kernel_id: str, timeout: float) -> bool:
    """Does this server run that kernel? Ask its REST API: ``GET /api/kernels/<id>``."""
    url = server["url"].rstrip("/") + f"/api/kernels/{kernel_id}"
    request = urllib.request.Request(url, headers={"Authorization": f"token {server['token']}"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
    try:
        with opener.open(request, timeout=timeout) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def find_jupyter_server(
    *, kernel_id: str | None = None, runtime_dir: str | None = None, timeout: float = 2.0
) -> JupyterServer | None:
    """The Jupyter server that runs this kernel (or kernel ``kernel_id``); None if there is none.

    Run inside a notebook kernel: the kernel's id comes from its connection file
    (:func:`this_kernel_id`), and each running server's runtime file gives its URL, port and
    token. The server that started this process (our parent) is the one; otherwise the one whose
    ``/api/kernels/<id>`` knows the kernel. A kernel run without a server (``nbclient``, a
    console) gets None, even when other Jupyter servers run on the machine.
    """
    kernel = kernel_id or this_kernel_id()
    if kernel is None:
        return None
    try:
        servers = list(_running_servers(runtime_dir))
    except Exception:  # no jupyter_server installed, an unreadable runtime dir: no server
        return None
    # The server that started this kernel is usually its parent process.
    servers.sort(key=lambda s: s.get("pid") != os.getppid())
    for server in servers:
        if server.get("pid") == os.getppid() or _runs_kernel(server, kernel, timeout):
            return JupyterServer(
                url=str(server["url"]),
                port=int(server["port"]),
                token=str(server.get("token", "")),
                pid=int(server["pid"]),
                root_dir=str(server.get("root_dir", server.get("notebook_dir", ""))),
                kernel_id=kernel,
            )
    return None


# --- decoding the messages ------------------------------------------------------------------------


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class KernelMessage:
    """One message of the Jupyter messaging protocol, as one WebSocket message carried it."""

    channel: str
    header: dict[str, Any]
    parent_header: dict[str, Any]
    metadata: dict[str, Any]
    content: dict[str, Any]
    buffers: tuple[bytes, ...] = field(default=())

    @property
    def msg_type(self) -> str:
        """``execute_request``, ``status``, ``stream``, ``execute_reply`` ..."""
        return str(self.header.get("msg_type", "?"))

    @property
    def msg_id(self) -> str:
        return str(self.header.get("msg_id", ""))

    @property
    def parent_msg_type(self) -> str | None:
        """The type of the request this message answers (None for a request)."""
        parent = self.parent_header.get("msg_type")
        return str(parent) if parent else None

    def summary(self, limit: int = 40) -> str:
        """What the content says, in a few words: the code, the text, the state..."""
        c = self.content
        kind = self.msg_type
        if kind in ("execute_request", "execute_input"):
            count = f"[{c['execution_count']}] " if "execution_count" in c else ""
            return count + repr(_cut(str(c.get("code", "")), limit))
        if kind == "status":
            return str(c.get("execution_state", "?"))
        if kind == "stream":
            return f"{c.get('name', '?')} {_cut(str(c.get('text', '')), limit)!r}"
        if kind.endswith("_reply") and "status" in c:
            count = f" [{c['execution_count']}]" if "execution_count" in c else ""
            return f"{c['status']}{count}"
        if kind in ("execute_result", "display_data"):
            data = c.get("data", {})
            plain = data.get("text/plain")
            return repr(_cut(str(plain), limit)) if plain else ", ".join(sorted(data))
        if kind == "error":
            return f"{c.get('ename')}: {_cut(str(c.get('evalue', '')), limit)}"
        if kind in ("debug_request", "debug_event"):
            return str(c.get("command") or c.get("event") or "")
        if kind == "comm_open":
            return str(c.get("target_name", ""))
        return ", ".join(sorted(c))[:limit]

    def label(self, limit: int = 24) -> str:
        """One line: channel, type and summary (what a ladder diagram shows)."""
        summary = self.summary(limit)
        return f"{self.channel}: {self.msg_type}" + (f" {summary}" if summary else "")


def _json_object(data: bytes | str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidKernelMessage(f"the {what} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidKernelMessage(f"the {what} is JSON but not an object: {_cut(repr(value), 40)}")
    return value


_U64_LE = struct.Struct("<Q")


def decode_v1(payload: bytes) -> KernelMessage:
    """Decode one binary message of the ``v1.kernel.websocket.jupyter.org`` subprotocol.

    The layout is in this module's docstring: an offset table (8-byte little-endian numbers),
    then the channel name, header, parent_header, metadata and content (JSON), then the buffers.
    Raises :class:`InvalidKernelMessage` when the table does not fit the message.
    """
    data = bytes(payload)
    if len(data) < 8:
        raise InvalidKernelMessage(f"{len(data)} bytes: too short for the offset count")
    (count,) = _U64_LE.unpack_from(data, 0)
    table_end = 8 * (count + 1)
    # channel + header + parent_header + metadata + content: six offsets at least.
    if count < 6 or table_end > len(data):
        raise InvalidKernelMessage(
            f"an offset table of {count} entries does not fit a message of {len(data)} bytes"
        )
    offsets = [_U64_LE.unpack_from(data, 8 * (i + 1))[0] for i in range(count)]
    if offsets[0] != table_end:
        raise InvalidKernelMessage(
            f"the channel should start right after the offset table, at {table_end}, "
            f"not at {offsets[0]}"
        )
    if any(b < a for a, b in itertools.pairwise(offsets)) or offsets[-1] > len(data):
        raise InvalidKernelMessage(f"offsets out of order or past the end: {offsets}")
    parts = [data[a:b] for a, b in itertools.pairwise(offsets)]
    try:
        channel = parts[0].decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidKernelMessage("the channel name is not UTF-8") from None
    names = ("header", "parent_header", "metadata", "content")
    header, parent, metadata, content = (
        _json_object(part, name) for part, name in zip(parts[1:5], names, strict=True)
    )
    return KernelMessage(channel, header, parent, metadata, content, tuple(parts[5:]))


def _from_dict(message: dict[str, Any], buffers: Sequence[bytes] = ()) -> KernelMessage:
    parts = {}
    for name in ("header", "parent_header", "metadata", "content"):
        value = message.get(name, {})
        if not isinstance(value, dict):
            raise InvalidKernelMessage(f"{name} is not a JSON object")
        parts[name] = value
    return KernelMessage(
        str(message.get("channel", "?")),
        parts["header"],
        parts["parent_header"],
        parts["metadata"],
        parts["content"],
        tuple(buffers),
    )


def decode_json(payload: bytes | str) -> KernelMessage:
    """Decode one message of the plain JSON framing (no subprotocol): a text frame, one object
    with ``channel``, ``header``, ``parent_header``, ``metadata`` and ``content``."""
    return _from_dict(_json_object(payload, "message"))


def _decode_legacy_binary(payload: bytes) -> KernelMessage:
    """The JSON framing's binary form, for messages with buffers: a 4-byte big-endian count,
    4-byte big-endian offsets (the first one is the JSON's), the JSON, the buffers."""
    data = bytes(payload)
    if len(data) < 8:
        raise InvalidKernelMessage(f"{len(data)} bytes: too short for a binary Jupyter message")
    (count,) = struct.unpack_from("!I", data)
    if count < 1 or 4 * (count + 1) > len(data):
        raise InvalidKernelMessage(f"{count} buffers do not fit a message of {len(data)} bytes")
    offsets = [*struct.unpack_from(f"!{count}I", data, 4), len(data)]
    if any(b < a for a, b in itertools.pairwise(offsets)):
        raise InvalidKernelMessage(f"offsets out of order or past the end: {offsets[:-1]}")
    parts = [data[a:b] for a, b in itertools.pairwise(offsets)]
    return _from_dict(_json_object(parts[0], "message"), parts[1:])


def decode_message(payload: bytes, *, subprotocol: str | None, binary: bool) -> KernelMessage:
    """Decode one WebSocket message of a kernel channel, by the framing the handshake chose.

    With ``v1.kernel.websocket.jupyter.org`` every message is binary (:func:`decode_v1`); without
    a subprotocol, a text message is JSON (:func:`decode_json`) and a binary one is JSON with
    buffers. Raises :class:`InvalidKernelMessage`.
    """
    if subprotocol == V1_SUBPROTOCOL:
        if not binary:
            raise InvalidKernelMessage(f"a text message, but {V1_SUBPROTOCOL} sends binary ones")
        return decode_v1(payload)
    if subprotocol:
        raise InvalidKernelMessage(f"unknown kernel subprotocol {subprotocol!r}")
    return _decode_legacy_binary(payload) if binary else decode_json(payload)


def kernel_messages(conversation: Any) -> list[tuple[Any, KernelMessage | InvalidKernelMessage]]:
    """Every Jupyter message of a dissected kernel-channel conversation, with its last frame.

    Data frames are put together into WebSocket messages (RFC 6455 §5.4: a text or binary
    frame, continuation frames, the last with FIN), then decoded with the framing that the
    handshake negotiated (``conversation.subprotocol``). A message that cannot be decoded gives
    its :class:`InvalidKernelMessage` in place of the message. Control frames are skipped.
    """
    found: list[tuple[Any, KernelMessage | InvalidKernelMessage]] = []
    pending: dict[str, tuple[bool, bytearray]] = {}  # per direction: (binary?, bytes so far)
    for frame in conversation.frames:
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
            pending[frame.direction] = (frame.opcode == Opcode.BINARY, bytearray())
        elif frame.opcode != Opcode.CONT or frame.direction not in pending:
            continue
        binary, data = pending[frame.direction]
        data += frame.inflated if frame.inflated is not None else frame.payload
        if not frame.fin:
            continue
        del pending[frame.direction]
        try:
            message: KernelMessage | InvalidKernelMessage = decode_message(
                bytes(data), subprotocol=conversation.subprotocol, binary=binary
            )
        except InvalidKernelMessage as exc:
            message = exc
        found.append((frame, message))
    return found


def ladder_labels(conversation: Any, limit: int = 24) -> Callable[[Any], str | None]:
    """Labels for :func:`wslib.lab.ladder.draw_ladder` (its ``frame_label``): each data frame
    that ends a kernel message is labelled with the message's channel, type and summary."""
    labels: dict[int, str] = {}
    for frame, message in kernel_messages(conversation):
        if isinstance(message, KernelMessage):
            labels[id(frame)] = message.label(limit)
        else:
            labels[id(frame)] = f"not a Jupyter message: {_cut(str(message), limit)}"

    def label(frame: Any) -> str | None:
        return labels.get(id(frame))

    return label


def kernel_channel(conversations: Sequence[Any]) -> Any | None:
    """The first conversation whose upgrade request asks for ``/api/kernels/<id>/channels``."""
    for conversation in conversations:
        request = conversation.request
        if request is None:
            continue
        target = str(request.start_line).split(" ")
        if len(target) > 1 and target[1].startswith("/api/kernels/") and "/channels" in target[1]:
            return conversation
    return None


def encode_v1(
    channel: str,
    header: dict[str, Any],
    parent_header: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    content: dict[str, Any] | None = None,
    buffers: Sequence[bytes] = (),
) -> bytes:
    """One message in the ``v1.kernel.websocket.jupyter.org`` framing (see :func:`decode_v1`)."""
    parts = [channel.encode("utf-8")] + [
        json.dumps(part or {}).encode("utf-8")
        for part in (header, parent_header, metadata, content)
    ]
    parts += [bytes(b) for b in buffers]
    offsets = [8 * (len(parts) + 2)]  # the count, one offset per part, and the end
    for part in parts:
        offsets.append(offsets[-1] + len(part))
    table = _U64_LE.pack(len(offsets)) + b"".join(_U64_LE.pack(o) for o in offsets)
    return table + b"".join(parts)


def new_header(msg_type: str, session: str) -> dict[str, Any]:
    """A message header (Jupyter messaging protocol 5.3): id, type, session, user, date."""
    import datetime
    import uuid

    return {
        "msg_id": uuid.uuid4().hex,
        "msg_type": msg_type,
        "session": session,
        "username": "wslib",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "version": "5.3",
    }


def _rest(server: JupyterServer, method: str, path: str, timeout: float) -> Any:
    request = urllib.request.Request(
        server.url.rstrip("/") + path,
        method=method,
        data=b"{}" if method == "POST" else None,
        headers={"Authorization": f"token {server.token}", "Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
    with opener.open(request, timeout=timeout) as answer:
        body = answer.read()
    return json.loads(body) if body else None


def run_cell(server: JupyterServer, code: str, *, timeout: float = 30.0) -> list[KernelMessage]:
    """Do what JupyterLab does for one cell, as a second client of the same server.

    Starts a new kernel (``POST /api/kernels``), opens its channel WebSocket with the subprotocol
    ``v1.kernel.websocket.jupyter.org`` (websocket-client), sends an ``execute_request`` on the
    shell channel, and reads until its ``execute_reply`` and the ``status: idle`` that follows;
    then closes the WebSocket (1000) and shuts the kernel down. Returns the messages received.
    (A new kernel, because the kernel running this code is busy running it: a request sent to it
    would wait for the end of the very cell that waits for its answer.)
    """
    import uuid

    import websocket  # websocket-client

    kernel = _rest(server, "POST", "/api/kernels", timeout)["id"]
    received: list[KernelMessage] = []
    try:
        ws = websocket.create_connection(
            server.channels_url(kernel),
            subprotocols=[V1_SUBPROTOCOL],
            header=[f"Authorization: token {server.token}"],
            timeout=timeout,
        )
        try:
            session = uuid.uuid4().hex
            header = new_header("execute_request", session)
            content = {"code": code, "silent": False, "store_history": True, "allow_stdin": False}
            ws.send_binary(encode_v1("shell", header, {}, {}, content))
            deadline = time.monotonic() + timeout
            replied = idle = False
            while not (replied and idle):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no execute_reply within {timeout:.0f} s")
                data = ws.recv()
                if isinstance(data, str):
                    raise InvalidKernelMessage(f"a text message, but {V1_SUBPROTOCOL} is binary")
                message = decode_v1(data)
                if message.parent_header.get("msg_id") != header["msg_id"]:
                    continue  # the kernel's start-up, or another client's traffic
                received.append(message)
                replied = replied or message.msg_type == "execute_reply"
                idle = idle or message.content.get("execution_state") == "idle"
        finally:
            ws.close()  # a close frame with 1000, and the server's answer
    finally:
        _rest(server, "DELETE", f"/api/kernels/{kernel}", timeout)
    return received


# --- the recording: a real JupyterLab, driven by headless Chromium --------------------------------

#: The notebook the recording opens: one cell.
NOTEBOOK_CELL = 'print("hello")'

_NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "hello",
            "metadata": {},
            "outputs": [],
            "source": [NOTEBOOK_CELL],
        }
    ],
    "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}

# JupyterLab without its calls to the internet (news, update checks): they cover the notebook and
# fail offline.
_CONFIG = {
    "LabApp": {"news_url": None, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"},
}

# ... and without its question "would you like to get notified about official Jupyter news?"
_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False}
}

CHROMIUM_FLAGS = (
    *tools.CHROMIUM_FLAGS,
    "--window-size=1280,900",
    # Without it, a page left for about:blank may be kept whole in the back/forward cache, and
    # its WebSockets stay open; with it, leaving the page closes them (1001, going away).
    "--disable-back-forward-cache",
)


class _JupyterLab:
    """``jupyter lab`` in a child process, with its own temporary folders; stop() ends it all."""

    def __init__(self, timeout: float = 60.0) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="wslib-jupyterlab-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.timeout = timeout
        self.server: dict[str, Any] | None = None
        self.log: Any = None

    def start(self) -> dict[str, Any]:
        root, runtime, config = (self.folder / name for name in ("root", "runtime", "config"))
        for folder in (root, runtime, config):
            folder.mkdir()
        (root / "hello.ipynb").write_text(json.dumps(_NOTEBOOK, indent=1), encoding="utf-8")
        (config / "jupyter_server_config.json").write_text(json.dumps(_CONFIG), encoding="utf-8")
        for plugin, values in _SETTINGS.items():
            path = self.folder / "settings" / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values), encoding="utf-8")
        token = os.urandom(16).hex()
        env = {
            **os.environ,
            "JUPYTER_RUNTIME_DIR": str(runtime),
            "JUPYTER_CONFIG_DIR": str(config),
        }
        for name in [n for n in env if n.lower().endswith("_proxy")]:
            del env[name]
        jupyter = Path(sys.executable).with_name("jupyter")
        command = [
            str(jupyter) if jupyter.exists() else "jupyter",
            "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            "--ServerApp.port=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.open_browser=False",
            f"--LabApp.workspaces_dir={self.folder / 'workspaces'}",
            f"--LabApp.user_settings_dir={self.folder / 'settings'}",
        ]
        if hasattr(os, "getuid") and os.getuid() == 0:
            command.append("--allow-root")  # Jupyter refuses root without it (containers)
        self.log = open(self.folder / "server.log", "wb")  # closed by stop()
        self.process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )

        def announced() -> dict[str, Any] | None:
            assert self.process is not None
            if self.process.poll() is not None:
                log = (self.folder / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"jupyter lab exited with {self.process.returncode}:\n{log}")
            for server in _running_servers(str(runtime)):
                if server.get("pid") == self.process.pid:
                    return server
            return None

        self.server = wait_until(announced, self.timeout, "JupyterLab did not start")
        return self.server

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: the server shuts its kernels down, then exits
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.log is not None:
            self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _chromium() -> Any:
    try:
        return start_chromium(page_load_timeout=60, script_timeout=30)
    except BrowserUnavailable as exc:
        raise RuntimeError(f"this recording needs Chromium and chromedriver: {exc}") from None


def _open_and_run(chrome: Any, timeout: float) -> None:
    """In JupyterLab's page: open hello.ipynb from the file browser, run its cell, see "hello"."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    def item() -> Any:
        for element in chrome.find_elements(By.CSS_SELECTOR, ".jp-DirListing-itemText"):
            if element.text.strip() == "hello.ipynb":
                return element
        return None

    target = wait_until(item, timeout, "no hello.ipynb in the file browser")
    ActionChains(chrome).double_click(target).perform()

    def idle_kernel() -> bool:
        status = chrome.find_elements(By.CSS_SELECTOR, ".jp-Notebook-ExecutionIndicator")
        return bool(status) and status[0].get_attribute("data-status") == "idle"

    wait_until(idle_kernel, timeout, "the notebook's kernel did not become idle")

    def printed() -> bool:
        outputs = chrome.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output")
        return any("hello" in output.text for output in outputs)

    # Select the cell (a click on its prompt) and press the toolbar's "Run" button (the same
    # command as Shift+Enter). JupyterLab shows the kernel idle a moment before it will run a
    # cell, and then ignores the click: try again, a few times.
    for attempt in range(5):
        prompt = wait_until(
            lambda: chrome.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell .jp-InputPrompt"),
            timeout,
            "no cell in the notebook",
        )[0]
        run = wait_until(
            lambda: chrome.find_elements(
                By.CSS_SELECTOR, '.jp-NotebookPanel-toolbar [data-jp-item-name="run"] jp-button'
            ),
            timeout,
            "no Run button in the notebook's toolbar",
        )[0]
        ActionChains(chrome).click(prompt).perform()
        ActionChains(chrome).click(run).perform()
        try:
            wait_until(printed, 3.0 if attempt < 4 else timeout, 'the cell did not print "hello"')
            break
        except TimeoutError:
            if attempt == 4:
                raise
    wait_until(idle_kernel, timeout, "the kernel did not become idle after the cell")
    # Save it, so that leaving the page is not held up by "you have unsaved changes".
    save = chrome.find_elements(
        By.CSS_SELECTOR, '.jp-NotebookPanel-toolbar [data-jp-item-name="save"] jp-button'
    )[0]
    ActionChains(chrome).click(save).perform()
    wait_until(
        lambda: not chrome.find_elements(By.CSS_SELECTOR, ".lm-TabBar-tab.jp-mod-dirty"),
        timeout,
        "the notebook was not saved",
    )


def jupyterlab_kernel(timeout: float = 60.0) -> Any:
    """A real JupyterLab, driven by headless Chromium, opens a notebook and runs one cell.

    The capture starts once JupyterLab's page has loaded (its scripts and settings, over plain
    HTTP on the same port, are not recorded) and stops after the page is left; only the TCP
    connection of the kernel channel's WebSocket is kept, from its SYN to its FIN.
    """
    from .capture import capture
    from .dissect import conversations

    lab = _JupyterLab(timeout)
    chrome = None
    try:
        server = lab.start()
        chrome = _chromium()
        chrome.get(f"{server['url'].rstrip('/')}/lab?token={server['token']}")
        with capture([int(server["port"])], timeout=timeout * 3, grace=1.0) as cap:
            _open_and_run(chrome, timeout)
            # Leaving the page closes its WebSockets (1001, going away) and their TCP connections.
            chrome.get("about:blank")
            time.sleep(2.0)
    finally:
        if chrome is not None:
            chrome.quit()
        lab.stop()
    channel = kernel_channel(conversations(cap.packets))
    if channel is None:
        raise RuntimeError("no kernel channel WebSocket in the capture; nothing written")
    ends = {(channel.client.port, channel.server.port), (channel.server.port, channel.client.port)}
    from scapy.layers.inet import TCP

    cap.keep(lambda packet: (int(packet[TCP].sport), int(packet[TCP].dport)) in ends)
    return cap


SCENARIOS: dict[str, Scenario] = {
    "jupyterlab-kernel": Scenario(
        "jupyterlab-kernel",
        "JupyterLab's own kernel channel: one TCP connection to `/api/kernels/<id>/channels` "
        f"(subprotocol `{V1_SUBPROTOCOL}`) carrying every message of opening a notebook and "
        'running `print("hello")`: execute_request, status busy/idle, stream, execute_reply. '
        "Only that connection is kept (the page's own HTTP traffic on the port is left out).",
        "`jupyter lab` 4 (temporary root dir, token) driven by headless Chromium through "
        "Selenium: double-click the notebook in the file browser, click its cell's prompt and "
        "the toolbar's Run button (Shift+Enter's command), save, leave the page (1001)",
        jupyterlab_kernel,
        seconds=20.0,
    )
}
