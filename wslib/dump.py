"""``python -m wslib.dump FILE.pcap``: the command-line entry point of :mod:`wslib.lab.dump`."""

from __future__ import annotations

import sys

if __name__ == "__main__":  # pragma: no cover
    from wslib.lab.dump import main

    sys.exit(main())
