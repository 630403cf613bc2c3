"""Small helpers shared by the gateway, the simulator and the tools (metrics, GC, config, CLI)."""
