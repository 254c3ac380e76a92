"""wslib.lab.jupyter: the kernel channel's framings, decoded against jupyter_server's own
serializers, the shipped JupyterLab capture, and a real Jupyter server found and talked to."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from wslib.lab import jupyter
from wslib.lab.capture import capture
from wslib.lab.dissect import conversations, dissect
from wslib.lab.jupyter import (
    V1_SUBPROTOCOL,
    InvalidKernelMessage,
    KernelMessage,
    decode_json,
    decode_message,
    decode_v1,
    encode_v1,
    find_jupyter_server,
    kernel_channel,
    kernel_messages,
    ladder_labels,
)
from wslib.lab.ladder import ladder_rows
from wslib.lab.tools import PCAP_DIR, capture_privileges

base = pytest.importorskip("jupyter_server.services.kernels.connection.base")
session_module = pytest.importorskip("jupyter_client.session")

SHIPPED = PCAP_DIR / "jupyterlab-kernel.pcap"


def real_message(msg_type: str, content: dict[str, object], parent: dict | None = None) -> dict:
    """A message made by jupyter_client's Session, as the kernel and the server make them."""
    session = session_module.Session()
    msg = session.msg(msg_type, content=content, parent=parent or {})
    msg["buffers"] = []
    return msg


def packed_parts(msg: dict) -> list[bytes]:
    pack = session_module.Session().pack
    return [pack(msg[k]) for k in ("header", "parent_header", "metadata", "content")]


# --- the v1 framing, against jupyter_server's serializer -----------------------------------------


def test_v1_message_from_jupyter_server_is_decoded() -> None:
    request = real_message("execute_request", {"code": 'print("hello")', "silent": False})
    reply = real_message("stream", {"name": "stdout", "text": "hello\n"}, parent=request)
    wire = base.serialize_msg_to_ws_v1(packed_parts(reply), "iopub")
    message = decode_v1(wire)
    assert message.channel == "iopub"
    assert message.msg_type == "stream"
    assert message.content == {"name": "stdout", "text": "hello\n"}
    assert message.parent_header["msg_id"] == request["header"]["msg_id"]
    assert message.parent_msg_type == "execute_request"
    assert message.summary() == "stdout 'hello\\n'"
    assert message.buffers == ()


def test_v1_buffers_are_kept() -> None:
    msg = real_message("comm_msg", {"data": {}})
    wire = base.serialize_msg_to_ws_v1([*packed_parts(msg), b"\x00\x01", b"xyz"], "shell")
    assert decode_v1(wire).buffers == (b"\x00\x01", b"xyz")


def test_our_v1_encoding_is_what_jupyter_server_reads() -> None:
    msg = real_message("execute_request", {"code": "1 + 1"})
    header = json.loads(json.dumps(msg["header"], default=str))
    wire = encode_v1("shell", header, {}, {}, {"code": "1 + 1"}, [b"buf"])
    channel, parts = base.deserialize_msg_from_ws_v1(wire)
    assert channel == "shell"
    assert json.loads(parts[0]) == header
    assert json.loads(parts[3]) == {"code": "1 + 1"}
    assert parts[4] == b"buf"
    assert decode_v1(wire).summary() == "'1 + 1'"


@pytest.mark.parametrize(
    "cut",
    [0, 7, 8, 30],  # nothing, a partial count, the count alone, inside the offset table
)
def test_a_cut_v1_message_is_refused(cut: int) -> None:
    msg = real_message("status", {"execution_state": "idle"})
    wire = base.serialize_msg_to_ws_v1(packed_parts(msg), "iopub")
    with pytest.raises(InvalidKernelMessage):
        decode_v1(wire[:cut])


def test_a_v1_message_with_broken_json_is_refused() -> None:
    msg = real_message("status", {"execution_state": "idle"})
    parts = packed_parts(msg)
    parts[3] = b"{not json"
    with pytest.raises(InvalidKernelMessage, match="content is not JSON"):
        decode_v1(base.serialize_msg_to_ws_v1(parts, "iopub"))


# --- the JSON framing (no subprotocol) -----------------------------------------------------------


def test_json_message_as_jupyter_server_writes_it() -> None:
    msg = real_message("status", {"execution_state": "busy"})
    msg["channel"] = "iopub"
    text = json.dumps(msg, default=str)  # what the server writes without a subprotocol
    message = decode_message(text.encode(), subprotocol=None, binary=False)
    assert (message.channel, message.msg_type, message.summary()) == ("iopub", "status", "busy")
    assert decode_json(text) == message


def test_json_message_with_buffers_is_binary() -> None:
    msg = real_message("display_data", {"data": {"text/plain": "42"}, "metadata": {}})
    msg["channel"] = "iopub"
    msg["buffers"] = [b"\xff\x00"]
    wire = base.serialize_binary_message(msg)
    message = decode_message(wire, subprotocol=None, binary=True)
    assert (message.msg_type, message.buffers, message.summary()) == (
        "display_data",
        (b"\xff\x00",),
        "'42'",
    )


def test_the_framing_follows_the_subprotocol() -> None:
    msg = real_message("status", {"execution_state": "idle"})
    wire = base.serialize_msg_to_ws_v1(packed_parts(msg), "iopub")
    assert decode_message(wire, subprotocol=V1_SUBPROTOCOL, binary=True).msg_type == "status"
    with pytest.raises(InvalidKernelMessage):  # v1 is binary only
        decode_message(wire, subprotocol=V1_SUBPROTOCOL, binary=False)
    with pytest.raises(InvalidKernelMessage):  # the v1 bytes are not the JSON framing's
        decode_message(wire, subprotocol=None, binary=False)


# --- the shipped capture -------------------------------------------------------------------------


def shipped_channel():  # type: ignore[no-untyped-def]
    conv = kernel_channel(conversations(SHIPPED))
    assert conv is not None
    return conv


def test_the_shipped_capture_is_one_kernel_channel_with_v1() -> None:
    found = dissect(SHIPPED)
    assert found.tcp_connections == 1  # only the kernel channel's connection was kept
    conv = shipped_channel()
    assert conv.subprotocol == V1_SUBPROTOCOL
    assert conv.syns == 1 and conv.ended == "close handshake" and conv.close_code == 1001
    assert "/api/kernels/" in conv.request.start_line


def test_the_shipped_capture_decodes_to_these_messages() -> None:
    messages = kernel_messages(shipped_channel())
    assert all(isinstance(m, KernelMessage) for _, m in messages)
    sequence = [(f.direction, m.channel, m.msg_type) for f, m in messages]  # type: ignore[union-attr]
    cell = [
        (d, c, t)
        for (f, m), (d, c, t) in zip(messages, sequence, strict=True)
        if t == "execute_request" or m.parent_msg_type == "execute_request"  # type: ignore[union-attr]
    ]
    # Opening the notebook: JupyterLab asks for the kernel's info and its history first.
    assert sequence[0] == ("c2s", "shell", "kernel_info_request")
    assert ("s2c", "shell", "kernel_info_reply") in sequence
    # Running the cell: one request, then on the kernel's side the cell's five messages; the
    # reply (shell) and the broadcasts (iopub) come through different ZeroMQ sockets, so the
    # reply may pass the stream: their order between channels is not fixed, only within one.
    assert cell[0] == ("c2s", "shell", "execute_request")
    iopub = [t for d, c, t in cell if c == "iopub"]
    assert iopub == ["status", "execute_input", "stream", "status"]
    assert [t for d, c, t in cell if c == "shell"] == ["execute_request", "execute_reply"]
    statuses = [
        m.summary()  # type: ignore[union-attr]
        for _, m in messages
        if m.msg_type == "status" and m.parent_msg_type == "execute_request"  # type: ignore[union-attr]
    ]
    assert statuses == ["busy", "idle"]
    stream = next(m for _, m in messages if m.msg_type == "stream")  # type: ignore[union-attr]
    assert stream.content == {"name": "stdout", "text": "hello\n"}  # type: ignore[union-attr]
    # The exact sequence of types recorded (the debugger's questions included).
    assert [t for _, _, t in sequence] == EXPECTED_TYPES


#: What data/pcaps/jupyterlab-kernel.pcap holds, as tshark also splits it (tests/test_tshark.py);
#: recording it again changes this list (the debugger's questions come in varying numbers).
EXPECTED_TYPES = [
    "kernel_info_request",
    "status",
    "status",
    "kernel_info_reply",
    "status",
    "status",
    "status",
    "history_request",
    "debug_request",
    "execute_request",
    "history_reply",
    "status",
    "debug_reply",
    "execute_reply",
    "status",
    "status",
    "status",
    "status",
    "execute_input",
    "stream",
    "status",
    "debug_request",
    "debug_reply",
    "status",
    "status",
    "debug_request",
    "debug_reply",
    "debug_request",
    "status",
    "status",
    "status",
    "status",
    "debug_reply",
    "debug_request",
    "status",
    "debug_reply",
    "status",
    "debug_request",
    "status",
    "status",
    "debug_reply",
    "debug_request",
    "status",
    "debug_reply",
    "status",
    "debug_request",
    "status",
    "status",
    "debug_reply",
]


def test_ladder_labels_come_from_the_decoder() -> None:
    conv = shipped_channel()
    rows = ladder_rows(conv, max_frames=200, frame_label=ladder_labels(conv))
    labels = [r.label for r in rows if r.kind == "data"]
    assert any(label.startswith("shell: execute_request 'print(\"hello\")'") for label in labels)
    assert any(label.startswith("iopub: stream stdout 'hello\\n'") for label in labels)
    # the frame's length (and mask) are still there
    assert all(re.search(r"  \(\d+ B(, masked)?\)$", label) for label in labels), labels


# --- a real Jupyter server ------------------------------------------------------------------------


def test_outside_a_kernel_there_is_no_server() -> None:
    assert jupyter.this_kernel_id() is None
    assert find_jupyter_server() is None


@pytest.fixture(scope="module")
def lab() -> object:
    server = jupyter._JupyterLab(timeout=60)
    info = server.start()
    try:
        yield server, info
    finally:
        server.stop()
    assert not Path(server.folder).exists()
    assert server.process is not None and server.process.poll() is not None


@pytest.mark.slow
def test_the_server_of_a_kernel_is_found_and_runs_a_cell(lab: object) -> None:
    server, info = lab  # type: ignore[misc]
    runtime = str(server.folder / "runtime")
    kernel = jupyter._rest(
        jupyter.JupyterServer(info["url"], info["port"], info["token"], info["pid"], ""),
        "POST",
        "/api/kernels",
        30,
    )["id"]
    found = find_jupyter_server(kernel_id=kernel, runtime_dir=runtime)
    assert found is not None
    assert (found.port, found.token, found.kernel_id) == (info["port"], info["token"], kernel)
    assert found.channels_url().endswith(f"/api/kernels/{kernel}/channels")
    assert find_jupyter_server(kernel_id="no-such-kernel", runtime_dir=runtime) is None
    if not capture_privileges():
        pytest.skip("capture privileges are needed for the rest")
    with capture([found.port], timeout=60) as cap:
        received = jupyter.run_cell(found, 'print("hello")')
    assert [m.msg_type for m in received if m.channel == "iopub"] == [
        "status",
        "execute_input",
        "stream",
        "status",
    ]
    conv = kernel_channel(conversations(cap.packets))
    assert conv is not None and conv.subprotocol == V1_SUBPROTOCOL
    decoded = [m.msg_type for _, m in kernel_messages(conv)]  # type: ignore[union-attr]
    assert "execute_request" in decoded and "execute_reply" in decoded
    assert conv.ended == "close handshake" and conv.close_code == 1000
    assert os.path.isdir(runtime)
