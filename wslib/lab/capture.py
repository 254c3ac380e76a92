"""Live capture of loopback traffic with scapy: see what a WebSocket really puts on the wire.

One context manager around the code that talks::

    import wslib
    from wslib.lab.capture import capture

    with wslib.serve(echo) as server, capture([server.port]) as cap:
        ...                                   # talk to ws://127.0.0.1:{server.port}/
    print(len(cap.packets), "packets")        # scapy packets, each once, in time order
    cap.write("/tmp/echo.pcap")               # open it in Wireshark or tshark

What it takes care of:

- **Which interface.** The loopback interface (``lo`` on Linux, ``lo0`` on macOS), since the
  series' servers listen on ``127.0.0.1``.
- **Which packets.** Only TCP to or from the given ports. With libpcap installed the filter is a
  BPF program attached to the socket (``tcp and (port 8765)``): the kernel drops the rest. Without
  libpcap scapy cannot compile BPF, so the same test runs in Python on every packet (``lfilter``).
- **Each packet once.** On Linux a raw socket on ``lo`` sees every packet twice: once going out
  (``PACKET_OUTGOING``) and once coming in (``PACKET_HOST``), since on loopback the sender and
  the receiver are the same machine. We keep the outgoing copy only, whose timestamps are in the
  order things happened. On macOS, BPF on ``lo0`` sees each packet once already.
- **No race at the start.** The block runs only once the sniffer is really reading
  (scapy's ``started_callback``), so the first SYN is not missed.
- **No loss at the end.** After the block, a short grace period collects packets still in flight.
- **A time bound.** Sniffing stops after ``timeout`` seconds even if the block goes on.
- **No privileges.** Sniffing needs raw sockets; without them :class:`CaptureUnavailable` says so
  in one sentence, with the fix for this OS. The notebooks then replay ``data/pcaps/`` instead.

This module imports scapy (about a second), so ``import wslib`` does not import it:
write ``from wslib.lab.capture import capture``.
"""

from __future__ import annotations

import os
import platform
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from ..exceptions import InvalidState, WebSocketError
from . import tools

__all__ = ["Capture", "CaptureUnavailable", "bpf_filter", "capture", "loopback_interface"]


class CaptureUnavailable(WebSocketError):
    """This process may not sniff packets here; the message says how to fix it, in one sentence."""


def loopback_interface() -> str:
    """The name of the loopback interface: ``lo`` on Linux, ``lo0`` on macOS and the BSDs."""
    if platform.system() == "Linux":
        return "lo"
    if platform.system() == "Darwin" or "BSD" in platform.system():
        return "lo0"
    from scapy.config import conf

    return str(conf.loopback_name)


def _check_ports(ports: Iterable[int]) -> tuple[int, ...]:
    checked = tuple(sorted({int(port) for port in ports}))
    if not checked:
        raise ValueError("capture() needs at least one port to listen to")
    for port in checked:
        if not 0 < port < 65536:
            raise ValueError(f"not a TCP port: {port}")
    return checked


def bpf_filter(ports: Iterable[int]) -> str:
    """The BPF filter string for TCP on any of ``ports``, as tcpdump and Wireshark write it.

    >>> bpf_filter([8765, 80])
    'tcp and (port 80 or port 8765)'
    """
    return "tcp and (" + " or ".join(f"port {port}" for port in _check_ports(ports)) + ")"


def _unavailable(iface: str, error: BaseException) -> CaptureUnavailable:
    tool = tools.capture_privileges()
    advice = tool.advice or "run as root."
    reason = tool.detail if not tool.available else str(error)
    return CaptureUnavailable(f"Cannot capture packets on {iface} ({reason}): {advice}")


# Room for the largest frame loopback can carry: a 65,535-byte IP packet plus its 14-byte
# Ethernet header. scapy's default (65,535) would cut the end off the biggest TCP segments.
_MAX_FRAME = 1 << 17
# Room for bursts: the sniffer thread is slower than the kernel, and a 70 kB message arrives as
# a few 32 kB segments at once. scapy asks for 64 kB, which drops packets in such a burst.
_RECEIVE_BUFFER = 8 << 20
_SOL_PACKET = 263
_PACKET_STATISTICS = 6
_SO_RCVBUFFORCE = 33


def _linux_loopback_socket() -> Any:
    """A scapy socket class for Linux loopback that keeps each packet once, whole, in order."""
    from scapy.arch.linux import L2ListenSocket, get_last_packet_timestamp

    class LoopbackSocket(L2ListenSocket):
        # On loopback the kernel hands a raw socket two copies of every packet: one marked
        # PACKET_OUTGOING, taken as the sender transmits it, and one marked PACKET_HOST, taken
        # as the receiver's side picks it up. We keep the outgoing copy: its timestamp is taken
        # in the sender's own call, so the order of the timestamps is the order of the events
        # (the incoming copies, queued per CPU, are now and then stamped out of order: an ACK
        # after the data that followed it). tcpdump keeps the other copy; either way, once.
        def recv_raw(self, x: int = _MAX_FRAME) -> Any:
            data, sa_ll, ts = self._recv_raw(self.ins, max(x, _MAX_FRAME))
            if sa_ll is None or sa_ll[2] != socket.PACKET_OUTGOING:
                return None, None, None
            if ts is None:
                ts = get_last_packet_timestamp(self.ins)
            return self.LL, data, ts

    return LoopbackSocket


def _enlarge_receive_buffer(sock: Any) -> None:
    try:  # root may go past net.core.rmem_max
        sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, _RECEIVE_BUFFER)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)


def _kernel_drops(sock: Any) -> int | None:
    """Packets the kernel dropped because the socket's buffer was full (Linux), since last asked."""
    try:
        stats = sock.getsockopt(_SOL_PACKET, _PACKET_STATISTICS, 8)
    except (OSError, AttributeError):
        return None
    return int(struct.unpack("II", stats)[1])


class Capture:
    """Packets sniffed on loopback while a block of code runs; use :func:`capture` to make one.

    - :attr:`packets`: the scapy packets, each once, in time order.
    - :meth:`write`: save them as a classic pcap file, for Wireshark, tshark or
      :mod:`wslib.lab.dump`.
    - :attr:`filter`: the BPF filter string attached to the socket, or ``None`` when the ports
      were filtered in Python (no libpcap, or ``use_bpf=False``).
    - :attr:`timed_out`: ``True`` when sniffing stopped at ``timeout`` before the block ended.
    - :attr:`dropped`: after the block, how many packets the kernel dropped because the sniffer
      fell behind (Linux; ``None`` where unknown). It should be 0: then nothing is missing.
    """

    def __init__(
        self,
        ports: Iterable[int],
        *,
        iface: str | None = None,
        timeout: float = 30.0,
        use_bpf: bool | None = None,
        grace: float = 0.2,
    ) -> None:
        self.ports = _check_ports(ports)
        self.iface = iface or loopback_interface()
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.timeout = timeout
        self.grace = grace
        if use_bpf is None:
            use_bpf = tools.libpcap().available
        self.filter: str | None = bpf_filter(self.ports) if use_bpf else None
        self.timed_out = False
        self.dropped: int | None = None
        #: wss://: the NSS key log of the TLS sessions captured, written beside the file by write()
        self.keylog: str | None = None
        self._packets: list[Any] = []
        self._sniffer: Any = None
        self._socket: Any = None
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self._started = threading.Event()

    # --- what the sniffer keeps -------------------------------------------------------------------

    def _wanted(self, packet: Any) -> bool:
        """The Python twin of :func:`bpf_filter`: TCP from or to one of our ports."""
        from scapy.layers.inet import TCP

        if TCP not in packet:
            return False
        tcp = packet[TCP]
        return tcp.sport in self.ports or tcp.dport in self.ports

    def _keep(self, packet: Any) -> None:
        self._packets.append(packet)

    def _open_socket(self) -> Any:
        """A raw socket on the interface, with the BPF filter attached when there is one."""
        # The layers register the link types (loopback on Linux: Ethernet with zero MACs) and
        # the IPv4, IPv6 and TCP dissectors; without them scapy would hand back raw bytes.
        import scapy.layers.inet
        import scapy.layers.inet6
        import scapy.layers.l2  # noqa: F401
        from scapy.config import conf

        if platform.system() == "Linux" and self.iface == loopback_interface():
            sock = _linux_loopback_socket()(iface=self.iface, filter=self.filter)
            _enlarge_receive_buffer(sock.ins)
            _kernel_drops(sock.ins)  # reading the statistics resets them: count from now on
            return sock
        return conf.L2listen(iface=self.iface, filter=self.filter)

    # --- start and stop -------------------------------------------------------------------------

    def start(self) -> None:
        """Open the socket and start sniffing; return once the sniffer is really reading."""
        from scapy.error import Scapy_Exception
        from scapy.sendrecv import AsyncSniffer

        if self._sniffer is not None:
            raise InvalidState("this capture has run already: make a new one with capture()")
        try:
            self._socket = self._open_socket()
        except PermissionError as error:
            raise _unavailable(self.iface, error) from None
        except (OSError, Scapy_Exception) as error:
            if not tools.capture_privileges().available:
                raise _unavailable(self.iface, error) from None
            if self.filter and "filter" in str(error).lower():
                pcap = tools.libpcap()
                fix = pcap.advice or "check that scapy finds libpcap"
                raise CaptureUnavailable(
                    f"Cannot compile the BPF filter {self.filter!r} ({error}): "
                    f"{fix[:-1] if fix.endswith('.') else fix}, or pass use_bpf=False."
                ) from None
            raise CaptureUnavailable(
                f"Cannot capture packets on {self.iface}: {str(error).rstrip('.')}."
            ) from None
        self._sniffer = AsyncSniffer(
            opened_socket={self._socket: self.iface},
            store=False,
            prn=self._keep,
            lfilter=None if self.filter else self._wanted,
            started_callback=self._started.set,
        )
        self._sniffer.start()
        if not self._started.wait(5.0):
            self._close_socket()
            raise CaptureUnavailable(
                f"Cannot capture packets on {self.iface}: the sniffer did not start within 5 s."
            )
        self._timer = threading.Timer(self.timeout, self._time_out)
        self._timer.daemon = True
        self._timer.start()

    def _time_out(self) -> None:
        self.timed_out = True
        self._stop_sniffer()

    def _stop_sniffer(self) -> None:
        with self._lock:
            if self._stopped or self._sniffer is None:
                return
            self._stopped = True
            sniffer = self._sniffer
        # The sniffer thread may be between its start and its loop: wait until it runs.
        deadline = time.monotonic() + 2.0
        while not sniffer.running and sniffer.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if sniffer.running:
            sniffer.stop(join=False)
        sniffer.thread.join(5.0)
        self._close_socket()

    def _close_socket(self) -> None:
        if self._socket is not None:
            drops = _kernel_drops(getattr(self._socket, "ins", None))
            if drops is not None:
                self.dropped = (self.dropped or 0) + drops
            self._socket.close()
            self._socket = None

    def stop(self) -> None:
        """Wait for packets still in flight (the grace period), then stop sniffing."""
        if not self._stopped:
            time.sleep(self.grace)
        if self._timer is not None:
            self._timer.cancel()
            if self._timer is not threading.current_thread():
                self._timer.join(5.0)
        self._stop_sniffer()

    def __enter__(self) -> Capture:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- results --------------------------------------------------------------------------------

    @property
    def packets(self) -> list[Any]:
        """The packets captured so far, each once, in time order (scapy ``Packet`` objects)."""
        return sorted(self._packets, key=lambda packet: float(packet.time))

    def keep(self, wanted: Callable[[Any], bool]) -> None:
        """Keep only the packets for which ``wanted(packet)`` is true, after the capture.

        For a port that carries more than the conversation of interest: a Jupyter server's port
        carries its web page, its REST calls and every kernel's WebSocket.
        """
        with self._lock:
            self._packets = [packet for packet in self._packets if wanted(packet)]

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Save the packets as a classic pcap file (what Wireshark, tshark and scapy all read).

        On Linux the link type is Ethernet with zero MAC addresses: that is how the kernel
        presents loopback to a raw socket (and what ``tcpdump -i lo`` writes too). With a
        :attr:`keylog`, it goes beside the file as ``NAME.keys`` (what ``--keylog`` reads).
        """
        from scapy.utils import wrpcap

        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        packets = self.packets
        if packets:
            wrpcap(str(target), packets)
        else:
            wrpcap(str(target), [], linktype=1)  # DLT_EN10MB, as on Linux loopback
        if self.keylog is not None:
            target.with_suffix(".keys").write_text(self.keylog, encoding="ascii")
        return target

    def __len__(self) -> int:
        return len(self._packets)

    def __repr__(self) -> str:
        how = f"BPF {self.filter!r}" if self.filter else "Python filter"
        return f"<Capture on {self.iface}, ports {list(self.ports)}, {how}: {len(self)} packets>"


def capture(
    ports: Iterable[int],
    *,
    iface: str | None = None,
    timeout: float = 30.0,
    use_bpf: bool | None = None,
    grace: float = 0.2,
) -> Capture:
    """Sniff TCP traffic on ``ports`` over loopback while a ``with`` block runs.

    ::

        with wslib.serve(echo) as server, capture([server.port]) as cap:
            ...
        cap.packets, cap.write("echo.pcap")

    - ``ports``: the TCP ports to keep (either end of a connection).
    - ``iface``: the interface; by default the loopback one (``lo`` or ``lo0``).
    - ``timeout=30.0``: sniffing stops after that many seconds, even if the block is still running.
    - ``use_bpf``: filter with a BPF program in the kernel (needs libpcap to compile it) or, when
      ``False``, in Python; by default BPF when :func:`wslib.lab.tools.libpcap` finds libpcap.
    - ``grace=0.2``: seconds to keep sniffing after the block, for packets still in flight.

    Raises :class:`CaptureUnavailable` when this process may not sniff (no root, no capability).
    """
    return Capture(ports, iface=iface, timeout=timeout, use_bpf=use_bpf, grace=grace)
