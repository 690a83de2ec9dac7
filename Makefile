# Bootstraps .venv and runs the harness. Every target installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
XDIST ?= -n 2
STAMP := $(VENV)/.installed

.PHONY: setup system validate test test-unit test-phases test-aws-served serve bench fixtures clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(STAMP)

setup: $(STAMP) system

# redis-server is the Celery broker of the backend's fallback path (a real Redis,
# not a mock). It comes from Debian; apt-get update first, as a fresh machine has
# no package lists.
system:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "installing redis-server (Debian) for the Celery broker"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }

# The main job: validate every rollout step on the embedded target; writes reports/latest.md.
validate: setup
	$(BIN)/pytest phases/ -m local $(XDIST)

# Every test of the project.
test: setup test-unit test-phases test-aws-served

test-unit: setup
	$(BIN)/pytest tests/ $(XDIST)

test-phases: setup
	$(BIN)/pytest phases/ -m local $(XDIST) --report-dir reports

# The aws code path, proven against the embedded stack served in the foreground.
test-aws-served: setup
	$(BIN)/python -m harness aws-selftest --phase 5 -- $(XDIST)

serve: setup
	$(BIN)/python -m harness serve

fixtures: setup
	$(BIN)/python -m fixtures.videos

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build .cache fixtures/videos/cache reports/*.md reports/*.json
