"""Mutation check: break wslib (or the harness) on purpose and see whether the tests notice.

Each mutation below is one search/replace in one file, with the test files that should go red.
The script copies the repository to a temporary folder, applies one mutation there (never here),
runs those tests with this checkout's virtual environment, and reports::

    KILLED    the tests failed: they guard this behaviour
    SURVIVED  the tests still pass: a hole in the suite (or a mutation that changes nothing)
    ERROR     the pattern was not found (the code moved: update the mutation), the unmutated
              tests already fail (baseline), pytest collected no tests, or it timed out

Usage (not collected by pytest: the file name does not start with ``test_``)::

    .venv/bin/python tests/mutations.py              # every mutation (about 5 minutes)
    .venv/bin/python tests/mutations.py --list       # names and what each one breaks
    .venv/bin/python tests/mutations.py close-exception-ignores-sent pong-payload-cut
    .venv/bin/python tests/mutations.py --no-baseline NAME   # skip the unmutated run

The exit status is 0 when every mutation selected was killed, 1 otherwise. The mutations come
from issue 19 (the tests that could not fail) and from the earlier mutation rounds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
IGNORED = shutil.ignore_patterns(
    ".venv", ".git", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", "__pycache__"
)
LIVE_NOTEBOOKS = ["tests/test_notebooks.py", "-k", "live and (05 or 07 or 08 or 09)"]


@dataclass(frozen=True)
class Mutation:
    name: str
    what: str  # the behaviour broken, in one line
    path: str  # relative to the repository
    old: str  # must occur exactly once
    new: str
    tests: list[str]  # pytest arguments: files, -k expressions
    env: dict[str, str] = field(default_factory=dict)
    timeout: float = 600


MUTATIONS = [
    Mutation(
        "deflate-inflate-unbounded",
        "permessage-deflate inflates a whole frame before checking max_size (a bomb eats memory)",
        "wslib/deflate.py",
        "payload = decompressor.decompress(data, max_size + 1)",
        "payload = decompressor.decompress(data)",
        ["tests/test_deflate.py"],
    ),
    Mutation(
        "deflate-rsv1-on-continuation",
        "permessage-deflate accepts RSV1 on a continuation frame",
        "wslib/deflate.py",
        "        if frame.opcode is Opcode.CONT:\n            if frame.rsv1:",
        "        if frame.opcode is Opcode.CONT:\n            if False:",
        ["tests/test_deflate.py"],
    ),
    # --- the protocol core (tests/test_edges.py and the per-module tests) ----------------------
    Mutation(
        "close-exception-ignores-sent",
        "close_exception looks only at the code received, not at the one we sent",
        "wslib/protocol.py",
        "        ok = ok and sent is not None and sent.code in _OK_CLOSE_CODES\n",
        "",
        ["tests/test_edges.py"],
    ),
    Mutation(
        "two-upgrade-fields-accepted",
        "check_response takes the first of several Upgrade fields",
        "wslib/handshake.py",
        'if len(upgrade) != 1 or upgrade[0].lower() != "websocket":',
        'if not upgrade or upgrade[0].lower() != "websocket":',
        ["tests/test_edges.py"],
    ),
    Mutation(
        "str-frame-prints-control-characters",
        "str(Frame) shows any decodable text raw, control characters included",
        "wslib/frames.py",
        "            if text.isprintable():\n"
        '                return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."\n',
        "            if True:\n                return text  # raw, unescaped\n",
        ["tests/test_edges.py"],
    ),
    Mutation(
        "length-125-as-16-bit",
        "a 125-byte payload is sent with a 16-bit length (not the shortest form)",
        "wslib/frames.py",
        "        if length <= 125:\n            header = ",
        "        if length < 125:\n            header = ",
        ["tests/test_edges.py"],
    ),
    Mutation(
        "length-65535-as-64-bit",
        "a 65535-byte payload is sent with a 64-bit length (not the shortest form)",
        "wslib/frames.py",
        "        elif length <= 0xFFFF:\n",
        "        elif length < 0xFFFF:\n",
        ["tests/test_edges.py"],
    ),
    Mutation(
        "pong-payload-cut",
        "the pong carries only the first byte of the ping's payload",
        "wslib/protocol.py",
        "        self._send_frame(Frame(Opcode.PONG, payload))\n",
        "        self._send_frame(Frame(Opcode.PONG, payload[:1]))\n",
        ["tests/test_interop.py", "-k", "pong"],
    ),
    # --- the harness itself ---------------------------------------------------------------------
    Mutation(
        "checker-crashes-on-wrong-answers",
        "an exercise checker crashes (KeyError) where it should say Wrong",
        "wslib/exercises/nb01.py",
        'raise Wrong(f"is_valid_key({key!r}) accepts {why}',
        'raise KeyError(f"is_valid_key({key!r}) accepts {why}',
        ["tests/test_exercises.py"],
    ),
    Mutation(
        "ci-skip-goes-unnoticed",
        "tshark looks missing, so its tests skip: under CI=true that must fail the run",
        "tests/test_tshark.py",
        'TSHARK = shutil.which("tshark")\n',
        "TSHARK = None\n",
        ["tests/test_tshark.py"],
        env={"CI": "true"},
    ),
    # --- live notebook runs must be live (item 1 of issue 19) -----------------------------------
    Mutation(
        "capture-enter-raises",
        "Capture.__enter__ always raises CaptureUnavailable: the live notebooks fall back",
        "wslib/lab/capture.py",
        "    def __enter__(self) -> Capture:\n        self.start()\n",
        "    def __enter__(self) -> Capture:\n"
        '        raise CaptureUnavailable("mutation: no capture")\n',
        LIVE_NOTEBOOKS,
        timeout=900,
    ),
    Mutation(
        "browser-page-never-sends",
        "the served page never sends what the user typed",
        "wslib/sync/static/index.html",
        "    ws.send(input.value);\n",
        "    // ws.send(input.value);\n",
        ["tests/test_notebooks.py", "-k", "04"],
        timeout=900,
    ),
    # --- the dissector (other helpers edit wslib/lab/dissect.py and tests/test_dump.py: if a
    # pattern is not found after a merge, update it here) ----------------------------------------
    Mutation(
        "seq-diff-plain-subtraction",
        "TCP sequence numbers compared without the 2**32 wrap",
        "wslib/lab/dissect/tcp.py",
        "    d = (a - b) & 0xFFFFFFFF\n    return d - (1 << 32) if d >= 1 << 31 else d\n",
        "    return a - b\n",
        ["tests/test_dissect.py", "tests/test_dissect_tcp.py"],
    ),
    Mutation(
        "max-out-of-order-8-gib",
        "MAX_OUT_OF_ORDER is 8 GiB instead of 8 MiB",
        "wslib/lab/dissect/tcp.py",
        "MAX_OUT_OF_ORDER = 8 * 1024 * 1024\n",
        "MAX_OUT_OF_ORDER = 8 * 1024 * 1024 * 1024\n",
        ["tests/test_dissect.py", "tests/test_dissect_tcp.py"],
    ),
    Mutation(
        "duplicate-pending-segment",
        "a duplicate of a segment waiting for a gap is counted as new out-of-order data",
        "wslib/lab/dissect/tcp.py",
        "        if known is not None and len(known) >= len(data):  # a repeat of a waiting",
        "        if False:  # a repeat of a waiting",
        ["tests/test_dissect.py", "tests/test_dissect_tcp.py"],
    ),
    Mutation(
        "dump-summary-off-by-one",
        "python -m wslib.dump counts one frame too many in its summary line",
        "wslib/lab/dump.py",
        'f"-- {len(conversation.frames)} frames, ',
        'f"-- {len(conversation.frames) + 1} frames, ',
        ["tests/test_dump.py"],
    ),
]


def copy_repository(into: Path) -> Path:
    target = into / "repo"
    shutil.copytree(ROOT, target, ignore=IGNORED, symlinks=True)
    return target


def environment(copy: Path, extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CI", None)  # only the mutations that ask for it run as CI
    # The venv has wslib installed in editable mode from this checkout: put the copy first, for
    # pytest and for the notebook kernels it starts (they inherit the environment).
    env["PYTHONPATH"] = str(copy)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["COLUMNS"] = "240"  # pytest shortens the summary lines to the terminal width
    env.update(extra)
    return env


def pytest_status(copy: Path, mutation: Mutation) -> tuple[int | None, str]:
    """Run the mutation's tests in the copy: (exit status or None on timeout, last lines)."""
    command = [str(PYTHON), "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *mutation.tests]
    try:
        done = subprocess.run(
            command,
            cwd=copy,
            env=environment(copy, mutation.env),
            capture_output=True,
            text=True,
            timeout=mutation.timeout,
        )
    except subprocess.TimeoutExpired:
        return None, f"timed out after {mutation.timeout:g} s"
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return done.returncode, "\n".join(lines[-4:])


def check_the_copy_is_imported(copy: Path) -> None:
    done = subprocess.run(
        [str(PYTHON), "-c", "import wslib; print(wslib.__file__)"],
        cwd=copy / "notebooks",  # where the notebook kernels start
        env=environment(copy, {}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    where = Path(done.stdout.strip())
    if not where.is_relative_to(copy):
        sys.exit(f"the copy's wslib is not the one imported ({where}): cannot test mutations")


def apply(copy: Path, mutation: Mutation) -> str | None:
    """Apply the mutation in the copy; return why it could not be applied, or None."""
    path = copy / mutation.path
    if not path.exists():
        return f"{mutation.path} does not exist any more"
    text = path.read_text(encoding="utf-8")
    count = text.count(mutation.old)
    if count != 1:
        return (
            f"the pattern {mutation.old!r} occurs {count} times in {mutation.path} (expected "
            "once): the code changed, update this mutation in tests/mutations.py"
        )
    path.write_text(text.replace(mutation.old, mutation.new), encoding="utf-8")
    return None


def run(mutation: Mutation, baseline: bool) -> str:
    with tempfile.TemporaryDirectory(prefix=f"mutation-{mutation.name}-") as tmp:
        copy = copy_repository(Path(tmp))
        check_the_copy_is_imported(copy)
        if baseline:
            status, tail = pytest_status(copy, Mutation(**{**vars(mutation), "env": {}}))
            if status != 0:
                return f"ERROR     the unmutated tests do not pass (exit {status}):\n{tail}"
        problem = apply(copy, mutation)
        if problem:
            return f"ERROR     {problem}"
        status, tail = pytest_status(copy, mutation)
    if status == 1:
        failed = [line for line in tail.splitlines() if line.startswith(("FAILED", "ERROR"))]
        return "KILLED" + (f"    {failed[0][:200]}" if failed else "")
    if status == 0:
        return f"SURVIVED  {' '.join(mutation.tests)} still pass:\n{tail}"
    if status == 5:
        return f"ERROR     pytest collected no tests for {' '.join(mutation.tests)}"
    return f"ERROR     pytest exit status {status}:\n{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="mutations to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument(
        "--no-baseline", action="store_true", help="do not run the unmutated tests first"
    )
    args = parser.parse_args(argv)
    known = {m.name: m for m in MUTATIONS}
    if args.list:
        for m in MUTATIONS:
            print(f"{m.name:38} {m.what}\n{'':38} {m.path} -> {' '.join(m.tests)}")
        return 0
    unknown = [name for name in args.names if name not in known]
    if unknown:
        parser.error(f"unknown mutation(s) {unknown}; see --list")
    if not PYTHON.exists():
        parser.error(f"{PYTHON} is missing: run `make .venv/.installed` first")
    selected = [known[name] for name in args.names] or MUTATIONS
    failures = 0
    for mutation in selected:
        started = time.monotonic()
        verdict = run(mutation, baseline=not args.no_baseline)
        took = time.monotonic() - started
        print(f"{mutation.name:38} {verdict} ({took:.0f} s)", flush=True)
        failures += not verdict.startswith("KILLED")
    print(f"{len(selected) - failures} of {len(selected)} mutations killed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
