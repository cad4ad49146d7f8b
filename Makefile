# cosmodl: `make run` runs the pipeline on config.yaml, `make test` runs the tests.
# Both create .venv (Python >= 3.11) and install the pinned dependencies on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all

.PHONY: run test bench smoke clean venv check-config

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "cosmodl needs Python >= 3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --configfile config.yaml

smoke: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --configfile configs/smoke.yaml --directory results/smoke-run

test: $(STAMP)
	$(BIN)/python -m pytest

# Check config files before a run: YAML syntax (file:line), schema, cross-field checks.
# make check-config CONFIG="configs/paper.yaml my.yaml"   (merged over config.yaml, as --configfile does)
check-config: $(STAMP)
	$(BIN)/python -m cosmodl.config check $(CONFIG)

bench: $(STAMP)
	$(BIN)/python bench/run.py --out results/bench

clean:
	rm -rf results logs benchmarks .snakemake
