"""Throwaway certificates for ``wss://`` on this machine: a local CA and a server certificate.

A browser or client trusts a server's certificate when a CA it trusts signed it, and when the
certificate names the host in the URL (RFC 6125). On ``127.0.0.1`` no public CA will sign
anything, so the series makes its own CA, on the fly, with the ``trustme`` package (built for
exactly this), and tells each client to trust *that* CA and nothing else. Nothing is fetched from
the internet; the files go to a fresh temporary directory that :meth:`LocalCA.cleanup` removes::

    from wslib.lab.certs import LocalCA
    with LocalCA() as ca:
        server = wslib.serve(echo, ssl=ca.server_context())
        conn = wslib.connect(f"wss://localhost:{server.port}/", ssl=ca.client_context())

Throwaway keys: a new CA every time, its private key in memory and in the temp directory only.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import ssl
import tempfile
from pathlib import Path
from types import TracebackType

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..tls import StrPath, client_context, server_context

__all__ = ["HOSTS", "LocalCA", "spki_sha256"]

#: The names the server certificate is valid for.
HOSTS = ("localhost", "127.0.0.1", "::1")


def spki_sha256(cert_pem: bytes) -> str:
    """Base64 of the SHA-256 of a certificate's public key (SubjectPublicKeyInfo).

    What Chromium's ``--ignore-certificate-errors-spki-list`` takes: trust certificates with
    this key, and only those, without touching the system's trust store.
    """
    cert = x509.load_pem_x509_certificate(cert_pem)
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


class LocalCA:
    """A throwaway CA and one server certificate for ``localhost``/``127.0.0.1``/``::1``.

    ``ca_pem``: the CA's certificate, what clients trust (``ca.pem`` in :attr:`directory`).
    ``server_pem``: the server's certificate chain and private key (``server.pem``).
    """

    def __init__(self, hosts: tuple[str, ...] = HOSTS, directory: StrPath | None = None) -> None:
        self._ca = trustme.CA(organization_name="wslib throwaway local CA")
        self._cert = self._ca.issue_cert(*hosts)
        self.hosts = hosts
        self._own_directory = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="wslib-ca-"))
        self.ca_pem = self.directory / "ca.pem"
        self.server_pem = self.directory / "server.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_pem))
        # The server's file: its private key, then its certificate (what nginx and
        # load_cert_chain read), readable by this user only.
        self._cert.private_key_and_cert_chain_pem.write_to_path(str(self.server_pem))
        os.chmod(self.server_pem, 0o600)

    @property
    def server_cert_pem(self) -> bytes:
        """The server's certificate alone (PEM)."""
        return self._cert.cert_chain_pems[0].bytes()

    @property
    def spki(self) -> str:
        """:func:`spki_sha256` of the server certificate (for Chromium's command line)."""
        return spki_sha256(self.server_cert_pem)

    def server_context(self, *, keylog: StrPath | None = None) -> ssl.SSLContext:
        """A server context with this certificate (:func:`wslib.tls.server_context`)."""
        return server_context(self.server_pem, keylog=keylog)

    def client_context(self, *, keylog: StrPath | None = None) -> ssl.SSLContext:
        """A client context that trusts this CA only (:func:`wslib.tls.client_context`)."""
        return client_context(cafile=self.ca_pem, keylog=keylog)

    def cleanup(self) -> None:
        """Remove the files (the temporary directory, if this object made it)."""
        if self._own_directory:
            shutil.rmtree(self.directory, ignore_errors=True)
        else:
            for path in (self.ca_pem, self.server_pem):
                path.unlink(missing_ok=True)

    def __enter__(self) -> LocalCA:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()
