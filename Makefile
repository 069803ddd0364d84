# citebot: `make run` sets up and starts (bot, or terminal chat without DISCORD_TOKEN); `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run index test lint format eval bench bench-bot calibrate recency-grid clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("citebot needs Python >= 3.11") if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned: this takes the CPU build; a bare `torch` would pull a CUDA build
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/citebot

index: setup
	$(BIN)/citebot-index build

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Paths to the evaluation data are arguments, e.g. make eval EVAL=../shared/eval/realtimeqa-dev
EVAL ?= ../shared/eval/realtimeqa-dev
eval: setup
	$(BIN)/citebot eval --questions $(EVAL)/questions.jsonl --corpus $(EVAL)/corpus.jsonl

bench: setup
	$(BIN)/python benchmarks/build_bench.py --corpus $(EVAL)/corpus.jsonl

calibrate: setup
	$(BIN)/python benchmarks/calibrate_gate.py --questions $(EVAL)/questions.jsonl --corpus $(EVAL)/corpus.jsonl

recency-grid: setup
	$(BIN)/python benchmarks/recency_grid.py --questions $(EVAL)/questions.jsonl --corpus $(EVAL)/corpus.jsonl

bench-bot: setup
	$(BIN)/python benchmarks/bot_load.py

clean:
	rm -rf .citebot
