"""``python -m wslib.conformance``: the entry point of the conformance suite.

The suite lives in :mod:`wslib.lab.conformance`; this module only runs its command line.
"""

from __future__ import annotations

import sys

from .lab.conformance.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
