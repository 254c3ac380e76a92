"""TLS for ``wss://`` (RFC 6455 §4.1, §11.1.2): the SSL contexts and the key log; no sockets.

A ``wss://`` connection is the same WebSocket inside a TLS session: TCP, then the TLS
handshake, then the HTTP upgrade and the frames as application data (RFC 6455 §4.1: "If
/secure/ is true, the client MUST perform a TLS handshake over the connection after opening
the connection and before sending the handshake data"). Both I/O models (``wslib.sync`` and
``wslib.asyncio``) build their contexts here and do the handshake on their own sockets::

    ctx = wslib.tls.client_context(cafile="ca.pem")           # trust a local CA
    conn = wslib.connect("wss://localhost:8443/", ssl=ctx)

    srv = wslib.tls.server_context("server.pem")               # certificate + private key
    server = wslib.serve(handler, ssl=srv)

- **Verification is on**: a client context checks the server's certificate chain against the
  trust store (the system's, or the CA you give) and the host name against the certificate
  (RFC 6125). A failure is a :class:`CertificateVerificationError` that names the cause and the
  fix: make the client trust the CA that signed the server's certificate. Turning verification
  off (``CERT_NONE``) is never the fix: it lets anyone on the path read and change the traffic.
- **The key log** (``keylog=`` or the ``SSLKEYLOGFILE`` environment variable, as browsers and
  curl honour it) appends the session secrets in the NSS key log format, one line per secret,
  so that Wireshark, tshark or :mod:`wslib.lab.dissect` can decrypt a capture. It is a
  debugging tool: anyone who reads that file can decrypt every session it logged. Use it on
  your own machine with throwaway keys, never on a production server.
"""

from __future__ import annotations

import os
import ssl
from typing import Union

from .exceptions import HandshakeError

__all__ = [
    "KEYLOG_ENV",
    "CertificateVerificationError",
    "client_context",
    "explain_tls_failure",
    "keylog_path",
    "server_context",
]

#: The environment variable that browsers, curl and Python's ssl module read for a key log path.
KEYLOG_ENV = "SSLKEYLOGFILE"

StrPath = Union[str, "os.PathLike[str]"]


class CertificateVerificationError(HandshakeError):
    """The server's certificate is not trusted, or is not for this host: the client gives up.

    ``reason`` is OpenSSL's (``"self-signed certificate in certificate chain"``,
    ``"Hostname mismatch, certificate is not valid for 'example.org'."``); the message says
    what to do about it. Nothing goes on the wire but a TLS alert: the upgrade never starts.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def keylog_path(keylog: StrPath | None = None) -> str | None:
    """The key log file to use: ``keylog`` if given, else ``$SSLKEYLOGFILE``, else None."""
    if keylog is not None:
        return os.fspath(keylog)
    return os.environ.get(KEYLOG_ENV) or None


def _set_keylog(context: ssl.SSLContext, keylog: StrPath | None) -> None:
    path = keylog_path(keylog)
    if path is not None:
        # OpenSSL appends "CLIENT_RANDOM ..." (TLS 1.2) or "*_TRAFFIC_SECRET_* ..." (TLS 1.3)
        # lines to this file for each session: whoever reads it can decrypt those sessions.
        context.keylog_filename = path


def client_context(
    *,
    cafile: StrPath | None = None,
    cadata: str | bytes | None = None,
    keylog: StrPath | None = None,
) -> ssl.SSLContext:
    """A client context for ``wss://``: certificate and host name verification on.

    Without ``cafile``/``cadata`` it trusts the system's store (what a browser trusts); with
    them, only that CA (a local CA from :mod:`wslib.lab.certs`, a company CA). ``keylog``: a
    path where the session secrets are appended (default: ``$SSLKEYLOGFILE``; see the module
    docstring for the risk).
    """
    # create_default_context: CERT_REQUIRED, check_hostname=True, TLS 1.2 at least.
    context = ssl.create_default_context(cafile=cafile, cadata=cadata)
    _set_keylog(context, keylog)
    return context


def server_context(
    certfile: StrPath,
    keyfile: StrPath | None = None,
    *,
    keylog: StrPath | None = None,
) -> ssl.SSLContext:
    """A server context: the certificate chain ``certfile`` (PEM) and its private key.

    ``keyfile`` when the key is not in ``certfile``. ``keylog`` as for :func:`client_context`.
    The server does not ask clients for certificates (browsers do not send one).
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile)
    _set_keylog(context, keylog)
    return context


def explain_tls_failure(error: ssl.SSLError | OSError, authority: str) -> Exception:
    """Turn a failed TLS handshake with ``authority`` into one error that names cause and fix.

    A failed verification becomes :class:`CertificateVerificationError`; a server that does
    not speak TLS (a ``ws://`` server behind a ``wss://`` URL) an :class:`OSError` that says so;
    anything else is returned unchanged.
    """
    if isinstance(error, ssl.SSLCertVerificationError):
        why: str = error.verify_message or error.reason or str(error)
        if "hostname" in why.lower() or "ip address mismatch" in why.lower():
            fix = (
                f"connect with the name the certificate was made for, or give the server a "
                f"certificate that lists {authority.rsplit(':', 1)[0]!r}"
            )
        else:
            fix = (
                "make the client trust the CA that signed the server's certificate: "
                "client_context(cafile='ca.pem') for a local or company CA "
                "(do not turn verification off: then anyone on the path can read the traffic)"
            )
        return CertificateVerificationError(
            f"the certificate of {authority} cannot be verified ({why}): {fix}", why
        )
    reason = getattr(error, "reason", None)
    if reason in (
        "WRONG_VERSION_NUMBER",
        "RECORD_LAYER_FAILURE",
        "UNEXPECTED_EOF_WHILE_READING",
    ) or (isinstance(error, (ssl.SSLEOFError, ConnectionResetError))):
        return ConnectionError(
            f"{authority} did not answer the TLS handshake ({reason or error}): is it a plain "
            "ws:// server? Use ws:// for it, or start it with ssl="
        )
    return error
