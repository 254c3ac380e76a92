"""``python -m wslib.dump FILE.pcap [--port N] [--keylog FILE]``: print a capture's WebSockets.

Like a packet dissector's text output: for each connection, the TCP events, the HTTP upgrade,
then one line per frame (time, direction, opcode, FIN, MASK, payload length, a preview of the
payload or the close code), and a summary of how the connection ended. A ``wss://``
connection shows one ``TLS:`` line: decrypted with ``--keylog`` (an NSS key log, what
``SSLKEYLOGFILE`` writes), else "encrypted: N TLS records, pass --keylog". Decoding is
:mod:`wslib.lab.dissect`'s; this module only prints.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from .dissect import (
    Conversation,
    ErrorRecord,
    FrameRecord,
    HttpMessage,
    PcapError,
    TcpEvent,
    dissect,
    timeline,
)
from .dissect.tls import KeyLog

__all__ = ["format_conversation", "main"]

EPILOG = """\
exit status:
  0  at least one WebSocket conversation (with --http: or HTTP one) was printed
  1  the file cannot be read (missing, not a pcap/pcapng file), or it holds
     no WebSocket conversation (with --port: none on that port; with --http:
     no HTTP either). A file cut inside a packet (a capture stopped with
     kill -9) is decoded up to the cut, with one warning line that says where.
  2  wrong command-line usage

examples:
  python -m wslib.dump data/pcaps/echo-123-456.pcap
  python -m wslib.dump data/pcaps/wss-echo-123-456.pcap --keylog data/pcaps/wss-echo-123-456.keys
"""

_ARROW = {"c2s": "C→S", "s2c": "S→C"}


def _line(event: TcpEvent | HttpMessage | FrameRecord | ErrorRecord, origin: float) -> str:
    when = f"{event.time - origin:10.6f}"
    arrow = _ARROW[event.direction]
    if isinstance(event, TcpEvent):
        return f"{when}  {arrow}  #{event.packet:<5} TCP {event.kind}"
    if isinstance(event, HttpMessage):
        return f"{when}  {arrow}  #{event.packet:<5} HTTP {event.start_line}"
    if isinstance(event, ErrorRecord):
        return f"{when}  {arrow}  #{event.packet:<5} ERROR {event.error}: {event.message}"
    preview = event.preview()
    if event.close_code is not None:
        preview = f"code={event.close_code}" + (
            f" reason={event.close_reason!r}" if event.close_reason else ""
        )
    if event.inflated is not None:  # compressed by permessage-deflate (RFC 7692)
        preview = f"[deflate, {len(event.inflated)} bytes inflated] {preview}"
    elif event.inflated_over is not None:  # a bomb, or just big: inflated with a cap
        preview = f"[deflate, inflated size over {event.inflated_over}, not shown]"
    line = (
        f"{when}  {arrow}  #{event.packet:<5} {event.opcode_name:<6} fin={int(event.fin)} "
        f"mask={int(event.masked)} len={event.length:<6} {preview}"
    ).rstrip()
    # the rules its header breaks (RFC 6455 §5), under it: decoded anyway, as Wireshark does
    return "\n".join([line] + [f"{'':16}VIOLATION: {v}" for v in event.violations])


def format_conversation(conversation: Conversation, origin: float | None = None) -> str:
    """The text ``python -m wslib.dump`` prints for one conversation.

    Times are seconds since ``origin`` (default: the conversation's first packet).
    """
    start = conversation.start if origin is None else origin
    kind = "" if conversation.kind == "websocket" else f" ({conversation.kind})"
    lines = [
        f"== tcp.stream {conversation.stream}: client {conversation.client} -> server "
        f"{conversation.server}{kind}"
    ]
    if conversation.tls is not None:
        lines.append(f"   TLS: {conversation.tls.summary()}")
    lines += [_line(event, start) for event in timeline(conversation)]
    ended = conversation.ended
    if conversation.close_code is not None:
        ended += f", close code {conversation.close_code}"
        if conversation.close_reason:
            ended += f" {conversation.close_reason!r}"
    overhead = conversation.framing_bytes
    lines.append(
        f"-- {len(conversation.frames)} frames, {conversation.payload_bytes} bytes of payload "
        f"+ {overhead} bytes of frame headers; {conversation.packets} packets, "
        f"{conversation.wire_bytes} bytes on the wire; ended: {ended}"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the command; return its exit status (see ``--help``)."""
    out = out or sys.stdout
    parser = argparse.ArgumentParser(
        prog="python -m wslib.dump",
        description="Print the WebSocket conversations in a pcap or pcapng capture file\n"
        "(RFC 6455): one line per TCP event, HTTP message and frame.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", help="a .pcap or .pcapng capture file")
    parser.add_argument(
        "--port",
        type=int,
        metavar="N",
        help="only connections with an endpoint on port N (default: find the upgrade on any port)",
    )
    parser.add_argument(
        "--http",
        action="store_true",
        help="also print connections that carried plain HTTP without an upgrade "
        "(for instance HTTP/1.0 polling)",
    )
    parser.add_argument(
        "--keylog",
        metavar="FILE",
        help="an NSS key log file (what SSLKEYLOGFILE writes) to decrypt wss:// connections",
    )
    args = parser.parse_args(argv)
    if args.port is not None and not 0 < args.port < 65536:
        parser.error(f"--port must be between 1 and 65535, not {args.port}")
    try:
        keylog = None if args.keylog is None else KeyLog.load(args.keylog)
    except OSError as exc:
        print(f"wslib.dump: error: cannot read the key log: {exc}", file=sys.stderr)
        return 1
    try:
        result = dissect(args.file, port=args.port, http=args.http, keylog=keylog)
    except PcapError as exc:
        print(f"wslib.dump: error: {exc}", file=sys.stderr)
        return 1
    found = result.conversations
    if result.truncated:
        print(f"wslib.dump: warning: {result.truncated}", file=sys.stderr)
    if not found:
        where = f" on port {args.port}" if args.port is not None else ""
        what = "WebSocket or HTTP conversation" if args.http else "WebSocket conversation"
        print(f"wslib.dump: no {what}{where} in {args.file}", file=sys.stderr)
        if result.skipped():
            print(f"wslib.dump: {result.skipped()}", file=sys.stderr)
        return 1
    origin = min(c.start for c in found)
    print("\n\n".join(format_conversation(c, origin) for c in found), file=out)
    if result.skipped():
        print(f"\n-- {result.skipped()}", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
