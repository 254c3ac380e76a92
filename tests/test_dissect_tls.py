"""wslib.lab.dissect.tls: TLS records in a capture, decrypted with an NSS key log.

Key derivation against published vectors (RFC 8448 for TLS 1.3's HKDF-Expand-Label, the
IETF TLS list's vector for the TLS 1.2 PRF), the shipped wss:// captures with and without their
key logs, and live captures in each cipher suite wslib decrypts (TLS 1.2 and 1.3, AES-GCM and
ChaCha20-Poly1305), cross-checked against tshark when it is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from wslib.lab import tools
from wslib.lab.dissect import conversations
from wslib.lab.dissect.tls import CIPHER_SUITES, KeyLog, hkdf_expand_label, prf
from wslib.lab.dump import main as dump

from .conftest import ROOT
from .test_tshark import compare

PCAPS = ROOT / "data" / "pcaps"
ECHO = PCAPS / "wss-echo-123-456.pcap"
ECHO_KEYS = PCAPS / "wss-echo-123-456.keys"


# --- key derivation -------------------------------------------------------------------------------


def test_hkdf_expand_label_rfc8448_server_handshake_keys() -> None:
    # RFC 8448 §3, "{server} derive write traffic keys for handshake data"
    secret = bytes.fromhex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
    assert hkdf_expand_label(secret, "key", b"", 16).hex() == "3fce516009c21727d0f2e4e86ee403bc"
    assert hkdf_expand_label(secret, "iv", b"", 12).hex() == "5d313eb2671276ee13000b30"


def test_tls12_prf_sha256_vector() -> None:
    # The P_SHA256 test vector posted to the IETF TLS list (widely used by implementations)
    out = prf(
        bytes.fromhex("9bbe436ba940f017b17652849a71db35"),
        b"test label",
        bytes.fromhex("a0ba9f936cda311827a6f796ffd5198c"),
        100,
    )
    assert out.hex().startswith("e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a")
    assert out.hex().endswith("a48082d122ee42c5a72e5a5110fff70187347b66")


def test_keylog_skips_comments_and_broken_lines() -> None:
    keylog = KeyLog(
        "# a comment\nCLIENT_RANDOM 0a0b 0102\nnot a line\nCLIENT_RANDOM zz 00\n"
        "CLIENT_TRAFFIC_SECRET_0 0a0b ff\n"
    )
    assert len(keylog) == 2
    assert keylog.get("CLIENT_RANDOM", b"\x0a\x0b") == b"\x01\x02"
    assert keylog.get("SERVER_TRAFFIC_SECRET_0", b"\x0a\x0b") is None


# --- the shipped captures -------------------------------------------------------------------------


def test_without_the_key_log_the_connection_is_listed_as_encrypted() -> None:
    (conv,) = conversations(ECHO)
    assert conv.kind == "tls" and conv.tls is not None
    assert conv.frames == [] and conv.request is None and conv.errors == []
    assert conv.tls.summary() == f"encrypted: {len(conv.tls.records)} TLS records, pass --keylog"
    kinds = {r.kind for r in conv.tls.records}
    assert kinds == {"handshake", "change_cipher_spec", "application_data"}


def test_with_the_key_log_the_same_frames_as_over_plain_tcp() -> None:
    (conv,) = conversations(ECHO, keylog=ECHO_KEYS)
    (plain,) = conversations(PCAPS / "echo-123-456.pcap")
    assert conv.kind == "websocket" and conv.errors == []
    assert conv.tls is not None and conv.tls.decrypted
    assert conv.tls.version == "TLS 1.3" and conv.tls.server_name == "localhost"

    def shape(c: object) -> list[tuple[str, str, bool, str | None, int | None]]:
        return [
            (f.direction, f.opcode_name, f.masked, f.text, f.close_code)
            for f in c.frames  # type: ignore[attr-defined]
        ]

    assert shape(conv) == shape(plain)
    assert conv.request is not None and conv.request.start_line == "GET / HTTP/1.1"


def test_tls12_chacha20_capture_decrypts() -> None:
    path = PCAPS / "wss-sizes.pcap"
    (conv,) = conversations(path, keylog=path.with_suffix(".keys"), max_payload=1 << 20)
    assert conv.tls is not None
    assert (conv.tls.version, conv.tls.cipher_suite) == (
        "TLS 1.2",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    )
    texts = [f.length for f in conv.frames_from("c2s") if f.opcode_name == "TEXT"]
    assert texts == [1, 10, 100, 1_000, 10_000, 20_000]


def test_nginx_capture_one_leg_encrypted_one_plain() -> None:
    path = PCAPS / "nginx-tls-both-legs.pcap"
    public, private = conversations(path)
    assert (public.kind, private.kind) == ("tls", "websocket")
    decrypted = conversations(path, keylog=path.with_suffix(".keys"))
    assert [c.kind for c in decrypted] == ["websocket", "websocket"]
    texts = [[f.text for f in c.frames if f.opcode_name == "TEXT"] for c in decrypted]
    assert texts[0] == texts[1] == ["123", "123", "456", "456"]


def test_keys_of_another_session_do_not_decrypt() -> None:
    other = PCAPS / "nginx-tls-both-legs.keys"
    (conv,) = conversations(ECHO, keylog=other)
    assert conv.kind == "tls" and conv.tls is not None and not conv.tls.keys_found
    assert "pass --keylog" in conv.tls.summary()


def test_a_wrong_secret_is_an_error_not_garbage(tmp_path: Path) -> None:
    lines = []
    for line in ECHO_KEYS.read_text().splitlines():
        if line.startswith("#"):
            continue
        label, random, secret = line.split()
        flipped = format(int(secret[0], 16) ^ 1, "x") + secret[1:]
        lines.append(f"{label} {random} {flipped}")
    bad = tmp_path / "bad.keys"
    bad.write_text("\n".join(lines) + "\n")
    (conv,) = conversations(ECHO, keylog=bad)
    assert conv.frames == []
    assert [e.error for e in conv.errors] == ["TLS", "TLS"]  # each direction stops
    assert "does not decrypt" in conv.errors[0].message
    assert conv.tls is not None and "did not decrypt" in conv.tls.summary()


def test_dump_keylog_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert dump([str(ECHO)]) == 0
    out = capsys.readouterr().out
    assert "TLS: encrypted: " in out and "pass --keylog" in out and "TEXT" not in out
    assert dump([str(ECHO), "--keylog", str(ECHO_KEYS)]) == 0
    out = capsys.readouterr().out
    assert "decrypted with the key log" in out and out.count("TEXT") == 4
    assert dump([str(ECHO), "--keylog", "/nonexistent.keys"]) == 1
    assert "cannot read the key log" in capsys.readouterr().err


# --- live, in each cipher suite -------------------------------------------------------------------

RECORD = textwrap.dedent(
    """
    import ssl, sys, wslib
    from wslib.lab.capture import capture
    from wslib.lab.certs import LocalCA
    from wslib.lab.wss import _echo, _KeyLog
    version, ciphers, out = sys.argv[1], sys.argv[2], sys.argv[3]
    with LocalCA() as ca, _KeyLog() as keys:
        ctx = ca.server_context(keylog=keys.path)
        if version == "1.2":
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers(ciphers)
        with wslib.serve(_echo, ssl=ctx) as server, capture([server.port], grace=0.3) as cap:
            with wslib.connect(f"wss://localhost:{server.port}/", ssl=ca.client_context()) as c:
                for text in ("123", "x" * 20000):
                    c.send(text)
                    assert c.recv(timeout=5) == text
        cap.keylog = keys.text
    cap.write(out)
    """
)

SUITES = [
    ("1.3", "TLS_AES_128_GCM_SHA256"),
    ("1.3", "TLS_AES_256_GCM_SHA384"),
    ("1.3", "TLS_CHACHA20_POLY1305_SHA256"),
    ("1.2", "ECDHE-ECDSA-AES128-GCM-SHA256"),
    ("1.2", "ECDHE-ECDSA-AES256-GCM-SHA384"),
    ("1.2", "ECDHE-ECDSA-CHACHA20-POLY1305"),
]


@pytest.mark.skipif(not tools.capture_privileges(), reason="live capture needs root/CAP_NET_RAW")
@pytest.mark.parametrize(("version", "suite"), SUITES, ids=[s for _, s in SUITES])
def test_live_capture_decrypts_in_each_suite(tmp_path: Path, version: str, suite: str) -> None:
    env = dict(os.environ)
    if version == "1.3":  # Python cannot choose TLS 1.3 suites: OpenSSL's configuration can
        conf = tmp_path / "openssl.cnf"
        conf.write_text(
            "openssl_conf = conf\n[conf]\nssl_conf = ssl\n[ssl]\nsystem_default = tls\n"
            f"[tls]\nCiphersuites = {suite}\n"
        )
        env["OPENSSL_CONF"] = str(conf)
    out = tmp_path / "live.pcap"
    done = subprocess.run(
        [sys.executable, "-c", RECORD, version, suite, str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (conv,) = conversations(out, keylog=out.with_suffix(".keys"), max_payload=1 << 20)
    assert conv.errors == [] and conv.tls is not None
    assert conv.tls.version == f"TLS {version}"
    wanted = suite.replace("-", "_")
    assert conv.tls.cipher_suite in {s.name for s in CIPHER_SUITES.values()}
    if version == "1.3":
        assert conv.tls.cipher_suite == wanted
    else:
        assert ("CHACHA20" in wanted) == ("CHACHA20" in conv.tls.cipher_suite)
        assert ("AES256" in wanted) == ("AES_256" in conv.tls.cipher_suite)
    assert [f.length for f in conv.frames if f.opcode_name == "TEXT"] == [3, 3, 20000, 20000]
    if shutil.which("tshark"):
        assert compare(out) == 6  # four text frames and two close frames, as tshark sees them
