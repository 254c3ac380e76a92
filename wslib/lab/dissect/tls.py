"""TLS in a capture: the records, and their decryption with an NSS key log (``wss://``).

What a capture of ``wss://`` shows is TLS records (RFC 8446 §5.1, RFC 5246 §6.2), not HTTP or
frames: a 5-byte header (content type, version, length) and an encrypted fragment. With the
session's secrets, which a key log file (``SSLKEYLOGFILE``, the NSS format that browsers, curl,
OpenSSL and Python write) holds, the fragments decrypt to the very bytes a plain ``ws://``
connection carries, and :mod:`wslib.lab.dissect.websocket` decodes them with the same parsers.

How the keys are made, in a few lines each (with ``cryptography``'s primitives only):

- **TLS 1.3** (RFC 8446 §7): the key log holds each direction's *traffic secret*, one for the
  handshake (``CLIENT_HANDSHAKE_TRAFFIC_SECRET``...) and one for the application data
  (``CLIENT_TRAFFIC_SECRET_0``...). ``key = HKDF-Expand-Label(secret, "key", "", key_length)``,
  ``iv = HKDF-Expand-Label(secret, "iv", "", 12)``; each record's nonce is the IV XOR its
  sequence number (§5.3); the additional data is the record header (§5.2). The decrypted
  fragment ends with the real content type, then zero padding. A direction switches from the
  handshake secret to the application secret after its ``Finished`` message.
- **TLS 1.2** (RFC 5246 §6.3, RFC 5288, RFC 7905): the key log holds the *master secret*
  (``CLIENT_RANDOM``). ``key_block = PRF(master, "key expansion", server_random +
  client_random)`` is cut into the client's and the server's key and IV. A direction is
  encrypted after its ``ChangeCipherSpec``; AES-GCM records start with an 8-byte explicit nonce.

Cipher suites: the AEAD ones every current client offers (AES-GCM and ChaCha20-Poly1305, with
ECDHE, DHE or RSA key exchange). Not covered: TLS 1.3 KeyUpdate and 0-RTT data, renegotiation,
CBC suites (TLS 1.2 without AEAD), compression. A record that does not decrypt stops that
direction with an error, as a frame that cannot be parsed does.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from .records import CONTENT_TYPES, Direction, TlsInfo, TlsRecord

__all__ = [
    "CIPHER_SUITES",
    "CONTENT_TYPES",
    "CipherSuite",
    "KeyLog",
    "TlsError",
    "TlsInfo",
    "TlsRecord",
    "hkdf_expand_label",
    "prf",
]

_CCS, _ALERT, _HANDSHAKE, _APPLICATION_DATA = 20, 21, 22, 23
_CLIENT_HELLO, _SERVER_HELLO, _FINISHED = 1, 2, 20
_SUPPORTED_VERSIONS = 43  # the extension that says "TLS 1.3" (RFC 8446 §4.2.1)
#: ServerHello.random of a HelloRetryRequest (RFC 8446 §4.1.3): not covered here.
_HELLO_RETRY = hashlib.sha256(b"HelloRetryRequest").digest()

Cipher = Literal["AES-GCM", "ChaCha20-Poly1305"]


@dataclass(frozen=True)
class CipherSuite:
    """What decryption needs to know of a cipher suite (IANA TLS Cipher Suites registry)."""

    name: str
    cipher: Cipher
    key_length: int
    hash: Literal["sha256", "sha384"]


def _suites() -> dict[int, CipherSuite]:
    suites = {
        0x1301: CipherSuite("TLS_AES_128_GCM_SHA256", "AES-GCM", 16, "sha256"),
        0x1302: CipherSuite("TLS_AES_256_GCM_SHA384", "AES-GCM", 32, "sha384"),
        0x1303: CipherSuite("TLS_CHACHA20_POLY1305_SHA256", "ChaCha20-Poly1305", 32, "sha256"),
    }
    for code, exchange, size in [
        (0xC02B, "ECDHE_ECDSA", 128), (0xC02C, "ECDHE_ECDSA", 256),
        (0xC02F, "ECDHE_RSA", 128), (0xC030, "ECDHE_RSA", 256),
        (0x009E, "DHE_RSA", 128), (0x009F, "DHE_RSA", 256),
        (0x009C, "RSA", 128), (0x009D, "RSA", 256),
    ]:  # fmt: skip
        digest: Literal["sha256", "sha384"] = "sha256" if size == 128 else "sha384"
        name = f"TLS_{exchange}_WITH_AES_{size}_GCM_{digest.upper()}"
        suites[code] = CipherSuite(name, "AES-GCM", size // 8, digest)
    for code, exchange in [(0xCCA8, "ECDHE_RSA"), (0xCCA9, "ECDHE_ECDSA"), (0xCCAA, "DHE_RSA")]:
        name = f"TLS_{exchange}_WITH_CHACHA20_POLY1305_SHA256"
        suites[code] = CipherSuite(name, "ChaCha20-Poly1305", 32, "sha256")
    return suites


#: The cipher suites this module decrypts, by their code.
CIPHER_SUITES = _suites()


class TlsError(ValueError):
    """A record that cannot be read or decrypted: decoding stops in that direction."""


# --- key derivation -------------------------------------------------------------------------------


def hkdf_expand_label(
    secret: bytes, label: str, context: bytes, length: int, hash_name: str = "sha256"
) -> bytes:
    """HKDF-Expand-Label (RFC 8446 §7.1): HKDF-Expand(secret, HkdfLabel, length).

    ``HkdfLabel`` is the length (2 bytes), ``"tls13 " + label`` and ``context``, each of
    the last two preceded by its own length (1 byte).
    """
    full = b"tls13 " + label.encode("ascii")
    info = struct.pack("!HB", length, len(full)) + full + bytes([len(context)]) + context
    algorithm = hashes.SHA256() if hash_name == "sha256" else hashes.SHA384()
    return HKDFExpand(algorithm, length, info).derive(secret)


def prf(secret: bytes, label: bytes, seed: bytes, length: int, hash_name: str = "sha256") -> bytes:
    """The TLS 1.2 PRF (RFC 5246 §5): ``P_hash(secret, label + seed)`` cut to ``length``.

    ``A(0) = seed``, ``A(i) = HMAC(secret, A(i-1))``, output ``HMAC(secret, A(1) + seed) +
    HMAC(secret, A(2) + seed) + ...``
    """
    seed = label + seed
    out = b""
    a = seed
    while len(out) < length:
        a = hmac.new(secret, a, hash_name).digest()
        out += hmac.new(secret, a + seed, hash_name).digest()
    return out[:length]


class KeyLog:
    """An NSS key log file: ``LABEL <client random, hex> <secret, hex>`` per line.

    ``keylog.get("CLIENT_TRAFFIC_SECRET_0", client_random)`` is the secret, or None. Lines that
    are comments (``#``) or not three fields are skipped. The file holds secrets: whoever reads
    it decrypts every session in it (see :mod:`wslib.tls`).
    """

    def __init__(self, text: str = "") -> None:
        self.secrets: dict[tuple[str, bytes], bytes] = {}
        for line in text.splitlines():
            fields = line.split()
            if len(fields) != 3 or line.startswith("#"):
                continue
            try:
                self.secrets[(fields[0], bytes.fromhex(fields[1]))] = bytes.fromhex(fields[2])
            except ValueError:
                continue

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> KeyLog:
        with open(path, encoding="ascii", errors="replace") as file:
            return cls(file.read())

    def get(self, label: str, client_random: bytes) -> bytes | None:
        return self.secrets.get((label, client_random))

    def __len__(self) -> int:
        return len(self.secrets)


# --- decryption, one direction --------------------------------------------------------------------


class _Keys:
    """An AEAD key, its IV and the sequence number of the next record (RFC 8446 §5.3)."""

    def __init__(self, suite: CipherSuite, key: bytes, iv: bytes, tls13: bool) -> None:
        self.aead: AESGCM | ChaCha20Poly1305 = (
            AESGCM(key) if suite.cipher == "AES-GCM" else ChaCha20Poly1305(key)
        )
        self.iv = iv
        self.tls13 = tls13
        self.explicit_nonce = suite.cipher == "AES-GCM" and not tls13  # RFC 5288 §3
        self.seq = 0

    def decrypt(self, header: bytes, fragment: bytes) -> bytes:
        seq = struct.pack("!Q", self.seq)
        if self.tls13:
            # RFC 8446 §5.3: the per-record nonce is the IV XOR the 64-bit sequence number,
            # padded on the left to the IV's length; §5.2: the additional data is the header.
            nonce = bytes(a ^ b for a, b in zip(self.iv, bytes(4) + seq, strict=True))
            aad = header
            ciphertext = fragment
        else:
            if self.explicit_nonce:  # salt (4 bytes, from the key block) + explicit (8 bytes)
                nonce, ciphertext = self.iv + fragment[:8], fragment[8:]
            else:  # ChaCha20-Poly1305 (RFC 7905 §2): IV XOR sequence number, as TLS 1.3
                nonce = bytes(a ^ b for a, b in zip(self.iv, bytes(4) + seq, strict=True))
                ciphertext = fragment
            # RFC 5246 §6.2.3.3: seq_num + type + version + length of the plaintext
            aad = seq + header[:3] + struct.pack("!H", len(ciphertext) - 16)
        try:
            plaintext = self.aead.decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise TlsError(
                f"record {self.seq} does not decrypt with the key log's secret"
            ) from None
        self.seq += 1
        return plaintext


class _Direction:
    """One direction of a TLS connection: its records, handshake messages and keys."""

    def __init__(self, session: TlsSession, direction: Direction) -> None:
        self.session = session
        self.direction = direction
        self.buffer = bytearray()
        self.handshake = bytearray()  # handshake messages, possibly split across records
        self.keys: _Keys | None = None
        self.encrypted = False  # this direction's records are encrypted from now on
        self.dead = False

    @property
    def prefix(self) -> str:
        return "CLIENT" if self.direction == "c2s" else "SERVER"

    def feed(self, data: bytes, time: float, packet: int) -> bytes:
        """Bytes of the TCP stream in; the application data decrypted from them out."""
        if self.dead:
            return b""
        self.buffer += data
        out = bytearray()
        while len(self.buffer) >= 5:
            content_type, _version, length = struct.unpack_from("!BHH", self.buffer)
            if content_type not in CONTENT_TYPES or length > 2**14 + 256:
                self.dead = True
                raise TlsError(f"not a TLS record: type {content_type}, length {length}")
            if len(self.buffer) < 5 + length:
                break
            header = bytes(self.buffer[:5])
            fragment = bytes(self.buffer[5 : 5 + length])
            del self.buffer[: 5 + length]
            out += self.record(header, fragment, time, packet)
        return bytes(out)

    def record(self, header: bytes, fragment: bytes, time: float, packet: int) -> bytes:
        content_type = header[0]
        session = self.session
        encrypted = self.encrypted and content_type != _CCS
        if not encrypted:
            session.add(TlsRecord(time, self.direction, content_type, len(fragment), packet, False))
            if content_type == _HANDSHAKE:
                self.handshake += fragment
                self.read_handshake()
            elif content_type == _CCS and not session.tls13:
                # TLS 1.2: this direction's next records use the new keys (RFC 5246 §7.1)
                self.encrypted = True
                self.keys = session.tls12_keys(self.direction)
            return b""
        if self.keys is None:  # no key log, or not this session's secrets
            session.add(TlsRecord(time, self.direction, content_type, len(fragment), packet, True))
            return b""
        plaintext = self.keys.decrypt(header, fragment)
        inner = content_type
        if session.tls13:  # RFC 8446 §5.2: content, then the real type, then zeros
            plaintext = plaintext.rstrip(b"\x00")
            inner, plaintext = plaintext[-1], plaintext[:-1]
        session.add(
            TlsRecord(
                time, self.direction, content_type, len(fragment), packet, True, inner,
                len(plaintext),
            )
        )  # fmt: skip
        if inner == _APPLICATION_DATA:
            session.decrypted = True
            return plaintext
        if inner == _HANDSHAKE:
            self.handshake += plaintext
            self.read_handshake()
        return b""

    def read_handshake(self) -> None:
        """Read the complete handshake messages (RFC 8446 §4: type, 3-byte length, body)."""
        while len(self.handshake) >= 4:
            kind = self.handshake[0]
            length = int.from_bytes(self.handshake[1:4], "big")
            if len(self.handshake) < 4 + length:
                return
            body = bytes(self.handshake[4 : 4 + length])
            del self.handshake[: 4 + length]
            if kind == _CLIENT_HELLO:
                self.session.client_hello(body)
            elif kind == _SERVER_HELLO:
                self.session.server_hello(body)
            elif kind == _FINISHED and self.session.tls13:
                # RFC 8446 §7.1: after its Finished, a side sends with its application secret.
                self.keys = self.session.tls13_keys(f"{self.prefix}_TRAFFIC_SECRET_0")


class TlsSession:
    """The TLS session of one TCP connection, fed the two reassembled byte streams."""

    def __init__(self, keylog: KeyLog | None) -> None:
        self.keylog = keylog
        directions: tuple[Direction, Direction] = ("c2s", "s2c")
        self.halves = {d: _Direction(self, d) for d in directions}
        self.records: list[TlsRecord] = []
        self.client_random: bytes | None = None
        self.server_random: bytes | None = None
        self.server_name: str | None = None
        self.suite: CipherSuite | None = None
        self.suite_code: int | None = None
        self.tls13 = False
        self.decrypted = False
        self.keys_found = False

    def feed(self, direction: Direction, data: bytes, time: float, packet: int) -> bytes:
        return self.halves[direction].feed(data, time, packet)

    def add(self, record: TlsRecord) -> None:
        self.records.append(record)

    def info(self) -> TlsInfo:
        version = "?" if self.suite_code is None else ("TLS 1.3" if self.tls13 else "TLS 1.2")
        suite = (
            self.suite.name
            if self.suite is not None
            else ("?" if self.suite_code is None else f"0x{self.suite_code:04x}")
        )
        return TlsInfo(
            version, suite, self.server_name, list(self.records), self.decrypted, self.keys_found
        )

    # -- the hellos --

    def client_hello(self, body: bytes) -> None:
        """ClientHello (RFC 8446 §4.1.2): the client's random, and the SNI for the record."""
        self.client_random = body[2:34]
        try:
            at = 34
            at += 1 + body[at]  # session id
            at += 2 + int.from_bytes(body[at : at + 2], "big")  # cipher suites
            at += 1 + body[at]  # compression methods
            for kind, data in _extensions(body, at):
                if kind == 0 and len(data) > 5:  # server_name (RFC 6066 §3): one host_name
                    self.server_name = data[5:].decode("ascii", "replace")
        except IndexError:
            pass

    def server_hello(self, body: bytes) -> None:
        """ServerHello (RFC 8446 §4.1.3): the server's random, the suite, the version."""
        self.server_random = body[2:34]
        if self.server_random == _HELLO_RETRY:
            raise TlsError("a HelloRetryRequest: not covered by this dissector")
        at = 34 + 1 + body[34]
        self.suite_code = int.from_bytes(body[at : at + 2], "big")
        self.suite = CIPHER_SUITES.get(self.suite_code)
        for kind, data in _extensions(body, at + 3):
            if kind == _SUPPORTED_VERSIONS and data == b"\x03\x04":
                self.tls13 = True
        if self.tls13:  # RFC 8446 §7.1: everything after the ServerHello is encrypted
            for half in self.halves.values():
                half.encrypted = True
                half.keys = self.tls13_keys(f"{half.prefix}_HANDSHAKE_TRAFFIC_SECRET")

    # -- the keys --

    def tls13_keys(self, label: str) -> _Keys | None:
        if self.keylog is None or self.suite is None or self.client_random is None:
            return None
        secret = self.keylog.get(label, self.client_random)
        if secret is None:
            return None
        self.keys_found = True
        suite = self.suite
        key = hkdf_expand_label(secret, "key", b"", suite.key_length, suite.hash)
        iv = hkdf_expand_label(secret, "iv", b"", 12, suite.hash)
        return _Keys(suite, key, iv, tls13=True)

    def tls12_keys(self, direction: Direction) -> _Keys | None:
        if (
            self.keylog is None
            or self.suite is None
            or self.client_random is None
            or self.server_random is None
        ):
            return None
        master = self.keylog.get("CLIENT_RANDOM", self.client_random)
        if master is None:
            return None
        self.keys_found = True
        suite = self.suite
        iv_length = 4 if suite.cipher == "AES-GCM" else 12
        # RFC 5246 §6.3: client key, server key, client IV, server IV (no MAC keys with AEAD)
        block = prf(
            master,
            b"key expansion",
            self.server_random + self.client_random,
            2 * (suite.key_length + iv_length),
            suite.hash,
        )
        n = suite.key_length
        client_key, server_key = block[:n], block[n : 2 * n]
        client_iv, server_iv = block[2 * n : 2 * n + iv_length], block[2 * n + iv_length :]
        if direction == "c2s":
            return _Keys(suite, client_key, client_iv, tls13=False)
        return _Keys(suite, server_key, server_iv, tls13=False)


def _extensions(body: bytes, at: int) -> list[tuple[int, bytes]]:
    """The extensions of a hello (type, data), from the offset of their total length."""
    if at + 2 > len(body):
        return []
    end = at + 2 + int.from_bytes(body[at : at + 2], "big")
    at += 2
    found = []
    while at + 4 <= end:
        kind, length = struct.unpack_from("!HH", body, at)
        found.append((kind, body[at + 4 : at + 4 + length]))
        at += 4 + length
    return found


def looks_like_client_hello(data: bytes) -> bool:
    """Do these first bytes of a stream start a TLS handshake record with a ClientHello?"""
    return len(data) >= 6 and data[0] == _HANDSHAKE and data[1] == 3 and data[5] == _CLIENT_HELLO
