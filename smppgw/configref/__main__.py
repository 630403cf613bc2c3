"""``python -m smppgw.configref > docs/config.md``: print the config reference."""

from smppgw.configref import render

print(render(), end="")
