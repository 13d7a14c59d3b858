# Two commands on a fresh machine: `make run` (the default study end to end) and `make test`.
PYTHON ?= python3
VENV ?= .venv
CORES ?= all
SNAKEMAKE_ARGS ?=
PYTEST_ARGS ?=
# CONFIG=path/to/study.yaml runs (and reports, and shows the status of) that study instead of the
# default one: the file is the whole study, nothing of config/config.yaml is merged in.
CONFIG ?=
CONFIG_ARGS := $(if $(CONFIG),--configfile $(CONFIG))
STUDY_CONFIG := $(or $(CONFIG),config/config.yaml)

BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: status watch interim run test lint report clean-results

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
	$(BIN)/snakemake --cores $(CORES) $(CONFIG_ARGS) $(SNAKEMAKE_ARGS)
	$(BIN)/snakemake --cores $(CORES) $(CONFIG_ARGS) \
	  --report $$($(BIN)/lstm-odyssey study-directory --config $(STUDY_CONFIG))/report.html

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks workflow/scripts
	$(BIN)/ruff format --check src tests benchmarks workflow/scripts
	$(BIN)/lint-imports
	$(BIN)/snakemake --lint

report: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) $(CONFIG_ARGS) \
	  --report $$($(BIN)/lstm-odyssey study-directory --config $(STUDY_CONFIG))/report.html

# Where a running (or finished) study stands; reads only its results folder and job logs.
# CONFIG=... as above; STATUS_ARGS="--jobs 100" sets the parallel jobs the ETA assumes.
STATUS_ARGS ?=
status: $(STAMP)
	$(BIN)/lstm-odyssey status --config $(STUDY_CONFIG) $(STATUS_ARGS)

# The same table, redrawn every 10 s until Ctrl-C.
watch: $(STAMP)
	$(BIN)/lstm-odyssey status --config $(STUDY_CONFIG) --watch $(STATUS_ARGS)

# Tables, figures and a report from the trials finished so far, into results/<study>/interim/;
# runs beside a running `make run` (it shares no file with it).
interim: $(STAMP)
	$(BIN)/snakemake interim --cores 1 $(CONFIG_ARGS)

# The paper's JSB arm on the Boulanger file: make reproduce JSB=/path/to/JSB\ Chorales.pickle
# Starts from the published records (docs/reproduction/jsb/records, imported into the record
# cache), so each run adds trials; raise `trials` in config/reproduce-jsb.yaml to add more. Ends by
# republishing the folder (tables, figures, records, run.md): commit it to share the new trials.
REPRODUCE_CONFIG := config/reproduce-jsb.yaml
REPRODUCTION := docs/reproduction/jsb
reproduce: $(STAMP)
	@test -n "$(JSB)" || { echo "usage: make reproduce JSB=<the Boulanger-Lewandowski JSB file>"; exit 2; }
	@test -f "$(JSB)" || { echo "$(JSB): no such file"; exit 2; }
	@mkdir -p resources; target="$$(realpath "$(JSB)")"; \
	  [ "$$(readlink resources/reproduce-jsb-chorales)" = "$$target" ] \
	  || ln -sfn "$$target" resources/reproduce-jsb-chorales
	$(BIN)/lstm-odyssey import-records $(REPRODUCTION)/records
	$(BIN)/snakemake --cores $(CORES) --configfile $(REPRODUCE_CONFIG) $(SNAKEMAKE_ARGS)
	$(BIN)/snakemake --cores $(CORES) --configfile $(REPRODUCE_CONFIG) \
	  --report $$($(BIN)/lstm-odyssey study-directory --config $(REPRODUCE_CONFIG))/report.html
	$(BIN)/lstm-odyssey publish $(REPRODUCTION) --config $(REPRODUCE_CONFIG)

clean-results:
	rm -rf results logs
