"""Results of a run: counts, JSON, a self-contained HTML report and a plain-text progress bar.

The JSON file (``Results.to_json()``) has this schema (version 1)::

    {
      "schema": "wslib.conformance/1",
      "target": "ws://127.0.0.1:8765/",        # or "client: COMMAND"
      "mode": "server" | "client",             # what was tested
      "started": "2025-01-01T12:00:00+00:00",  # UTC
      "duration_s": 12.3,
      "summary": {"OK": 250, "NON-STRICT": 0, "INFORMATIONAL": 24, "FAILED": 0},
      "categories": {"framing": {"OK": 33, "NON-STRICT": 0, ...}, ...},
      "cases": [
        {"id": "1.1.1", "category": "framing", "rfc": "§5.2", "title": "...",
         "description": "Sends ... A conforming peer ...",
         "verdict": "OK", "reason": "answered with close 1000", "duration_s": 0.004,
         "peer_close_code": 1000,              # or null
         "trace": [
           {"t": 0.0012, "dir": "→" | "←" | "·", "kind": "http" | "frame" | "tcp" | "note",
            "text": "TEXT fin=1 masked len=5 'Hello'",
            "opcode": 1, "fin": true, "rsv": 0, "masked": true, "length": 5}  # frames only
         ]}
      ]
    }

``t`` is seconds since the case started; ``dir`` is from the suite's point of view (→ sent by
the suite, ← received from the peer, · a note). The HTML report is one table, one row per case,
coloured by verdict with the series' palette (:func:`verdict_colours`, safe for colour-blind
readers); clicking a row
shows its trace. It loads nothing from the network.
"""

from __future__ import annotations

import functools
import html
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any

from .cases import CATEGORIES, EXTENSION_CATEGORIES
from .model import Case, Verdict

__all__ = [
    "VERDICT_PALETTE_NAMES",
    "CaseResult",
    "ProgressBar",
    "Results",
    "TraceEntry",
    "format_case",
    "print_case",
    "verdict_colours",
]

SCHEMA = "wslib.conformance/1"

#: The colour of each verdict, by its name in the series' one palette
#: (:data:`wslib.lab.drawings.PALETTE`, Okabe and Ito's, which colour-blind readers tell apart).
VERDICT_PALETTE_NAMES = {
    Verdict.OK: "bluish green",
    Verdict.INFORMATIONAL: "sky blue",
    Verdict.NON_STRICT: "orange",
    Verdict.FAILED: "vermillion",
}


@functools.cache
def verdict_colours() -> Mapping[Verdict, str]:
    """The hex colour of each verdict, taken from :data:`wslib.lab.drawings.PALETTE`.

    Looked up when a report or a figure is drawn, not when the suite runs: the drawings module
    loads matplotlib. The HTML report embeds the hex values, so it stays one self-contained file.
    """
    from ..drawings import PALETTE

    return MappingProxyType({v: PALETTE[name] for v, name in VERDICT_PALETTE_NAMES.items()})


@dataclass
class TraceEntry:
    """One line of a case's wire trace."""

    t: float
    direction: str
    kind: str
    text: str
    opcode: int | None = None
    fin: bool | None = None
    rsv: int | None = None
    masked: bool | None = None
    length: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "t": self.t,
            "dir": self.direction,
            "kind": self.kind,
            "text": self.text,
        }
        if self.opcode is not None:
            d.update(
                opcode=self.opcode,
                fin=self.fin,
                rsv=self.rsv,
                masked=self.masked,
                length=self.length,
            )
        return d


@dataclass
class CaseResult:
    """The verdict of one case, why, and its trace."""

    case: Case
    verdict: Verdict
    reason: str
    duration: float
    trace: list[TraceEntry] = field(default_factory=list)
    peer_close_code: int | None = None

    def to_dict(self) -> dict[str, Any]:
        c = self.case
        return {
            "id": c.id,
            "category": c.category,
            "rfc": c.rfc,
            "title": c.title,
            "description": c.description,
            "verdict": self.verdict.value,
            "reason": self.reason,
            "duration_s": self.duration,
            "peer_close_code": self.peer_close_code,
            "trace": [entry.to_dict() for entry in self.trace],
        }


def _rfc(section: str) -> str:
    """``RFC 6455 §5.2`` for the suite's ``§5.2``; an extension's case names its own RFC."""
    return section if section.startswith("RFC") else f"RFC 6455 {section}"


def format_case(result: CaseResult, *, http: bool = False, limit: int = 40) -> str:
    """A case and its wire trace as lines to read: what it is, what it sends and expects, the
    verdict and why, then one line per trace entry (seconds since the case started, → sent by
    the suite, ← received from the peer, · a note). The handshake's HTTP lines are left out
    unless ``http``; at most ``limit`` trace lines are shown."""
    c = result.case
    lines = [
        f"case {c.id} · {c.category} · {_rfc(c.rfc)} · {c.title}",
        c.description,
        f"verdict: {result.verdict.value} ({result.reason})",
        "",
        f"{'time (s)':>9}  dir  {'what':5}",
    ]
    entries = [e for e in result.trace if http or e.kind != "http"]
    hidden = len(result.trace) - len(entries)
    for entry in entries[:limit]:
        lines.append(f"{entry.t:9.4f}   {entry.direction}   {entry.kind:5} {entry.text}")
    if len(entries) > limit:
        lines.append(f"{'':9}   ·   ... {len(entries) - limit} more lines")
    if hidden:
        lines.append(f"({hidden} HTTP lines of the opening handshake not shown)")
    return "\n".join(lines)


def print_case(
    result: CaseResult, *, http: bool = False, limit: int = 40, file: IO[str] | None = None
) -> None:
    """Print :func:`format_case` (to ``file``, standard output by default)."""
    print(format_case(result, http=http, limit=limit), file=file)


def _id_key(case_id: str) -> tuple[int, ...]:
    return tuple(int(part) for part in case_id.split("."))


@dataclass
class Results:
    """A run of the suite: one :class:`CaseResult` per case, in case order."""

    target: str
    mode: str
    started: str
    duration: float
    results: list[CaseResult]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, case_id: str) -> CaseResult:
        for result in self.results:
            if result.case.id == case_id:
                return result
        raise KeyError(case_id)

    @property
    def counts(self) -> dict[str, int]:
        """``{"OK": n, "NON-STRICT": n, "INFORMATIONAL": n, "FAILED": n}``."""
        counts = {
            v.value: 0
            for v in (Verdict.OK, Verdict.NON_STRICT, Verdict.INFORMATIONAL, Verdict.FAILED)
        }
        for result in self.results:
            counts[result.verdict.value] += 1
        return counts

    @property
    def by_category(self) -> dict[str, dict[str, int]]:
        """Counts per category, categories in report order (a heat map's rows)."""
        table: dict[str, dict[str, int]] = {}
        for category in [*CATEGORIES, *EXTENSION_CATEGORIES]:
            rows = [r for r in self.results if r.case.category == category]
            if rows:
                table[category] = {v: 0 for v in self.counts}
                for r in rows:
                    table[category][r.verdict.value] += 1
        return table

    @property
    def verdicts(self) -> dict[str, str]:
        """``{case id: verdict}``."""
        return {r.case.id: r.verdict.value for r in self.results}

    def summary_line(self) -> str:
        """``OK=N NON-STRICT=N INFORMATIONAL=N FAILED=N``."""
        return " ".join(f"{name}={n}" for name, n in self.counts.items())

    @property
    def ok(self) -> bool:
        """True when no case FAILED."""
        return self.counts["FAILED"] == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "target": self.target,
            "mode": self.mode,
            "started": self.started,
            "duration_s": self.duration,
            "summary": self.counts,
            "categories": self.by_category,
            "cases": [r.to_dict() for r in self.results],
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    def write_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.to_json(indent=1), encoding="utf-8")
        return path

    def write_html(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.to_html(), encoding="utf-8")
        return path

    def to_html(self) -> str:
        esc = html.escape
        colours = verdict_colours()
        rows = []
        for r in self.results:
            c = r.case
            colour = colours[r.verdict]
            trace = "\n".join(
                f"{e.t:9.4f}s {esc(e.direction)} {esc(e.kind):5} {esc(e.text)}" for e in r.trace
            )
            rows.append(
                f'<tr class="case" data-id="{esc(c.id)}" onclick="toggle(this)">'
                f"<td>{esc(c.id)}</td><td>{esc(c.category)}</td><td>{esc(c.rfc)}</td>"
                f"<td>{esc(c.title)}</td>"
                f'<td class="v" style="background:{colour}">{esc(r.verdict.value)}</td>'
                f"<td>{esc(r.reason)}</td><td>{r.duration * 1000:.0f} ms</td></tr>"
                f'<tr class="trace" hidden><td colspan="7"><p>{esc(c.description)}</p>'
                f"<pre>{trace}</pre></td></tr>"
            )
        legend = " ".join(
            f'<span class="v" style="background:{colours[Verdict(name)]}">{esc(name)}={n}</span>'
            for name, n in self.counts.items()
        )
        return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Conformance: {esc(self.target)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; width: 100%; font-size: 0.9em; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 0.25em 0.5em; text-align: left;
  vertical-align: top; }}
tr.case {{ cursor: pointer; }} tr.case:hover {{ background: #f3f3f3; }}
.v {{ color: #000; font-weight: bold; padding: 0.1em 0.4em; }}
pre {{ font-size: 0.85em; white-space: pre-wrap; background: #fafafa; padding: 0.5em; }}
</style></head><body>
<h1>WebSocket conformance (RFC 6455)</h1>
<p>Target: <code>{esc(self.target)}</code> ({esc(self.mode)} tested), started {esc(self.started)},
{self.duration:.1f} s. {legend}</p>
<p>Click a row to see what the case sent and the wire trace (→ sent by the suite,
← from the peer, times since the case started).</p>
<table><thead><tr><th>case</th><th>category</th><th>RFC</th><th>what</th><th>verdict</th>
<th>why</th><th>time</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
<script>
function toggle(row) {{ var next = row.nextElementSibling; next.hidden = !next.hidden; }}
</script>
</body></html>
"""


class ProgressBar:
    """A plain-text progress bar: redrawn in place on a terminal, a line every 10% otherwise."""

    def __init__(self, stream: IO[str] | None = None, width: int = 40) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.last_tenth = -1
        self.failed = 0

    def __call__(self, done: int, total: int, result: CaseResult) -> None:
        if result.verdict is Verdict.FAILED:
            self.failed += 1
        filled = self.width * done // max(total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        line = f"[{bar}] {done}/{total} cases, {self.failed} failed"
        if self.tty:
            self.stream.write("\r" + line + ("\n" if done == total else ""))
        else:
            tenth = 10 * done // max(total, 1)
            if tenth == self.last_tenth:
                return
            self.last_tenth = tenth
            self.stream.write(line + "\n")
        self.stream.flush()
