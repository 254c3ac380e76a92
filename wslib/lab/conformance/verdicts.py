"""From what happened on the wire to a verdict: :func:`judge` (no I/O).

The runner fills an :class:`Observation` while it plays a case; :func:`judge` compares it with
the case's :class:`~.model.Expect` and says OK, NON-STRICT, INFORMATIONAL or FAILED, with one
sentence explaining why (see :mod:`.model` for what each verdict means).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...frames import Opcode
from .model import Case, End, Event, Send, Verdict

__all__ = ["Observation", "acceptable", "judge"]


@dataclass
class Observation:
    """What the suite saw during one case (times in seconds since the case started)."""

    handshake_error: str | None = None
    events: list[Event] = field(default_factory=list)
    #: the payload of the peer's first close frame, or None if it sent none
    close_payload: bytes | None = None
    close_time: float | None = None
    eof_time: float | None = None
    #: when the suite sent its own close frame (the one it adds at the end of CLEAN cases)
    our_close_time: float | None = None
    #: when the suite started its last write of the steps (None: never written, the peer had
    #: already closed)
    last_write_time: float | None = None
    #: the suite played the client (it tests a server): the server should end TCP first
    peer_is_server: bool = True
    write_error: str | None = None

    @property
    def close_code(self) -> int | None:
        """The code in the peer's close frame (None: no close frame, or an empty one)."""
        if self.close_payload is None or len(self.close_payload) < 2:
            return None
        return int.from_bytes(self.close_payload[:2], "big")

    @property
    def peer_end_time(self) -> float | None:
        """When the peer first signalled the end: its close frame or the end of TCP."""
        times = [t for t in (self.close_time, self.eof_time) if t is not None]
        return min(times) if times else None

    def close_words(self) -> str:
        if self.close_payload is None:
            return "no close frame"
        if len(self.close_payload) == 0:
            return "an empty close frame"
        if len(self.close_payload) == 1:
            return "a close frame with a 1-byte payload"
        reason = self.close_payload[2:].decode("utf-8", "replace")
        return f"close {self.close_code}" + (f" {reason[:40]!r}" if reason else "")


def acceptable(case: Case) -> list[tuple[tuple[Event, ...], Verdict]]:
    """The sequences of events the peer may send back, each with the verdict it earns."""
    e = case.expect
    sequences = [(e.echo, Verdict.OK)] + [(seq, Verdict.OK) for seq in e.also_ok]
    sequences += [(seq, Verdict.NON_STRICT) for seq in e.lenient]
    return sequences


def _events_words(events: list[Event] | tuple[Event, ...]) -> str:
    if not events:
        return "nothing"
    words = []
    for kind, payload in events[:4]:
        shown = payload[:24].decode("utf-8", "replace") if kind != "binary" else payload[:8].hex()
        words.append(f"{kind} {len(payload):,} B {shown!r}")
    more = f" and {len(events) - 4} more" if len(events) > 4 else ""
    return ", ".join(words) + more


def _sent_close_code(case: Case) -> int | None:
    """The code of the first close frame the case's steps send, if any."""
    for step in case.steps:
        if isinstance(step, Send):
            for frame in step.frames:
                if frame.opcode == Opcode.CLOSE and len(frame.payload) >= 2:
                    return int.from_bytes(frame.payload[:2], "big")
    return None


def judge(case: Case, obs: Observation) -> tuple[Verdict, str]:
    """The verdict for ``case`` given what was observed, and why (one sentence)."""
    if obs.handshake_error is not None:
        return Verdict.FAILED, f"opening handshake failed: {obs.handshake_error}"
    e = case.expect
    events = tuple(obs.events)
    matched = [verdict for seq, verdict in acceptable(case) if seq == events]
    events_verdict = min(matched, key=list(Verdict).index) if matched else None
    peer_end = obs.peer_end_time
    timeout = f"{case.timeout:g} s"

    if e.end is End.EITHER:
        if events_verdict is None and events:
            return Verdict.FAILED, f"sent back {_events_words(events)}, expected " + (
                f"{_events_words(e.echo)} or a failure"
            )
        if peer_end is None:
            return Verdict.FAILED, f"neither answered nor closed within {timeout}"
        if _sent_close_code(case) is not None:
            return Verdict.INFORMATIONAL, f"answered with {obs.close_words()}"
        if obs.our_close_time is None or (peer_end < obs.our_close_time):
            return Verdict.INFORMATIONAL, f"refused it: {obs.close_words()}"
        return Verdict.INFORMATIONAL, f"accepted it, then answered the close: {obs.close_words()}"

    # A size limit: closing with 1009 (or 1008) instead of echoing a big message.
    if (
        e.limit_codes
        and obs.close_code in e.limit_codes
        and not events
        and (obs.our_close_time is None or (peer_end is not None and peer_end < obs.our_close_time))
    ):
        return (
            Verdict.INFORMATIONAL,
            f"closed with {obs.close_code} (a size limit) instead of echoing",
        )

    if events_verdict is None:
        return Verdict.FAILED, (
            f"sent back {_events_words(events)}, expected {_events_words(e.echo)}"
            + (f"; then {obs.close_words()}" if obs.close_payload is not None else "")
        )
    verdicts = [events_verdict]
    reasons = []
    if events_verdict is Verdict.NON_STRICT:
        reasons.append("did not send back the valid message that preceded the error")

    if e.end is End.FAIL:
        if peer_end is None:
            return Verdict.FAILED, f"did not fail the connection within {timeout}"
        sent = _sent_close_code(case)
        code = obs.close_code
        if obs.close_payload is None:
            verdicts.append(Verdict.NON_STRICT)
            reasons.append("ended TCP without a close frame")
        elif code in e.codes:
            reasons.append(f"failed with {obs.close_words()}")
        elif sent is not None and code == sent:
            return Verdict.FAILED, f"answered the invalid close frame by echoing it ({code})"
        else:
            expected = "/".join(str(c) for c in e.codes)
            verdicts.append(Verdict.NON_STRICT)
            reasons.append(f"failed with {obs.close_words()} where {expected} was expected")
        if e.fast and obs.last_write_time is not None and peer_end >= obs.last_write_time:
            verdicts.append(Verdict.NON_STRICT)
            reasons.append("failed only after the last write: not fail-fast")
    else:
        # CLEAN (the suite closed with 1000) or ANSWER (the steps sent a close frame)
        ours = obs.our_close_time
        if e.end is End.CLEAN and peer_end is not None and (ours is None or peer_end < ours):
            return Verdict.FAILED, f"closed the connection unasked: {obs.close_words()}" + (
                f" after sending back {_events_words(events)}" if events else ""
            )
        if peer_end is None:
            return Verdict.FAILED, f"did not answer the close frame within {timeout}"
        sent = 1000 if e.end is End.CLEAN else e.codes[0]
        code = obs.close_code
        if obs.close_payload is None:
            verdicts.append(Verdict.NON_STRICT)
            reasons.append("ended TCP without answering the close frame")
        elif code == sent or code == 1000 or (sent is None and not obs.close_payload):
            reasons.append(f"answered with {obs.close_words()}")
        elif code in (1002, 1007):
            return Verdict.FAILED, f"answered a valid close frame with {obs.close_words()}"
        else:
            verdicts.append(Verdict.INFORMATIONAL)
            reasons.append(f"answered with {obs.close_words()} (the code echoed is a choice)")
    if (
        obs.peer_is_server
        and obs.close_payload is not None
        and obs.eof_time is None
        and Verdict.FAILED not in verdicts
    ):
        verdicts.append(Verdict.NON_STRICT)
        reasons.append("the server did not end TCP after the closing handshake")
    verdict = Verdict.worst(*verdicts)
    return verdict, "; ".join(reasons) or "as expected"
