# drillbook: `make demo` runs the demo, `make test` runs the tests. Both set up a fresh Debian
# machine first (as root): system packages through apt, then a virtualenv with the package.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# prometheus: for promtool, which tests the alert rules (on a machine with systemd its package also
# starts a prometheus server on :9090; stop it with `systemctl disable --now prometheus` if unwanted).
# redis-server: the broker of site workers (make demo-sites, the site tests); mariadb-server: stacks.
# When setup installs them, their Debian services are stopped and disabled: drills, tests and demos
# start their own (MariaDB inside the sandbox, Redis on loopback).
APT_PACKAGES := restic bubblewrap postgresql-15 mariadb-server mariadb-client chromium iproute2 util-linux procps passwd python3 python3-venv prometheus redis-server
SYSTEM_STAMP := $(VENV)/.system-ok
VENV_STAMP := $(VENV)/.venv-ok
# The unprivileged account `drillbook serve` runs as (deploy/systemd/drillbook.service).
SERVICE_ACCOUNT := drillbook
SERVICE_HOME := /var/lib/drillbook

.PHONY: setup system account venv install demo demo-sites lint test test-unit coverage bench bench-quick docs clean restic-0.18

setup: system account venv

system: $(SYSTEM_STAMP)
$(SYSTEM_STAMP):
	@missing=""; \
	command -v restic >/dev/null || missing="$$missing restic"; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	test -x /usr/lib/postgresql/15/bin/postgres || missing="$$missing postgresql-15"; \
	test -x /usr/sbin/mariadbd || missing="$$missing mariadb-server"; \
	command -v mariadb >/dev/null || missing="$$missing mariadb-client"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v ip >/dev/null || missing="$$missing iproute2"; \
	command -v pkill >/dev/null || missing="$$missing procps"; \
	command -v nsenter >/dev/null && command -v setpriv >/dev/null || missing="$$missing util-linux"; \
	command -v useradd >/dev/null || missing="$$missing passwd"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	test -x /usr/bin/python3 || missing="$$missing python3"; \
	/usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	  for service in mariadb redis-server; do \
	    case "$$missing" in *$$service*) ;; *) continue;; esac; \
	    if [ -d /run/systemd/system ]; then systemctl disable --now $$service >/dev/null 2>&1 || true; \
	    else service $$service stop >/dev/null 2>&1 || true; update-rc.d $$service disable >/dev/null 2>&1 || true; fi; \
	  done; \
	fi
	@mkdir -p $(VENV) && touch $@

# Idempotent: creates the account and its home (the default state folder) only when missing.
account: system
	@if id -u $(SERVICE_ACCOUNT) >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  useradd --system --user-group --home-dir $(SERVICE_HOME) --shell /usr/sbin/nologin \
	    --comment "drillbook service" $(SERVICE_ACCOUNT) && echo "created account $(SERVICE_ACCOUNT)"; \
	else echo "not root: account $(SERVICE_ACCOUNT) not created (run make setup as root)"; fi
	@if id -u $(SERVICE_ACCOUNT) >/dev/null 2>&1 && [ ! -d $(SERVICE_HOME) ] && [ "$$(id -u)" = 0 ]; then \
	  install -d -o $(SERVICE_ACCOUNT) -g $(SERVICE_ACCOUNT) -m 0700 $(SERVICE_HOME); fi

venv: $(VENV_STAMP)
$(VENV_STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
	@$(PY) -m pip install -q -e '.[test]' 2>&1 | grep -v '^WARNING: Location' || true
	@$(PY) -c "import drillbook, moto, pytest" && touch $@

# `drillbook` on PATH: a wrapper in $(BINDIR) that runs this checkout's venv (no activation needed).
BINDIR ?= /usr/local/bin
install: venv
	@printf '#!/bin/sh\nexec %s "$$@"\n' "$(abspath $(VENV))/bin/drillbook" > $(BINDIR)/drillbook
	@chmod 0755 $(BINDIR)/drillbook && echo "installed $(BINDIR)/drillbook -> $(abspath $(VENV))/bin/drillbook"

demo: setup
	$(PY) -m devtools.demo

# Site workers on one machine: Redis, two workers for two sites and a scheduler, all on loopback.
demo-sites: setup
	$(PY) -m devtools.demo_sites

lint: venv
	$(VENV)/bin/ruff check src tests devtools bench
	$(VENV)/bin/mypy

# restic 0.18 (Debian 13) beside the system's 0.14 (Debian 12): drillbook supports both, and the
# restic-facing tests (marked restic_versions) run against each. Fetched from Debian's archive,
# checked against debian-archive-keyring's trixie key, into .tools/ (ignored by git): this
# machine's apt sources, apt state and restic are not touched. The binary is the stamp.
RESTIC18 := .tools/restic-0.18/restic
TRIXIE_KEYRING := /usr/share/keyrings/debian-archive-trixie-stable.gpg

restic-0.18: $(RESTIC18)
$(RESTIC18):
	@set -euo pipefail; \
	test -r $(TRIXIE_KEYRING) || { echo "restic 0.18: $(TRIXIE_KEYRING) missing (apt-get install debian-archive-keyring)" >&2; exit 1; }; \
	D=$$(mktemp -d); trap 'rm -rf "$$D"' EXIT; \
	mkdir -p $$D/lists/partial $$D/cache/archives/partial; \
	printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\nSigned-By: %s\n' \
	  $(TRIXIE_KEYRING) > $$D/trixie.sources; \
	O="-o Dir::Etc::sourcelist=$$D/trixie.sources -o Dir::Etc::sourceparts=- -o Dir::State::Lists=$$D/lists \
	   -o Dir::Cache=$$D/cache -o APT::Sandbox::User=$$(id -un)"; \
	apt-get $$O update -qq || { echo "restic 0.18: could not fetch Debian trixie's package lists" >&2; exit 1; }; \
	(cd $$D && apt-get $$O download -qq 'restic=0.18*') || { echo "restic 0.18: download failed" >&2; exit 1; }; \
	dpkg-deb -x $$D/restic_0.18*.deb $$D/x; \
	$$D/x/usr/bin/restic version | grep -q '^restic 0\.18\.' || { echo "restic 0.18: the package holds no restic 0.18" >&2; exit 1; }; \
	install -D -m 0755 $$D/x/usr/bin/restic $@; \
	echo "fetched $$($@ version) into $@"

# The whole suite with the system's restic, then the restic-facing tests again with restic 0.18.
# The integration tests mostly wait (for restic, servers, schedules), so they run in parallel
# processes, one test file per process at a time (pytest-xdist); TEST_JOBS=1 runs them one by one.
TEST_JOBS ?= 3
PYTEST_PARALLEL := $(if $(filter 1,$(TEST_JOBS)),,-n $(TEST_JOBS) --dist loadfile)

test: setup lint restic-0.18
	$(PY) -m pytest -q -ra $(PYTEST_PARALLEL)
	DRILLBOOK_RESTIC=$(CURDIR)/$(RESTIC18) $(PY) -m pytest -q -ra $(PYTEST_PARALLEL) -m restic_versions tests/integration

test-unit: venv
	$(PY) -m pytest -q tests/unit

coverage: venv
	$(PY) -m pytest -q tests/unit --cov=drillbook --cov-report=term

docs: venv
	$(PY) -m drillbook schema > docs/drill.schema.json
	$(PY) -m drillbook schema --markdown > docs/drill-spec.md
	$(PY) -m drillbook.cli.manpage > docs/drillbook.1

# Every benchmark, results appended to bench/RESULTS.md: the drill against a bare restore at each
# size with the system's restic, the ratio sizes again with restic 0.18, then the command timings.
# bench-quick is the same on small sizes (a laptop's few minutes, no restic 0.18 pass).
bench: setup restic-0.18
	$(PY) bench/restore_overhead.py --suite full
	DRILLBOOK_RESTIC=$(CURDIR)/$(RESTIC18) $(PY) bench/restore_overhead.py --files 10000 --mb 600 --work bench/work/restic18-10000-600
	DRILLBOOK_RESTIC=$(CURDIR)/$(RESTIC18) $(PY) bench/restore_overhead.py --files 200000 --mb 200 --work bench/work/restic18-200000-200
	$(PY) bench/commands_1000.py --rounds 5 --record
	$(PY) bench/run_startup.py --rounds 7 --record

bench-quick: setup
	$(PY) bench/restore_overhead.py --suite quick
	$(PY) bench/commands_1000.py --rounds 3 --record

clean:
	rm -rf demo reports/*/ reports/index.html .pytest_cache
