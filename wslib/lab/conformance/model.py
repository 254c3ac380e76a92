"""What a case is: what it sends, and what a conforming peer does, as data (RFC 6455).

A :class:`Case` is a list of steps (frames to write, pauses) and an :class:`Expect`: the
messages and pongs a conforming echo peer sends back, and how the connection should end. The
runner executes the steps against a peer and :mod:`.verdicts` compares what happened with the
expectation. Nothing here touches a socket.

The verdicts mean what they mean in the well-known Autobahn|Testsuite:

- ``OK``: what the RFC asks for, done the best way.
- ``NON-STRICT``: allowed by the RFC but not best practice (failing bad UTF-8 only at the end of
  a frame instead of at once; dropping TCP without the close frame the RFC says an endpoint
  SHOULD send; failing without first delivering the valid messages that preceded the error).
- ``INFORMATIONAL``: the RFC leaves the choice open (a close code over 4999, a non-minimal
  length, a size limit); the result is recorded, not judged.
- ``FAILED``: the peer broke a MUST, answered wrongly, or did not answer within the case's time.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ...deflate import DeflateConfig
from ...frames import Opcode

__all__ = ["Case", "End", "Event", "Expect", "Frame", "Pause", "Send", "Step", "Verdict"]


class Verdict(str, enum.Enum):
    """The outcome of one case, from best to worst (the order :meth:`worst` uses)."""

    OK = "OK"
    INFORMATIONAL = "INFORMATIONAL"
    NON_STRICT = "NON-STRICT"
    FAILED = "FAILED"

    @staticmethod
    def worst(*verdicts: Verdict) -> Verdict:
        order = list(Verdict)
        return max(verdicts, key=order.index)


#: What the peer sends back that the suite compares: ``("text", payload)``,
#: ``("binary", payload)`` or ``("pong", payload)``; anything else (a frame with a reserved
#: opcode, a masked frame from a server) shows up as ``("bad", description)`` and never matches.
Event = tuple[str, bytes]


@dataclass(frozen=True)
class Frame:
    """A frame the suite writes (RFC 6455 §5.2), valid or not.

    ``wrong_mask`` breaks §5.1 for the side the suite plays (an unmasked frame from the suite as a
    client, a masked one from the suite as a server). ``length_form`` forces a 16- or 64-bit
    length, ``length`` writes a length that is not the payload's.
    """

    opcode: int
    payload: bytes = b""
    fin: bool = True
    rsv: int = 0
    wrong_mask: bool = False
    length_form: int | None = None
    length: int | None = None


@dataclass(frozen=True)
class Send:
    """Write ``frames`` back to back: in one write, in pieces of ``chunk`` bytes, or cut at the
    payload offsets ``cut`` of the last frame; ``delay`` seconds pass between two pieces."""

    frames: tuple[Frame, ...]
    chunk: int | None = None
    cut: tuple[int, ...] = ()
    delay: float = 0.0


@dataclass(frozen=True)
class Pause:
    """Wait, reading what the peer sends meanwhile."""

    seconds: float


Step = Send | Pause


class End(str, enum.Enum):
    """How the connection should end after the steps."""

    #: the peer echoes; then the suite closes with 1000 and the peer answers the close
    CLEAN = "clean"
    #: the steps sent a close frame; the peer answers it (echoing the code, or 1000)
    ANSWER = "answer"
    #: the peer fails the connection (§7.1.7): a close frame with one of ``codes``, then TCP ends
    FAIL = "fail"
    #: the RFC leaves it open: echoing (or answering) and failing are both INFORMATIONAL
    EITHER = "either"


@dataclass(frozen=True)
class Expect:
    """What a conforming echo peer does.

    ``echo``: the messages and pongs it sends back, in order (OK). ``also_ok``: other sequences
    the RFC allows just as well. ``lenient``: sequences the RFC allows but that are not best
    practice (NON-STRICT), typically "nothing" when a valid message preceded an error.
    ``codes``: for FAIL, the close codes expected; for ANSWER, the code the suite sent (``None``
    for an empty close). ``fast``: the failure must come before the suite's last write (fail
    fast on invalid UTF-8; later is NON-STRICT). ``limit_codes``: closing with one of these
    instead of echoing is a size limit, INFORMATIONAL.
    """

    echo: tuple[Event, ...] = ()
    end: End = End.CLEAN
    codes: tuple[int | None, ...] = ()
    also_ok: tuple[tuple[Event, ...], ...] = ()
    lenient: tuple[tuple[Event, ...], ...] = ()
    fast: bool = False
    limit_codes: tuple[int, ...] = ()


@dataclass(frozen=True)
class Case:
    """One conformance case: ``id`` like ``2.3.1``, its category, its RFC section, a one-line
    ``title``, what it sends and expects (``steps``, ``expect``) and a time bound (``timeout``,
    seconds for the peer to react). ``only``: ``"server"`` or ``"client"`` when the case makes
    sense for one side only. ``solo``: run alone (large messages), not beside other cases."""

    id: str
    category: str
    rfc: str
    title: str
    steps: tuple[Step, ...]
    expect: Expect
    timeout: float = 2.0
    only: str | None = None
    solo: bool = False
    note: str = field(default="")
    #: permessage-deflate (RFC 7692) for this case: the suite offers it with these settings (as
    #: a client) or answers the client's offer with them (as a server); None: no extension
    deflate: DeflateConfig | None = None

    @property
    def sends(self) -> str:
        """What the case writes, in words."""
        parts = []
        for step in self.steps:
            if isinstance(step, Pause):
                parts.append(f"pause {step.seconds:g} s")
                continue
            names = [_frame_words(frame) for frame in step.frames]
            if len(names) > 6:
                names = [*names[:3], f"... ({len(names) - 5} more) ...", *names[-2:]]
            how = ""
            if step.chunk is not None:
                how = f" in writes of {step.chunk} byte{'s' if step.chunk > 1 else ''}"
            elif step.cut:
                how = " cut at payload byte " + ", ".join(map(str, step.cut))
            if step.delay:
                how += f", {step.delay:g} s apart"
            parts.append(", ".join(names) + how)
        return "; then ".join(parts)

    @property
    def expects(self) -> str:
        """What a conforming peer does, in words."""
        e = self.expect
        echoes = ", ".join(_event_words(ev) for ev in e.echo) or "nothing"
        if e.end is End.CLEAN:
            text = f"sends back {echoes}; answers the suite's close 1000"
        elif e.end is End.ANSWER:
            code = "no code" if e.codes == (None,) else f"code {e.codes[0]}"
            text = f"sends back {echoes}; answers the close frame ({code}) with a close frame"
        elif e.end is End.FAIL:
            codes = "/".join(str(c) for c in e.codes)
            before = f"sends back {echoes}, then " if e.echo else ""
            text = f"{before}fails the connection: close frame {codes}, then TCP ends"
            if e.fast:
                text += " (fail fast: before the suite's last write)"
        else:
            text = "the RFC leaves it open: echoing or failing are both INFORMATIONAL"
        if e.limit_codes:
            text += f" (closing with {'/'.join(map(str, e.limit_codes))} instead: a size limit)"
        return text

    @property
    def description(self) -> str:
        return f"Sends {self.sends}. A conforming peer {self.expects}." + (
            f" {self.note}" if self.note else ""
        )


def _frame_words(frame: Frame) -> str:
    try:
        name = Opcode(frame.opcode).name
    except ValueError:
        name = f"opcode 0x{frame.opcode:X}"
    flags = [] if frame.fin else ["fin=0"]
    if frame.rsv:
        flags.append(f"rsv={(frame.rsv >> 4) & 7:03b}")
    if frame.wrong_mask:
        flags.append("wrong masking")
    if frame.length_form:
        flags.append(f"{frame.length_form}-bit length")
    if frame.length is not None:
        flags.append(f"length field {frame.length}")
    n = len(frame.payload)
    size = f"{n:,} B" if n < 1024 or n % 1024 else f"{n // 1024:,} KiB"
    return f"{name} {size}" + (f" ({', '.join(flags)})" if flags else "")


def _event_words(event: Event) -> str:
    kind, payload = event
    n = len(payload)
    return f"{kind} {n:,} B" if n < 1024 or n % 1024 else f"{kind} {n // 1024:,} KiB"
