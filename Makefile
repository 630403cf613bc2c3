# smppgw: the two commands of the quick start are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck unit bench soak fuzz faults clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# setuptools tells every editable install, in a banner, to mind same-named folders in the
# working directory (the checkout is the package's home here): that one notice is hidden.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -W "ignore:Editable installation:UserWarning" -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/smppgw demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# One run: smppgw/core and smppgw/policy get --strict's flags from pyproject.toml's
# [[tool.mypy.overrides]] (two runs with different flags would each spoil the other's cache).
typecheck: $(STAMP)
	$(BIN)/mypy smppgw simulator loadtest conformance campaigns

# The HTML load-test report is checked in a real headless browser (Debian's Chromium).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { echo "installing Chromium for the HTML report test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

unit: $(STAMP) browser
	$(BIN)/pytest -n 2

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python bench/run.py

# A million messages through `smppgw serve` (embedded default); RSS must stay flat.
# Not part of `make test`: minutes, and 127.0.0.1:8080 must be free.
soak: $(STAMP)
	$(BIN)/python bench/soak.py

# Live fuzzing (issue 16): hostile frames at the simulator and at the gateway's receiving
# side, schemathesis at the API; seeded and bounded (about 10 minutes). Not part of
# `make test` (its short run is tests/fuzz/test_fuzz_short.py). Loopback only.
fuzz: $(STAMP)
	$(BIN)/python bench/fuzz.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .hypothesis

# The crash campaign (20,000 messages, the gateway SIGKILLed 5 times) and the fault
# campaign (each simulator fault in turn), real processes on loopback; each prints a
# table and fails on a violation. Minutes; not part of `make test` (tests/campaigns
# runs short seeded versions).
faults: $(STAMP)
	$(BIN)/python -m campaigns.crash --count 20000 --kills 5 --seed 1
	$(BIN)/python -m campaigns.faults --per-fault 1000 --seed 1
