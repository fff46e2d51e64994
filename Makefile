# Every target creates .venv and installs the project on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: test demo bench soak lint typecheck unit schema clean browser lock

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,demo,dashboard]'
	touch $(STAMP)

test: lint typecheck browser unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/hadolint Dockerfile

typecheck: $(STAMP)
	$(BIN)/mypy

# The dashboard's browser test drives Debian's Chromium headless (Playwright, no browser
# download). Installed when missing; where it cannot be, that one test is skipped.
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "chromium could not be installed: the dashboard's browser test will be skipped"

# Two workers, each module on one of them (--dist loadfile keeps a module's local AWS
# server and its fixtures together): most tests wait on a subprocess or a server.
unit: $(STAMP)
	$(BIN)/pytest -q -n 2 --dist loadfile --durations=15

demo: $(STAMP)
	$(BIN)/deployer demo --scenario canary
	$(BIN)/deployer demo --scenario rollback

soak: $(STAMP)
	$(BIN)/pytest -q -m slow -n 2 --dist loadfile

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# The container image's pinned dependencies (constraints/image.txt): what a clean install of
# deployer-aws[dashboard] resolves to today.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet '.[dashboard]'
	{ echo "# What the container image installs beside deployer-aws[dashboard], pinned: a rebuild"; \
	  echo "# of the same commit installs the same versions. Refresh with \`make lock\`."; \
	  .lock-venv/bin/python -m pip freeze --exclude deployer-aws; } > constraints/image.txt
	rm -rf .lock-venv

schema: $(STAMP)
	$(BIN)/deployer schema > configs/schema.json

clean:
	rm -rf $(VENV) .deployer .pytest_cache .mypy_cache .ruff_cache
