"""Abuse limits without I/O: messages per second per connection, connections per client address.

The size and time limits of a server (``max_size``, ``open_timeout``, ``message_timeout``...)
bound what *one* message or handshake can cost. Two more bound what one client can do *over
time*:

- :class:`RateLimit`: a token bucket. Each connection may send ``rate`` messages per second on
  average, with bursts of up to ``burst``: the bucket holds ``burst`` tokens, each message takes
  one, and tokens come back at ``rate`` per second. A connection that sends faster empties it, and
  the server closes it with 1008 (policy violation, RFC 6455 §7.4.1). A chat client typing, or a
  game sending 30 updates a second, never notices; a script flooding the server is cut.
- :class:`AddressCounter`: how many connections each client address has open. Past
  ``max_per_address``, a new handshake gets ``429 Too Many Requests`` (RFC 6585 §4). Behind a
  proxy every client has the proxy's address: count the address the proxy reports
  (``X-Forwarded-For``, notebook 08) or set the limit at the proxy.

Both take the time (or the address) as an argument: the I/O layers give them
:func:`time.monotonic` and the peer's address, and the tests give them whatever they like.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["RATE_LIMITED", "RATE_LIMITED_CODE", "AddressCounter", "RateLimit", "rate_limit"]

#: What a connection that sends too many messages per second gets: 1008, "policy violation"
#: (RFC 6455 §7.4.1: "a message that violates its policy"), and the reason.
RATE_LIMITED_CODE = 1008
RATE_LIMITED = "too many messages per second"


@dataclass
class RateLimit:
    """A token bucket: ``rate`` messages per second on average, bursts up to ``burst``."""

    rate: float
    burst: int
    tokens: float = field(init=False)
    updated: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("RateLimit needs rate > 0 and burst >= 1")
        self.tokens = float(self.burst)

    def allow(self, now: float) -> bool:
        """Take one token at time ``now`` (seconds, any clock that only goes forward); False
        when the bucket is empty: the message is one too many."""
        if self.updated is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1 - 1e-9:  # a sender exactly at the rate must not lose to rounding
            self.tokens = max(0.0, self.tokens - 1)
            return True
        return False


@dataclass
class AddressCounter:
    """Open connections per client address, at most ``max_per_address`` each."""

    max_per_address: int
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_per_address < 1:
            raise ValueError("max_per_address must be at least 1")

    def acquire(self, address: str) -> bool:
        """Count one more connection from ``address``; False (and nothing counted) when that
        address already has ``max_per_address``."""
        count = self.counts.get(address, 0)
        if count >= self.max_per_address:
            return False
        self.counts[address] = count + 1
        return True

    def release(self, address: str) -> None:
        """That connection ended (call it exactly once per successful :meth:`acquire`)."""
        count = self.counts.get(address, 0)
        if count <= 1:
            self.counts.pop(address, None)  # no entry per address ever seen: memory stays bounded
        else:
            self.counts[address] = count - 1


def rate_limit(rate: float | None, burst: int | None = None) -> RateLimit | None:
    """A fresh bucket for one connection from a server's options (None: no limit). The burst
    defaults to one second's worth of messages (at least 1)."""
    if rate is None:
        return None
    return RateLimit(rate=rate, burst=burst if burst is not None else max(1, round(rate)))
