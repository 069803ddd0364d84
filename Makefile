# citebot: `make run` sets up and starts (bot, or terminal chat without DISCORD_TOKEN); `make test`.
PYTHON ?= python3
# pipefail: a failing command in a pipe must still fail the target
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run index stats ask chat test lint typecheck format eval eval-claims eval-claims-public train-verifier bench bench-bot bench-scale calibrate recency-grid clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("citebot needs Python >= 3.11") if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "== citebot setup: installing into $(VENV) (first time: about 3 minutes) =="
	$(BIN)/pip install --quiet --upgrade pip
	@echo "== 1/2 torch 2.13.0, CPU build =="
	# torch first, pinned: this takes the CPU build; a bare `torch` would pull a CUDA build
	$(BIN)/pip install --progress-bar on torch==2.13.0
	@echo "== 2/2 citebot and its dependencies =="
	# pip's own output shows the progress; setuptools' "Editable installation" box (a UserWarning
	# of the build backend, about folders named like the package: none here) is hidden
	PYTHONWARNINGS=ignore::UserWarning $(BIN)/pip install --progress-bar on -e '.[dev]'
	$(BIN)/python -c 'import bot, index, chromadb, discord, sentence_transformers'
	touch $(STAMP)
	@echo "== setup done: run commands as $(BIN)/citebot … or after '. $(VENV)/bin/activate' =="

setup: $(STAMP)

run: setup
	$(BIN)/citebot

index: setup
	$(BIN)/citebot-index build

stats: setup
	$(BIN)/citebot-index stats

# make ask Q="How big was Russia–China trade last year?"
ask: setup
	$(BIN)/citebot ask "$(Q)"

chat: setup
	$(BIN)/citebot chat

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: setup
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Paths to the evaluation data are arguments, e.g. make eval EVAL=../shared/eval/realtimeqa-dev
EVAL ?= ../shared/eval/realtimeqa-dev
eval: setup
	$(BIN)/citebot eval --questions $(EVAL)/questions.jsonl --corpus $(EVAL)/corpus.jsonl

# the learned claim verifier: trains from the bundled MiniLM on ../shared/factcheck (about 40
# minutes on 2 cores), exports ONNX int8 into bot/answering/models/claim-verifier (see training/DATA.md)
FACTCHECK ?= ../shared/factcheck
train-verifier: setup
	$(BIN)/python training/train_verifier.py --factcheck $(FACTCHECK) 2>&1 | tee training/verifier-train.log

# the claim check on the public sets' splits the verifier did not train on (its dev splits)
eval-claims-public: setup
	$(BIN)/citebot eval-claims --dataset summedits $(FACTCHECK)/summedits --split evaluation
	$(BIN)/citebot eval-claims --dataset fever $(FACTCHECK)/fever_symmetric/fever_symmetric_test.jsonl
	$(BIN)/citebot eval-claims --dataset frank $(FACTCHECK)/frank --split dev

bench: setup
	$(BIN)/python benchmarks/build_bench.py --corpus $(EVAL)/corpus.jsonl

calibrate: setup
	$(BIN)/python benchmarks/calibrate_gate.py --questions $(EVAL)/questions.jsonl --corpus $(EVAL)/corpus.jsonl

# the citation check on claims made from the corpus: kept rate per kind (see README: Claim check)
eval-claims: setup
	$(BIN)/citebot eval-claims --corpus $(EVAL)/corpus.jsonl

recency-grid: setup
	$(BIN)/python benchmarks/recency_grid.py --questions $(EVAL)/questions.jsonl --corpus $(EVAL)/corpus.jsonl

bench-bot: setup
	$(BIN)/python benchmarks/bot_load.py

# synthetic libraries of 50k/150k/300k chunks: ready time, RSS, answer p95, no-change rebuild
# (issue 12); make bench-scale SIZES=50000 for one size
SIZES ?= 50000,150000,300000
bench-scale: setup
	$(BIN)/python benchmarks/scale_bench.py --corpus $(EVAL)/corpus.jsonl --questions $(EVAL)/questions.jsonl --sizes $(SIZES)

clean:
	rm -rf .citebot
