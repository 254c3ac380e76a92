"""A threaded WebSocket server on top of :mod:`wslib.protocol`: the article's server, done right.

A complete echo server, in a notebook cell or a script::

    import wslib

    def echo(conn):
        for message in conn:      # str for a text message, bytes for a binary one
            conn.send(message)    # ... sent back as the same kind

    with wslib.serve(echo) as server:          # serving in the background already
        print(f"ws://127.0.0.1:{server.port}/")
        ...                                     # on exit: every connection closed with 1001

Thread model (like the article: one thread per connection, plus one reader)
-------------------------------------------------------------------------------

- **One acceptor thread** per server waits for new TCP connections (``accept()``) and starts
  a connection thread for each. It never waits for a client, and one connection that goes
  wrong never stops it: a thread that cannot start (a thread or memory limit) refuses that
  connection, and ``accept()`` failing (out of file descriptors: the next connections wait in
  the kernel's backlog) is logged once per burst and retried less and less often.
- **One connection thread** per TCP connection does the TLS handshake when the server has
  ``ssl=`` (never the acceptor: a slow client must not hold up the others), reads the opening
  handshake (RFC 6455 §4.2),
  answers it (101, an HTTP error, or the HTML page for a plain ``GET``), then runs *your
  handler* in that same thread, as the article did.
- **One reader thread** per WebSocket connection reads the socket, feeds the sans-I/O
  :class:`wslib.protocol.Connection`, answers pings and close frames, sends keepalive pings and
  queues messages for the handler. Without it, a handler that is busy (say, pushing the
  progress of a long task) would leave pings and close frames unanswered. The ``websockets``
  library's threaded implementation (``websockets.sync``) does the same.

So a WebSocket connection costs two threads. Everything that touches the protocol object and
writes to the socket holds one lock per connection, so :meth:`SyncConnection.send` is safe
from any thread: that is how a server *pushes* (see :meth:`Server.broadcast`).

How many threads, at most: 1 (the acceptor), plus 2 per open connection (``max_connections``
bounds them), plus 1 per handshake in progress. Those are bounded by
``max_pending_handshakes``: when that many clients are still in their handshake, a newcomer
pushes out the *oldest* one (its socket is shut down and its thread ends at once). A real
client finishes its handshake within a round trip, so it is rarely the oldest; an attacker who
opens silent connections only pushes out its own. Pushed-out threads that have not ended yet
count too: past twice the limit, a newcomer gets ``503`` at once.

Every wait has a time bound: the handshake (``open_timeout``), the closing handshake
(``close_timeout``), each write to a peer that does not read (``close_timeout`` too), a message
that the peer started (``message_timeout``, off by default: see :func:`serve`), and the joins of
every thread when the server stops.
"""

from __future__ import annotations

import select
import socket
import ssl as _ssl
import threading
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from types import TracebackType
from typing import Any

from ..deflate import DeflateConfig, compression_config
from ..exceptions import (
    ConnectionClosed,
    InvalidRequest,
)
from ..frames import is_sendable_close_code
from ..handshake import Headers, Request, Response
from ..limits import AddressCounter, rate_limit
from ..messages import MAX_FRAGMENTS
from ..origins import OriginPolicy
from ..protocol import (
    Connection,
    Side,
    State,
)
from ..serving import (
    PendingHandshakes,
    answer_bad_request,
    answer_request,
    busy_response,
    http_response,
    too_many_response,
)
from ..streams import StreamReader
from ..trace import Trace, make_tracer
from ..trace import frame_tracer as _frame_tracer
from .connection import (
    TICK,
    Message,
    SyncConnection,
    end_tcp_gracefully,
    logger,
    read_until_parsed,
)

__all__ = [
    "Handler",
    "Message",
    "Server",
    "ServerConnection",
    "serve",
]

#: A handler is a function of one connection; it runs in the connection's own thread.
Handler = Callable[["ServerConnection"], Any]


class ServerConnection(SyncConnection):
    """The connection a handler receives: :class:`SyncConnection` plus the client's request.

    ``conn.path`` is the request path (``/chat?room=1``), ``conn.request_headers`` its headers
    (behind a proxy, ``conn.request_headers.get("X-Forwarded-For")`` names the real client),
    ``conn.remote_address`` the TCP peer and ``conn.subprotocol`` the one negotiated.
    """

    def __init__(self, sock: socket.socket, protocol: Connection, request: Request, **kw: Any):
        super().__init__(sock, protocol, **kw)
        self.request = request

    @property
    def path(self) -> str:
        return self.request.path

    @property
    def request_headers(self) -> Headers:
        return self.request.headers

    def __repr__(self) -> str:
        return f"<ServerConnection {self.remote_address} {self.path} {self.state.name}>"


# --- the server -----------------------------------------------------------------------------------


def _who(address: Any) -> str:
    return "{}:{}".format(*address[:2]) if isinstance(address, tuple) else str(address)


#: The first byte of a TLS connection: a handshake record, ContentType 22 (RFC 8446 §5.1).
_TLS_HANDSHAKE = b"\x16"


def _peek(sock: socket.socket, deadline: float) -> bytes:
    """The first bytes the client sent, left in the socket; b"" at EOF. Waits up to deadline."""
    sock.settimeout(max(deadline - time.monotonic(), 0.001))
    return sock.recv(8, socket.MSG_PEEK)


def _host(address: Any) -> str:
    """The client's address without its port: what per-address limits count."""
    return str(address[0]) if isinstance(address, tuple) else str(address)


def _refuse_at_once(sock: socket.socket, response: Response) -> None:
    """Answer a connection we will not serve with ``response``, from the acceptor: a few hundred
    bytes fit in any socket buffer, so this never blocks; then close."""
    try:
        sock.setblocking(False)
        sock.send(response.serialize())
    except OSError:
        pass
    sock.close()


def _plain_http_on_tls_port() -> Response:
    """``400``: plain HTTP reached the TLS port (what nginx answers too), in plain text."""
    return http_response(
        HTTPStatus.BAD_REQUEST,
        b"This port speaks TLS: use wss:// (or https://) for it.\n",
        "text/plain; charset=utf-8",
    )


#: How long the acceptor waits after a failed ``accept()`` at first; it doubles up to TICK.
ACCEPT_BACKOFF = 0.05


class Server:
    """A running WebSocket server; :func:`serve` makes one. Stop it with :meth:`close`.

    ``server.port`` is the bound port, ``server.connections`` the open connections and
    :meth:`broadcast` sends one message to all of them. A context manager: leaving the
    ``with`` block closes the server.
    """

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        open_timeout: float = 10.0,
        close_timeout: float = 10.0,
        message_timeout: float | None = None,
        max_connections: int | None = None,
        max_pending_handshakes: int = 128,
        origins: Iterable[str | None] | None = None,
        subprotocols: Iterable[str] = (),
        max_size: int | None = 2**20,
        max_fragments: int | None = MAX_FRAGMENTS,
        max_queue: int = 16,
        trace: Trace = False,
        ssl: _ssl.SSLContext | None = None,
        write_limit: int | None = None,
        max_connections_per_address: int | None = None,
        max_message_rate: float | None = None,
        message_burst: int | None = None,
        compression: str | DeflateConfig | None = None,
    ) -> None:
        # Before binding: ValueError for a limit under 1.
        handshaking: PendingHandshakes[socket.socket] = PendingHandshakes(max_pending_handshakes)
        self.handler = handler
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.open_timeout = open_timeout
        self.close_timeout = close_timeout
        self.message_timeout = message_timeout
        self.max_connections = max_connections
        self.max_pending_handshakes = max_pending_handshakes
        # Parsed now: a typo in the list fails here, not at the first handshake.
        self.origins = None if origins is None else OriginPolicy(origins)
        self.subprotocols = list(subprotocols)
        self.max_size = max_size
        self.max_fragments = max_fragments
        self.max_queue = max_queue
        self.trace = trace
        self.ssl = ssl  # wss://: a server context (wslib.tls.server_context)
        self.scheme = "ws" if ssl is None else "wss"
        self.write_limit = write_limit
        # Abuse limits (wslib.limits): open connections per client address, messages per second.
        self._addresses = (
            None
            if max_connections_per_address is None
            else AddressCounter(max_connections_per_address)
        )
        self.max_message_rate = max_message_rate
        self.message_burst = message_burst
        rate_limit(max_message_rate, message_burst)  # ValueError now for a nonsense limit
        self.compression = compression_config(compression)

        # A backlog of 1024: a burst of connections waits in the kernel, not refused.
        self.socket = socket.create_server((host, port), backlog=1024)
        self.host: str = self.socket.getsockname()[0]
        self.port: int = self.socket.getsockname()[1]
        # A socket pair to wake the acceptor up when the server closes.
        self._wakeup_recv, self._wakeup_send = socket.socketpair()
        self._stopping = threading.Event()  # set by close(): ends the acceptor's waits
        self._lock = threading.Lock()
        self._closing = False
        self._goodbye = (1001, "server shutting down")  # the close code and reason of close()
        self._connections: set[ServerConnection] = set()
        # The sockets whose thread is in the opening handshake, oldest first, pushed-out ones
        # included. A thread removes its socket before closing it, so close() never shuts down
        # a reused descriptor.
        self._handshaking = handshaking
        self._opening = 0  # handshakes past their checks whose connection is not registered yet
        self._threads: set[threading.Thread] = set()  # connection threads (all started)
        self._acceptor = threading.Thread(
            target=self._accept_loop, name=f"wslib-server-{self.port}", daemon=True
        )
        try:
            self._acceptor.start()
        except BaseException:  # no thread, no server: release the port
            for sock in (self.socket, self._wakeup_recv, self._wakeup_send):
                sock.close()
            raise
        logger.info("serving on %s://%s:%d/", self.scheme, self.host, self.port)

    def __repr__(self) -> str:
        state = "closed" if self._closing else "serving"
        where = f"{self.scheme}://{self.host}:{self.port}/"
        return f"<Server {where} {state}, {len(self._connections)} open>"

    # --- accepting --------------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        """The acceptor thread: accept each TCP connection and start its connection thread."""
        poller = select.poll() if hasattr(select, "poll") else None
        if poller is not None:
            poller.register(self.socket, select.POLLIN)
            poller.register(self._wakeup_recv, select.POLLIN)
        failures = 0  # accept() calls failed in a row
        while not self._closing:
            if poller is not None:
                ready = {fd for fd, _ in poller.poll(int(TICK * 1000))}
                if self._wakeup_recv.fileno() in ready:
                    break
                if self.socket.fileno() not in ready:
                    continue
            else:  # pragma: no cover - Windows
                readable, _, _ = select.select([self.socket, self._wakeup_recv], [], [], TICK)
                if self._wakeup_recv in readable:
                    break
                if not readable:
                    continue
            try:
                sock, address = self.socket.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                continue
            except OSError as error:
                # Out of file descriptors (EMFILE, ENFILE) or of memory: the connection waits in
                # the kernel's backlog, and poll() says "ready" again at once. One line for the
                # whole burst, and a longer wait after each failure, up to TICK.
                if failures == 0:
                    logger.warning("accept() failed: %s; retrying less and less often", error)
                failures += 1
                self._stopping.wait(min(TICK, ACCEPT_BACKOFF * 2**failures))
                continue
            if failures:
                logger.warning("accept() works again after %d failures", failures)
                failures = 0
            try:  # small messages go out at once rather than wait to be merged (Nagle)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # pragma: no cover - the client is already gone
                pass
            self._start_connection_thread(sock, address)

    def _start_connection_thread(self, sock: socket.socket, address: Any) -> None:
        """Give a new TCP connection its thread, or refuse it at once; never wait for anyone."""
        thread = threading.Thread(
            target=self._handle, args=(sock, address), name=f"wslib-conn-{address}", daemon=True
        )
        refusal: Response | None = None
        with self._lock:
            if self._closing:
                sock.close()
                return
            if self._addresses is not None and not self._addresses.acquire(_host(address)):
                logger.info("refused %s: too many connections from that address", _who(address))
                refusal = too_many_response("too many connections from your address")
            else:
                admission = self._handshaking.admit(sock)  # wslib.serving: who is pushed out
                if admission.refuse:
                    # Pushed-out threads have not ended yet (a very busy machine): no more threads.
                    reason = "too many handshakes in progress"
                else:
                    if admission.push_out is not None:
                        self._push_out(admission.push_out)
                    try:
                        # Under the lock: the new thread cannot finish before it is registered.
                        thread.start()
                        reason = ""
                    except RuntimeError as error:  # "can't start new thread": a thread limit
                        reason = f"cannot start a thread ({error})"
                        self._handshaking.end(sock)
                    else:
                        self._threads.add(thread)
                if reason:
                    logger.warning("refused %s: %s", _who(address), reason)
                    refusal = busy_response("the server is overloaded; try again later")
                    if self._addresses is not None:
                        self._addresses.release(_host(address))
        if refusal is not None:
            _refuse_at_once(sock, refusal)

    def _push_out(self, oldest: socket.socket) -> None:
        """Shut down the socket that has waited longest for its handshake. Hold the lock."""
        try:
            oldest.shutdown(socket.SHUT_RDWR)  # its thread's recv() returns at once: it ends
        except OSError:
            pass
        logger.info("pushed out the oldest of %d handshakes in progress", len(self._handshaking))

    def _end_handshake(self, sock: socket.socket) -> None:
        """This socket's thread leaves the opening handshake (or ends). Hold the lock."""
        self._handshaking.end(sock)

    # --- one connection ---------------------------------------------------------------------------

    def _handle(self, sock: socket.socket, address: Any) -> None:
        """The connection thread: handshake, then the handler, then the closing handshake."""
        who = _who(address)
        trace_line = make_tracer(self.trace, f"[server, client {who}]")
        conn: ServerConnection | None = None
        # The TLS handshake and the opening handshake together: within open_timeout.
        deadline = time.monotonic() + self.open_timeout
        try:
            if self.ssl is not None:
                sock, ok = self._start_tls(sock, who, deadline)
                if not ok:
                    return
            conn = self._handshake(sock, who, trace_line, deadline)
            if conn is None:
                return
            code = 1000  # the handler returned: a normal closure
            try:
                self.handler(conn)
            except ConnectionClosed:
                pass  # the peer went away in the middle of the handler: nothing to report
            except Exception:
                logger.exception("the handler failed on %s", who)
                # RFC 6455 §7.4.1: 1011 "unexpected condition", without the details
                code = 1011
            conn.close(code, "")  # if not closed yet; waits for the reader thread in any case
        except Exception:  # pragma: no cover - a bug in wslib: log it, never crash the server
            logger.exception("unexpected error on %s", who)
        finally:
            with self._lock:
                self._end_handshake(sock)  # before closing it (see __init__)
                if conn is not None:
                    self._connections.discard(conn)
                self._threads.discard(threading.current_thread())
                if self._addresses is not None:
                    self._addresses.release(_host(address))
            if conn is None:
                sock.close()

    def _send_response(self, sock: socket.socket, response: Response, trace: Any) -> None:
        """Answer with an HTTP response and end TCP; the connection thread closes the socket."""
        if trace is not None:
            trace(f"> {response.version} {response.status} {response.reason}")
        try:
            sock.settimeout(self.close_timeout)
            sock.sendall(response.serialize())
        except OSError:
            pass
        end_tcp_gracefully(sock)

    def _start_tls(
        self, sock: socket.socket, who: str, deadline: float
    ) -> tuple[socket.socket, bool]:
        """The server side of the TLS handshake; the socket to use from now on, and success.

        The first byte tells what the client speaks: 22 is a TLS handshake record (RFC 8446
        §5.1); letters are plain HTTP (``ws://`` or ``http://`` to the TLS port), which gets a
        plain-text 400 that says to use ``wss://``, as nginx answers on its HTTPS port.
        """
        try:
            first = _peek(sock, deadline)
        except OSError as error:  # TimeoutError included: nobody to answer
            logger.info("no TLS handshake from %s: %s", who, error or type(error).__name__)
            return sock, False
        if not first:  # gone (or pushed out) before its first byte
            logger.info("no TLS handshake from %s: closed before its first byte", who)
            return sock, False
        if first[:1] != _TLS_HANDSHAKE:
            logger.info("plain HTTP from %s on the TLS port: answered 400", who)
            self._send_response(sock, _plain_http_on_tls_port(), None)
            return sock, False
        with self._lock:  # the TLS socket takes the raw one's place (close() shuts it down)
            try:
                tls = self.ssl.wrap_socket(  # type: ignore[union-attr]
                    sock, server_side=True, do_handshake_on_connect=False
                )
            except OSError as error:  # the client is already gone
                logger.info("no TLS handshake from %s: %s", who, error)
                return sock, False
            self._handshaking.replace(sock, tls)
        try:
            tls.settimeout(max(deadline - time.monotonic(), 0.001))
            tls.do_handshake()
        except OSError as error:  # ssl.SSLError, TimeoutError: one line, never a traceback
            logger.info("TLS handshake with %s failed: %s", who, error or type(error).__name__)
            return tls, False
        return tls, True

    def _handshake(
        self,
        sock: socket.socket,
        who: str,
        trace: Callable[[str], None] | None,
        deadline: float | None = None,
    ) -> ServerConnection | None:
        """Read and answer the opening handshake (RFC 6455 §4.2); None if it failed."""
        if deadline is None:
            deadline = time.monotonic() + self.open_timeout
        reader = StreamReader()
        if self.ssl is None:
            try:
                first = _peek(sock, deadline)
            except OSError as error:
                logger.info("no handshake from %s: %s", who, error or type(error).__name__)
                return None
            if first[:1] == _TLS_HANDSHAKE:
                # A wss:// client on this ws:// port. Nothing we could write is readable to a
                # client that expects a TLS record: end TCP (it reads EOF, not garbage).
                logger.info("TLS handshake from %s on the plain ws:// port: closed", who)
                end_tcp_gracefully(sock)
                return None
        try:
            request = read_until_parsed(sock, reader, Request.parse(reader.read_line), deadline)
        except InvalidRequest as error:  # malformed HTTP, or a head over a limit: 400
            logger.info("bad request from %s: %s", who, error)
            self._send_response(sock, answer_bad_request(error).response, trace)
            return None
        except (TimeoutError, EOFError, OSError) as error:
            # Too slow (open_timeout) or gone: there is nobody to answer, just close.
            logger.info("no handshake from %s: %s", who, error or type(error).__name__)
            return None
        if trace is not None:
            trace(f"< {request.method} {request.path} {request.version}")
        # 101, the demo page, or 400/403/405/426: the same decision as wslib.asyncio's server.
        answer = answer_request(
            request,
            origins=self.origins,
            subprotocols=self.subprotocols,
            compression=self.compression,
        )
        if not answer.opens:
            if answer.error is not None:  # RFC 6455 §4.2.2, §4.4
                logger.info("handshake refused for %s: %s", who, answer.error)
            self._send_response(sock, answer.response, trace)
            return None
        response = answer.response

        protocol = Connection(
            Side.SERVER,
            max_size=self.max_size,
            max_fragments=self.max_fragments,
            # Messages that came before a bad frame are handed to the handler first, so that it
            # can answer them; the reader thread then sends the close frame.
            defer_failure=True,
            trace=_frame_tracer(trace),
            deflate=answer.deflate,
        )
        conn = ServerConnection(
            sock,
            protocol,
            request,
            subprotocol=answer.subprotocol,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            close_timeout=self.close_timeout,
            message_timeout=self.message_timeout,
            max_queue=self.max_queue,
            trace_line=trace,
            write_limit=self.write_limit,
            rate_limit=rate_limit(self.max_message_rate, self.message_burst),
        )
        with self._lock:  # count this one before its 101 goes out, so two cannot both pass
            full = (
                self.max_connections is not None
                and self._opening + sum(c.state is State.OPEN for c in self._connections)
                >= self.max_connections
            )
            if not (full or self._closing):
                self._opening += 1
                self._end_handshake(sock)  # a connection now: close() waits for its registration
        if full or self._closing:
            message = (
                f"this server accepts at most {self.max_connections} connections; try again later"
                if full
                else "this server is shutting down"
            )
            logger.info("refused %s: %s", who, message)
            self._send_response(sock, busy_response(message), trace)
            return None
        try:
            return self._open(conn, response, bytes(reader.buffer), who, trace)
        finally:  # whatever happened: registered, refused, or failed
            with self._lock:
                self._opening -= 1

    def _open(
        self,
        conn: ServerConnection,
        response: Response,
        leftover: bytes,
        who: str,
        trace: Callable[[str], None] | None,
    ) -> ServerConnection | None:
        """Send the 101, start the reader thread, register the connection; None if one fails."""
        try:
            conn.socket.settimeout(self.close_timeout)
            conn.socket.sendall(response.serialize())
        except OSError:
            return None
        if trace is not None:
            trace(f"> {response.version} {response.status} {response.reason}")
        try:
            conn.start(leftover)
        except RuntimeError as error:  # "can't start new thread": a thread or memory limit
            logger.warning("cannot serve %s: no reader thread (%s)", who, error)
            # 1013 "try again later" (registered at IANA after RFC 6455): the server is out of
            # threads for now, not broken; then end TCP (the connection thread closes the socket).
            conn._start_close(1013, "")
            end_tcp_gracefully(conn.socket)
            return None
        with self._lock:
            closing = self._closing
            if not closing:
                self._connections.add(conn)
        if closing:  # the server started closing during this handshake
            conn.close(*self._goodbye)
            return None
        return conn

    # --- push -------------------------------------------------------------------------------------

    @property
    def connections(self) -> list[ServerConnection]:
        """A snapshot of the open connections (safe to iterate while clients come and go)."""
        with self._lock:
            return [c for c in self._connections if c.state is State.OPEN]

    def broadcast(self, message: Message) -> int:
        """Send ``message`` to every open connection; return how many it was sent to.

        A connection that fails (closed meanwhile, peer gone) is skipped: it never stops the
        broadcast to the others. A peer that does not read can delay it by ``close_timeout``
        at most, after which that connection is cut. :func:`wslib.sync.broadcast` never waits:
        it serializes the message once and gives a slow client a bounded queue of its own.
        """
        sent = 0
        for conn in self.connections:
            try:
                conn.send(message)
            except (ConnectionClosed, OSError):
                continue
            sent += 1
        return sent

    # --- stopping ---------------------------------------------------------------------------------

    def close(self, code: int = 1001, reason: str = "server shutting down") -> None:
        """Stop the server: stop accepting, close every connection with 1001, join every thread.

        ``code`` tells the clients why (RFC 6455 §7.4.1): 1001 "going away" by default; 1012
        "service restart" (registered at IANA after the RFC) when the server comes back soon, so
        that a client knows reconnecting is worth it.

        Each wait is bounded: ``close_timeout`` for the closing handshakes (all in parallel),
        then a little more for the threads. A handler that ignores its closed connection (it
        sleeps instead of reading) keeps its thread: a warning names it.
        """
        if not is_sendable_close_code(code):
            raise ValueError(f"close code {code} may not be sent (RFC 6455 §7.4)")
        with self._lock:
            if self._closing:
                return
            self._closing = True
            self._goodbye = (code, reason)  # for handshakes that finish during close() too
            connections = list(self._connections)
            # Wake up the threads that read a handshake. Under the lock: a thread closes its
            # socket only after removing it from the set, so this never touches a reused fd.
            for sock in self._handshaking:  # (pushed-out ones included: they are not closed yet)
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._stopping.set()
        try:
            self._wakeup_send.send(b"x")
        except OSError:  # pragma: no cover
            pass
        self._acceptor.join(TICK + 1)
        self.socket.close()
        # RFC 6455 §7.4.1: 1001 "an endpoint is going away, such as a server going down"
        for conn in connections:
            conn._start_close(code, reason)
        deadline = time.monotonic() + self.close_timeout
        for conn in connections:
            conn.wait_closed(deadline)
        with self._lock:
            threads = list(self._threads)
        # A handshake that ended during close() closes its connection itself: give it as long.
        deadline += 2 * TICK + 1
        for thread in threads:
            if thread is threading.current_thread():
                continue  # close() called by a handler: its own thread ends when it returns
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                logger.warning(
                    "%s did not finish: its handler ignores the closed connection", thread
                )
        self._wakeup_recv.close()
        self._wakeup_send.close()
        logger.info("server on port %d closed", self.port)

    shutdown = close

    def serve_forever(self) -> None:
        """Block until the server is closed (from another thread) or Ctrl-C, then close it."""
        try:
            while self._acceptor.is_alive():
                self._acceptor.join(TICK)
        finally:
            self.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def serve(
    handler: Handler,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    ping_interval: float | None = 20.0,
    ping_timeout: float | None = 20.0,
    open_timeout: float = 10.0,
    close_timeout: float = 10.0,
    message_timeout: float | None = None,
    max_connections: int | None = None,
    max_pending_handshakes: int = 128,
    origins: Iterable[str | None] | None = None,
    subprotocols: Iterable[str] = (),
    max_size: int | None = 2**20,
    max_fragments: int | None = MAX_FRAGMENTS,
    max_queue: int = 16,
    trace: Trace = False,
    ssl: _ssl.SSLContext | None = None,
    write_limit: int | None = None,
    max_connections_per_address: int | None = None,
    max_message_rate: float | None = None,
    message_burst: int | None = None,
    compression: str | DeflateConfig | None = None,
) -> Server:
    """Start a WebSocket server in the background and return it: it is serving already.

    ``handler(conn)`` runs in its own thread for each connection (a :class:`ServerConnection`).
    ``port=0`` lets the system pick a free port: read it from ``server.port``. The options,
    with their defaults and why:

    - ``ping_interval=20.0``, ``ping_timeout=20.0``: a keepalive ping every 20 s, and the
      connection fails with 1011 ("keepalive ping timeout", as the ``websockets`` library does)
      if the pong is not back 20 s later. Proxies and load balancers cut idle connections
      (nginx's ``proxy_read_timeout`` and many load balancers: 60 s), so 20 s keeps a
      connection busy enough to stay up and notices a dead peer within 40 s. The CDN of the
      article cuts after 10 s of silence: behind it, use less than 10. ``None`` disables.
    - ``open_timeout=10.0``: the whole opening handshake must arrive within 10 s; a client that
      trickles its request one byte per second is cut off (a slowloris attack).
    - ``close_timeout=10.0``: how long to wait for the peer's side of the closing handshake
      (RFC 6455 §7.1.1), and for one write to a peer that does not read, before cutting TCP.
    - ``message_timeout=None``: once bytes of a message or a control frame have arrived, the
      rest must follow within that many seconds, or the connection fails with 1008 (policy
      violation, RFC 6455 §7.4.1). It cuts a peer that trickles a frame (a 1 MiB header, then
      one byte every 0.2 s) to hold a connection forever. Keepalive already cuts that one (a
      pong cannot go inside a frame, so none comes back in time), but not without it, and not
      a fragmented message trickled one small frame at a time. Off by default: a legitimate
      message may be slow (1 MiB over a 100 kbit/s link takes 84 s) or streamed in fragments
      for as long as it lasts (§5.4). Any complete message or control frame counts as progress.
    - ``max_connections=None``: above that many open connections, a new client gets
      ``503 Service Unavailable`` (with ``Retry-After``) instead of a 101.
    - ``max_pending_handshakes=128``: TCP connections still in their opening handshake. Each
      costs a thread for up to ``open_timeout``; without a limit, 1,000 silent connections make
      1,000 threads. A real client needs one round trip (milliseconds; a second on a poor mobile
      link), so 128 in flight still admits over a hundred new clients per second, more than a
      thread-per-connection server serves anyway. When full, a newcomer pushes out the oldest
      handshake: someone who has said nothing for longest (see the thread model above).
    - ``origins=None``: any ``Origin``; a list allows only those (``None`` in it: clients that
      send no Origin, which are not browsers). Others get ``403 Forbidden`` (RFC 6455 §10.2).
      Origins compare as scheme, host and port, never as string prefixes (:mod:`wslib.origins`).
    - ``subprotocols=()``: those the server speaks; it picks the client's first offer it
      knows (RFC 6455 §4.2.2), and ``conn.subprotocol`` tells which (or None).
    - ``max_size=2**20``: the largest message accepted (1 MiB, like ``websockets``); a bigger
      one closes the connection with 1009. ``None``: no limit (not on the internet!).
    - ``max_fragments=4096``: the most frames one message may arrive in; more closes with 1009.
      Empty continuation frames cost no ``max_size`` bytes, so without it a peer could grow a
      message's bookkeeping forever (see :data:`wslib.messages.MAX_FRAGMENTS`).
    - ``max_queue=16``: messages received but not yet read by the handler; past that the
      server stops reading from this client (TCP backpressure) until the handler catches up.
    - ``trace=False``: ``True`` prints every frame in and out (direction, opcode, FIN, length,
      a preview of the payload) and the handshake lines, through the logger ``"wslib.trace"``;
      or pass a function that takes each line, such as ``print``.
    - ``ssl=None``: a server context (:func:`wslib.tls.server_context`) serves ``wss://``: the
      TLS handshake runs in the connection's thread and counts against ``open_timeout``.
    - ``write_limit=None``: backpressure on sending. ``conn.send()`` blocks while the peer does
      not read and the socket's send buffer is full (up to ``close_timeout``, then the
      connection is cut); ``write_limit`` sets that buffer's size in bytes (``SO_SNDBUF``),
      ``None`` keeps the kernel's (autotuned, up to 4 MiB on Linux). It also bounds each
      client's queue in :func:`wslib.sync.broadcast` (default 64 KiB there).
    - ``max_connections_per_address=None``: open connections (handshakes included) from one
      client IP address; past it, ``429 Too Many Requests`` (RFC 6585 §4). Off by default: behind
      a proxy every client has the proxy's address, and a school or an office shares one.
    - ``max_message_rate=None``, ``message_burst=None``: messages per second each connection may
      send on average, with bursts of ``message_burst`` (default: one second's worth); a client
      that sends faster is closed with 1008 (:mod:`wslib.limits`, a token bucket). Off by
      default: only the application knows what its clients send (a chat: a few per second; a
      game: 60).
    - ``compression=None``: ``"deflate"`` accepts a client's permessage-deflate offer (RFC
      7692: browsers always offer it) with the defaults of :class:`wslib.deflate.DeflateConfig`,
      a ``DeflateConfig`` sets the window bits, context takeover and zlib's level and memLevel.
      Off by default: it costs memory and CPU on every connection, frames on the wire can no
      longer be read in a capture, and small or already-compressed messages do not gain
      (notebook 11). ``max_size`` then counts the bytes of a message once inflated.

      Resident memory per connection, measured on the server side: 1,000 connections
      (:class:`wslib.protocol.Connection`, the state without its thread and socket) each take 20
      compressed JSON messages of 1-2 KiB and answer each; the process's RSS before and after,
      divided by 1,000 (``python benchmarks/bench_deflate.py --memory``; CPython 3.11, zlib
      1.2.13, Linux x86-64). Threads and socket buffers come on top, the same with or without:

      ======================================  ==================
      settings                                KiB per connection
      ======================================  ==================
      ``compression=None``                    2.7
      window bits 15, memLevel 8 (zlib's)     222
      window bits 12, memLevel 5 (default)    52
      window bits 9, memLevel 1               19
      no context takeover, both directions    2.2
      ======================================  ==================

      zlib's state is ``2**(bits + 2) + 2**(memLevel + 9)`` bytes for the compressor and
      ``2**bits`` for the decompressor, plus ~13 KiB (zlib.h); RSS counts only the pages
      touched. The default keeps a 4 KiB window, which still catches the repeated keys of JSON
      messages, for a quarter of zlib's default memory: 10,000 connections cost 0.5 GiB instead
      of 2.2. Without context takeover zlib's objects are freed after each message, so an idle
      connection costs nothing more, but every message compresses as if it were the first.
    """
    return Server(
        handler,
        host,
        port,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        open_timeout=open_timeout,
        close_timeout=close_timeout,
        message_timeout=message_timeout,
        max_connections=max_connections,
        max_pending_handshakes=max_pending_handshakes,
        origins=origins,
        subprotocols=subprotocols,
        max_size=max_size,
        max_fragments=max_fragments,
        max_queue=max_queue,
        trace=trace,
        ssl=ssl,
        write_limit=write_limit,
        max_connections_per_address=max_connections_per_address,
        max_message_rate=max_message_rate,
        message_burst=message_burst,
        compression=compression,
    )
