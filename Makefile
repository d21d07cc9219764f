# halab: `make lab` opens the workbook, `make test` runs every check.
# Both create .venv on first use (any Python 3.10+ on PATH as python3, or PYTHON=...).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
TARGET ?= exercises
EX     ?=
LINTED := halab exercises solutions tests benchmarks tools
NBVAL  := -p no:cacheprovider --nbval-lax --nbval-current-env --nbval-cell-timeout=300

.PHONY: lab test quick grade bench stubs notebooks-clean lint clean help

help:
	@echo "make lab    open the workbook in JupyterLab (creates .venv the first time)"
	@echo "make test   run every check: lint, library tests, graders, notebooks, browser"
	@echo "make quick  the fast part of make test: lint, library tests, graders (no notebook runs)"
	@echo "make grade  grade your exercises/  (TARGET=solutions, EX=ex01 to choose)"
	@echo "make bench  print the benchmarks as one table"

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -e '.[test]'
	@touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/00_welcome.ipynb

test: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/python tools/nbclean.py --check notebooks/*.ipynb
	$(BIN)/python -m pytest -p no:cacheprovider tests
	$(BIN)/python -m halab.grading --target solutions
	$(BIN)/python -m pytest $(NBVAL) notebooks

quick: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/python tools/nbclean.py --check notebooks/*.ipynb
	$(BIN)/python -m pytest -p no:cacheprovider tests -m "not browser and not slow" \
		--deselect tests/test_rerun.py
	$(BIN)/python -m halab.grading --target solutions

grade: $(STAMP)
	$(BIN)/python -m halab.grading --target $(TARGET) $(if $(EX),--only $(EX))

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

stubs: $(STAMP)
	$(BIN)/python -m halab.grading stubs

notebooks-clean: $(STAMP)
	$(BIN)/python tools/nbclean.py notebooks/*.ipynb

lint: $(STAMP)
	$(BIN)/ruff format $(LINTED)
	$(BIN)/ruff check --fix $(LINTED)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache .hypothesis
