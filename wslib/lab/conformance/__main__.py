"""``python -m wslib.conformance``: run the conformance suite from a terminal.

Test an echo server::

    python -m wslib.conformance ws://127.0.0.1:8765/

Test an echo client: the suite listens on a free 127.0.0.1 port and runs COMMAND once per case,
with the case's URL in ``WSLIB_CONFORMANCE_URL`` (and its id in ``WSLIB_CONFORMANCE_CASE``);
the command connects, echoes every message, and exits when the connection closes::

    python -m wslib.conformance --client "python my_echo_client.py"

Writes ``conformance.html`` and ``conformance.json`` (``--html``, ``--json``), shows a progress
bar on stderr and prints ``OK=N NON-STRICT=N INFORMATIONAL=N FAILED=N``. Exit status: 0 when no
case FAILED, 1 otherwise, 2 when the target cannot be reached.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .cases import CASES, CATEGORIES, EXTENSION_CASES, EXTENSION_CATEGORIES
from .report import ProgressBar
from .runner import Unreachable, run_client_suite, run_server_suite

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m wslib.conformance",
        description="RFC 6455 conformance suite for an echo server (URL) or an echo client "
        "(--client COMMAND).",
    )
    parser.add_argument("url", nargs="?", help="ws://HOST:PORT/PATH of an echo server")
    parser.add_argument(
        "--client",
        metavar="COMMAND",
        help="a shell command run once per case, with the URL in WSLIB_CONFORMANCE_URL",
    )
    parser.add_argument(
        "--cases", nargs="+", metavar="ID", help="case ids or prefixes, e.g. 2 6.3 8.1.12"
    )
    parser.add_argument(
        "--category",
        action="append",
        choices=[*CATEGORIES, *EXTENSION_CATEGORIES],
        help="only this category (compression: the permessage-deflate cases, run only when asked)",
    )
    parser.add_argument(
        "--html", default="conformance.html", help="HTML report (default: %(default)s)"
    )
    parser.add_argument(
        "--json", default="conformance.json", help="JSON results (default: %(default)s)"
    )
    parser.add_argument("--workers", type=int, default=4, help="cases run at once (default: 4)")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    args = parser.parse_args(argv)

    if args.list:
        for case in [*CASES, *EXTENSION_CASES]:
            print(f"{case.id:8} {case.category:17} {case.rfc:14} {case.title}")
        return 0
    if (args.url is None) == (args.client is None):
        parser.error("give either a ws:// URL or --client COMMAND")
    progress = ProgressBar()
    try:
        if args.client is not None:
            results = run_client_suite(
                args.client,
                cases=args.cases,
                categories=args.category,
                workers=args.workers,
                progress=progress,
            )
        else:
            results = run_server_suite(
                args.url,
                cases=args.cases,
                categories=args.category,
                workers=args.workers,
                progress=progress,
            )
    except Unreachable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # an unknown category
        parser.error(str(exc))
    results.write_html(args.html)
    results.write_json(args.json)
    for result in results:
        if result.verdict.value == "FAILED":
            print(f"FAILED {result.case.id} {result.case.title}: {result.reason}")
    print(f"report: {args.html}, {args.json} ({results.duration:.1f} s)")
    print(results.summary_line())
    return 0 if results.ok else 1


if __name__ == "__main__":
    sys.exit(main())
