"""The article's naive echo server, in Python 3: the "before" picture of the series.

The article this series retells wrote a Python 2 echo server in about sixty lines. This is our
own Python 3 version with the same behaviour, as notebook 04 rebuilt it (so that notebook 10 can
run the conformance suite against it and watch it fail):

- one thread per connection;
- the handshake: one ``recv(1024)``, header names kept exactly as the client spelled them (a
  case-sensitive lookup of ``Sec-WebSocket-Key``), ``Sec-WebSocket-Accept`` computed (RFC 6455
  §1.3), and a ``101`` with the obsolete ``WebSocket-Location`` header of a pre-RFC draft;
- then, forever: ``recv(1024)``, read the 7-bit length only to find the masking key, unmask
  *everything* after it, and send it back as one unmasked text frame (``0x81``): FIN, the opcode,
  the length and the frame boundaries are all ignored; no close frame, no pong, no limits.

Unlike the article, it binds ``127.0.0.1`` on a free port, and every thread stops when the
server does: use it as a context manager::

    with ArticleServer() as server:
        url = server.url                 # ws://127.0.0.1:PORT/
"""

from __future__ import annotations

import base64
import hashlib
import socket
import struct

from .rawserver import RawServer

__all__ = ["ArticleServer", "article_accept", "article_decode", "article_encode"]

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3


def article_headers(request: bytes) -> dict[str, str]:
    """Header lines split at the first ``:``, names exactly as sent (case-sensitive, as the
    article did)."""
    headers = {}
    for line in request.decode("latin-1").split("\r\n\r\n")[0].split("\r\n")[1:]:
        name, value = line.split(":", 1)
        headers[name] = value.strip()
    return headers


def article_accept(key: str) -> str:
    """``Sec-WebSocket-Accept``: base64(SHA-1(key + GUID)) (RFC 6455 §1.3)."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def article_decode(raw: bytes) -> bytes:
    """Unmask everything after the masking key, whatever the length says (the article's bug)."""
    length = raw[1] & 0x7F
    start = {126: 4, 127: 10}.get(length, 2)
    mask, payload = raw[start : start + 4], raw[start + 4 :]
    return bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))


def article_encode(data: bytes) -> bytes:
    """One unmasked text frame with FIN set (``0x81``), whatever the client sent."""
    n = len(data)
    if n < 126:
        header = struct.pack("!BB", 0x81, n)
    elif n <= 0xFFFF:
        header = struct.pack("!BBH", 0x81, 126, n)
    else:
        header = struct.pack("!BBQ", 0x81, 127, n)
    return header + data


class ArticleServer(RawServer):
    """The article's server on a free 127.0.0.1 port; :meth:`close` stops every thread.

    ``crashes`` collects the exceptions that killed connection threads (a missing
    ``Sec-WebSocket-Key`` raises ``KeyError``, as in the article).
    """

    name = "article"

    def handle(self, sock: socket.socket) -> None:
        headers = article_headers(self.recv(sock, 1024))
        response = (
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {article_accept(headers['Sec-WebSocket-Key'])}\r\n"
            f"WebSocket-Location: ws://{headers['Host']}/\r\n"
            "\r\n"
        )
        sock.sendall(response.encode())
        while True:
            raw = self.recv(sock, 1024)  # one recv() = one frame, the article assumes
            if not raw:
                break
            sock.sendall(article_encode(article_decode(raw)))
