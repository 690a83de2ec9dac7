# Bootstraps .venv and runs the harness. Every target installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
XDIST ?= -n 2
STAMP := $(VENV)/.installed

.PHONY: setup system browser validate test test-unit test-phases test-aws-served serve bench fixtures clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(STAMP)

setup: $(STAMP) system

system: $(STAMP)

# Debian packages: redis-server is the Celery broker of the backend's fallback
# path (a real Redis, not a mock); locales gives localedef the en_US sources for
# the Lambda sandbox's LANG. apt-get update first: a fresh machine has no lists.
system:
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	test -f /usr/share/i18n/locales/en_US || missing="$$missing locales"; \
	if [ -n "$$missing" ]; then \
	  echo "installing from Debian:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	$(BIN)/python -m harness provision-python --if-missing
	$(BIN)/python -m harness runtime-env

# Debian's headless Chromium and its chromedriver, for the HTML report's browser tests
# (tests/test_report_html_browser.py); nothing is downloaded but Debian packages.
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  echo "installing from Debian: chromium chromium-driver"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

# The main job: validate every rollout step on the embedded target; writes reports/latest.md.
validate: setup
	$(BIN)/pytest phases/ -m local $(XDIST)

# Every test of the project.
test: setup test-unit test-phases test-aws-served

test-unit: setup browser
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

# ruff over the tree (the default rules plus F811, configured in pyproject.toml): CI runs it on every push.
.PHONY: ruff lint
ruff: $(STAMP)
	$(BIN)/ruff check .

# ruff, then the style of terraform/: not part of the go/no-go gate (harness/plan/catalogue.py
# NOT_CHECKED says why). terraform fmt needs the terraform CLI, which neither PyPI nor Debian has.
lint: ruff
	$(BIN)/python -m harness lint

clean:
	rm -rf $(VENV) build .cache fixtures/videos/cache reports/*.md reports/*.json
