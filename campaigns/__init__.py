"""Crash and fault campaigns against real processes (`make faults`); short versions run in tests/campaigns."""
