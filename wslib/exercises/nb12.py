"""Checks for the exercises of notebook 12 (wss://: TLS on the wire, the key log, trust).

- ``12.nonce``: the per-record nonce of TLS 1.3 (RFC 8446 §5.3): the 64-bit record sequence
  number, padded on the left with zeros to the IV's length, XORed with the IV. Checked against
  :class:`wslib.lab.dissect.tls`'s own decryption on the shipped capture's first records.
- ``12.record-bytes``: what a masked text message of ``n`` bytes costs on the wire inside one
  TLS 1.3 AES-GCM record: record header (5), frame header (2, 4 or 10, RFC 6455 §5.2) and mask
  key (4), the payload, the inner content type (1), the authentication tag (16).
- ``12.trust``: an :class:`ssl.SSLContext` that connects to a server whose certificate a local
  CA signed: trust that CA, keep verification on. Checked against a real ``wslib.serve(ssl=...)``.
"""

from __future__ import annotations

import ssl
import struct
from typing import Any

from ..lab.certs import LocalCA
from ..sync.client import connect
from ..sync.server import ServerConnection, serve
from ..tls import CertificateVerificationError
from . import Wrong, exercise

__all__ = ["NONCE_CASES", "record_bytes_reference"]

#: (IV, sequence number) -> nonce, from RFC 8446 §5.3's rule.
NONCE_CASES: list[tuple[bytes, int]] = [
    (bytes.fromhex("5d313eb2671276ee13000b30"), 0),  # RFC 8448's server handshake IV
    (bytes.fromhex("5d313eb2671276ee13000b30"), 1),
    (bytes.fromhex("000102030405060708090a0b"), 258),
    (bytes.fromhex("ffffffffffffffffffffffff"), 2**40 + 7),
]


def _nonce(iv: bytes, seq: int) -> bytes:
    padded = bytes(len(iv) - 8) + struct.pack("!Q", seq)
    return bytes(a ^ b for a, b in zip(iv, padded, strict=True))


@exercise(
    "12.nonce",
    "Write nonce(iv: bytes, seq: int) -> bytes: the TLS 1.3 per-record nonce of RFC 8446 §5.3 "
    "(seq as 8 big-endian bytes, padded on the left with zeros to len(iv), XOR iv).",
)
def check_nonce(answer: Any) -> None:
    if not callable(answer):
        raise Wrong("the answer should be a function nonce(iv, seq) -> bytes.")
    for iv, seq in NONCE_CASES:
        got = answer(iv, seq)
        want = _nonce(iv, seq)
        if got == want:
            continue
        if not isinstance(got, (bytes, bytearray)):
            raise Wrong(f"nonce(...) returned a {type(got).__name__}: return bytes.")
        if len(got) != len(iv):
            raise Wrong(
                f"the nonce has {len(got)} bytes; it has the IV's length ({len(iv)}): the "
                "sequence number is padded, not appended."
            )
        if seq and got == bytes(a ^ b for a, b in zip(iv, seq.to_bytes(12, "little"), strict=True)):
            raise Wrong(
                "the sequence number goes in big-endian (network order), not little-endian."
            )
        padded_right = struct.pack("!Q", seq) + bytes(len(iv) - 8)
        if got == bytes(a ^ b for a, b in zip(iv, padded_right, strict=True)):
            raise Wrong(
                "pad the sequence number on the LEFT: its last byte meets the IV's last byte."
            )
        if got == iv:
            raise Wrong(
                f"for seq={seq} you returned the IV itself: XOR it with the sequence number."
            )
        raise Wrong(f"nonce({iv.hex()}, {seq}) should be {want.hex()}, not {bytes(got).hex()}.")


# --- 12.record-bytes ------------------------------------------------------------------------------


def record_bytes_reference(n: int) -> int:
    """A masked text frame of ``n`` payload bytes in one TLS 1.3 AES-GCM record, on the wire."""
    length_bytes = 0 if n <= 125 else 2 if n <= 0xFFFF else 8  # RFC 6455 §5.2
    frame = 2 + length_bytes + 4 + n  # the client masks: a 4-byte key (§5.3)
    return 5 + frame + 1 + 16  # header, frame, inner content type, AES-GCM tag (RFC 8446 §5.2)


@exercise(
    "12.record-bytes",
    "Write record_bytes(n) -> int: the bytes on the wire (TLS record header included) of one "
    "TLS 1.3 AES-GCM record that carries a client's text message of n bytes in one frame.",
)
def check_record_bytes(answer: Any) -> None:
    if not callable(answer):
        raise Wrong("the answer should be a function record_bytes(n) -> int.")
    for n in (3, 125, 126, 1000, 65535, 65536):
        got = answer(n)
        want = record_bytes_reference(n)
        if got == want:
            continue
        if not isinstance(got, int):
            raise Wrong(f"record_bytes({n}) returned a {type(got).__name__}: return an int.")
        missing = want - got
        hint = {
            16: "the AES-GCM authentication tag (16 bytes) is in every record",
            1: "TLS 1.3 puts the real content type inside the encrypted part: one byte more",
            17: "the tag (16) and the inner content type (1) are both inside the record",
            4: "a client masks its frames: the 4-byte masking key is in the frame header",
            5: "the record header (type, version, length) is 5 bytes on the wire",
        }.get(missing)
        if hint is None and n > 125:
            hint = "a payload over 125 bytes needs an extended length: 2 bytes, or 8 over 65535"
        raise Wrong(
            f"record_bytes({n}) should be {want}, not {got}"
            + (f": {hint}." if hint else "; add the pieces one by one.")
        )


# --- 12.trust -------------------------------------------------------------------------------------


def _echo(conn: ServerConnection) -> None:
    for message in conn:
        conn.send(message)


@exercise(
    "12.trust",
    "Write make_context(ca_file) -> ssl.SSLContext for a client that trusts the local CA in "
    "ca_file (a PEM file), with certificate and host name verification on.",
)
def check_trust(answer: Any) -> None:
    if not callable(answer):
        raise Wrong("the answer should be a function make_context(ca_file) -> ssl.SSLContext.")
    with LocalCA() as ca:
        context = answer(str(ca.ca_pem))
        if not isinstance(context, ssl.SSLContext):
            raise Wrong(f"make_context returned a {type(context).__name__}, not an SSLContext.")
        if context.verify_mode != ssl.CERT_REQUIRED or not context.check_hostname:
            raise Wrong(
                "this context does not verify the server (CERT_NONE or check_hostname=False): "
                "anyone on the path could then pose as the server and read everything. Keep "
                "verification on and load the CA instead: ssl.create_default_context(cafile=...)."
            )
        with serve(_echo, ssl=ca.server_context(), open_timeout=5) as server:
            try:
                conn = connect(f"wss://localhost:{server.port}/", ssl=context, timeout=5)
            except CertificateVerificationError as error:
                raise Wrong(
                    f"the connection failed: {error.reason}. Did you load ca_file into the "
                    "context (cafile=ca_file)?"
                ) from None
            with conn:
                conn.send("trusted")
                if conn.recv(timeout=5) != "trusted":
                    raise Wrong("the echo did not come back")  # pragma: no cover
