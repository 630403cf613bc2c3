"""Pure decisions with ``now`` and ``rng`` injected: throttling, routing, retry classes, receipt correlation, addressing."""
