# Two commands on a fresh machine: `make run` (the default study end to end) and `make test`.
PYTHON ?= python3
VENV ?= .venv
CORES ?= all
SNAKEMAKE_ARGS ?=
PYTEST_ARGS ?=

BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: status run test lint report clean-results

# Debian packages the offline stand-in corpora are made from (TIMIT: espeak-ng's speech;
# IAM-OnDB: the Hershey vector fonts). Installed when missing and apt-get can (root); otherwise
# the exact command is printed and the stand-ins' jobs and tests say what is missing.
SYSTEM_PACKAGES := espeak-ng hershey-fonts-data

$(STAMP): pyproject.toml requirements.lock
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing) >/dev/null \
	      || echo "could not install$$missing; run: apt-get install$$missing"; \
	  else echo "missing Debian packages; run: sudo apt-get install$$missing"; fi; \
	fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev,slurm]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) $(SNAKEMAKE_ARGS)
	$(BIN)/snakemake --cores $(CORES) --report results/report.html

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks workflow/scripts
	$(BIN)/ruff format --check src tests benchmarks workflow/scripts
	$(BIN)/snakemake --lint

report: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --report results/report.html

# Where a running (or finished) study stands; reads only results/. CONFIG=config/paper.yaml etc.
status: $(STAMP)
	$(BIN)/lstm-odyssey --config $(or $(CONFIG),config/config.yaml) status --results results

clean-results:
	rm -rf results logs
