# `make demo` and `make test` each do all set-up (a virtual environment in .venv) and then run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo eval-demo lab-demo test bench clean

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
	$(BIN)/mathcamps validate out/demo/problems.jsonl --workers 2 --report out/demo/validation.json --force

# A tiny random model at three "checkpoints", evaluated offline on a small release, then its
# report and learning dynamics. OMP_NUM_THREADS=1: faster for a tiny model on a busy CPU.
EVAL_DEMO := out/eval-demo
eval-demo: $(STAMP)
	$(BIN)/mathcamps release build --name demo --version 0.1.0 --per-standard 3 --seed 7 --out $(EVAL_DEMO)/releases --force
	$(BIN)/python -m mathcamps.evaluation.tiny $(EVAL_DEMO)/cache --hub demo/tiny --revisions step0,step1000,step2000 \
		--release $(EVAL_DEMO)/releases/demo-0.1.0 --force
	HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 $(BIN)/mathcamps eval sweep --release $(EVAL_DEMO)/releases/demo-0.1.0 \
		--model demo/tiny --cache-dir $(EVAL_DEMO)/cache --revisions step0,step1000,step2000 --backend hf \
		--max-new-tokens 32 --out $(EVAL_DEMO)/results.jsonl
	$(BIN)/mathcamps eval report $(EVAL_DEMO)/results.jsonl --plot $(EVAL_DEMO)/accuracy.png --force
	$(BIN)/mathcamps dynamics $(EVAL_DEMO)/results.jsonl --tokens-per-step 2097152 --plot $(EVAL_DEMO)/dynamics.png --force

# The lab on this machine: a small release of the kindergarten and grade 1 standards, a tiny model
# trained from scratch under the random and the curriculum order (4M tokens and 6 checkpoints
# each), every checkpoint swept, and when each skill emerged under each order. About 13 minutes
# on 2 cores. A newcomer who wants to see skills emerge runs this; eval-demo only shows the
# evaluation plumbing on random weights, in a minute.
LAB_DEMO := out/lab-demo
LAB_STANDARDS := K.CC.C.7 K.NBT.A.1 K.OA.A.4 K.OA.A.5 1.OA.A.1 1.OA.A.2 1.OA.D.8
lab-demo: $(STAMP)
	rm -rf $(LAB_DEMO)
	$(BIN)/mathcamps release build --name lab --version 0.1.0 --per-standard 500 --seed 2 \
		--out $(LAB_DEMO)/releases $(addprefix --standard ,$(LAB_STANDARDS))
	HF_HUB_OFFLINE=1 OMP_NUM_THREADS=2 $(BIN)/mathcamps lab run --release $(LAB_DEMO)/releases/lab-0.1.0 \
		--orders random,curriculum --model tiny --tokens 4000000 --checkpoints 6 --threshold 0.5 \
		--out $(LAB_DEMO)/lab

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/compile.py
	$(BIN)/python benchmarks/grade.py

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis *.egg-info
