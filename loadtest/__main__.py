"""``python -m loadtest`` is ``smpp-loadtest``."""

from loadtest.cli import main

main()
