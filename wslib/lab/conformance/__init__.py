"""A conformance suite for any WebSocket echo server or client (RFC 6455).

Written for this series from the RFC and the public descriptions of the Autobahn|Testsuite
categories (not a port of it): 8 categories, over 250 cases, each with its RFC section, what it
sends, what a conforming peer does, and a verdict OK / NON-STRICT / INFORMATIONAL / FAILED.
The seams:

- :mod:`.model`: what a case is (steps and expectations, as data) and what verdicts mean;
- :mod:`.cases`: the cases, category by category;
- :mod:`.wire`: the suite's own frame builder (it sends invalid frames on purpose) and a parser
  that forgives (it reads what a broken peer sends);
- :mod:`.verdicts`: from an observation to a verdict;
- :mod:`.runner`: the cases on real sockets, as a client or as a fuzzing server;
- :mod:`.report`: counts, JSON, the HTML report and the progress bar;
- :mod:`.__main__`: ``python -m wslib.conformance``.

From Python::

    from wslib.lab.conformance import run_server_suite
    results = run_server_suite("ws://127.0.0.1:8765/")
    print(results.summary_line())      # OK=... NON-STRICT=... INFORMATIONAL=... FAILED=...
    results.write_html("report.html")
"""

from __future__ import annotations

from .cases import CASES, CATEGORIES, select
from .model import Case, End, Expect, Verdict
from .report import CaseResult, Results, TraceEntry
from .runner import ENV_CASE, ENV_URL, Unreachable, run_client_suite, run_server_suite

__all__ = [
    "CASES",
    "CATEGORIES",
    "ENV_CASE",
    "ENV_URL",
    "Case",
    "CaseResult",
    "End",
    "Expect",
    "Results",
    "TraceEntry",
    "Unreachable",
    "Verdict",
    "run_client_suite",
    "run_server_suite",
    "select",
]
