"""``python -m conformance`` is ``smpp-conformance``."""

from conformance.cli import main

main()
