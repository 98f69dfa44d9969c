# The two commands: `make book` and `make test`. Everything else is set-up.
# PROFILE picks the run profile (smoke | cpu | full); TORCH the torch to install
# (the default is the CPU build; GPU users: make setup TORCH=torch).
PYTHON  ?= python3
PROFILE ?= cpu
TORCH   ?= torch==2.13.0
VENV    := .venv
PY      := $(VENV)/bin/python
export JUPYTER_PREFER_ENV_PATH := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: setup book-js reproduce book test bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[book,test,cluster]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (repro_lib)"
	touch $@

setup: $(VENV)/.installed

book-js:
	bash tools/fetch_book_js.sh

reproduce: setup
	$(PY) -m repro_lib run --profile $(PROFILE)

book: setup book-js reproduce
	$(PY) -m repro_lib book --profile $(PROFILE)

test: setup book-js
	$(PY) -m repro_lib plan --profile full --check
	$(PY) -m pytest

bench: setup
	$(PY) benchmarks/bench_attribution.py
	$(PY) benchmarks/bench_prior_step.py
	$(PY) benchmarks/bench_fire.py
	$(PY) benchmarks/bench_attack.py
	$(PY) benchmarks/bench_world_models.py
	$(PY) benchmarks/bench_engine.py
	$(PY) benchmarks/bench_mig.py
	$(PY) benchmarks/bench_dds.py

clean:
	rm -rf _build results
