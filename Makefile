# `make demo` and `make test` each do all set-up (a virtual environment in .venv) and then run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test bench clean

# constraints.txt pins torch to its CPU build: an unpinned torch pulls a multi-GB GPU build.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,eval]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/mathcamps standards
	$(BIN)/mathcamps sample 1.OA.A.1 -n 2 --seed 7
	$(BIN)/mathcamps sample 2.MD.C.8 -n 1 --seed 7
	$(BIN)/mathcamps sample 4.NBT.B.6 -n 1 --seed 7
	$(BIN)/mathcamps sample 7.NS.A.2 -n 1 --seed 7
	$(BIN)/mathcamps compile --out out/demo --per-standard 200 --seed 7 --force
	$(BIN)/mathcamps validate out/demo/problems.jsonl --workers 2 --report out/demo/validation.json

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/compile.py

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis *.egg-info
