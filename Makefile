# halab: `make lab` opens the workbook, `make test` runs every check.
# Both create .venv on first use (any Python 3.10+ on PATH as python3, or PYTHON=...).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
TSTAMP := $(VENV)/.test-stamp
TARGET ?= exercises
EX     ?=
REPORT ?=  # make grade REPORT=scores.json: also the JSON report, one record per check
CSV    ?=  # make grade CSV=class.csv: add this learner's row to a CSV gradebook
HIDDEN ?=  # make grade HIDDEN=/srv/halab-hidden: the instructor's hidden checks too
LEARNER ?= # whose work it is in REPORT/CSV (default $$JUPYTERHUB_USER or the login name)
LINTED := halab exercises solutions tests benchmarks tools
# nbval with tools/nbclean.py as a plugin: the notebooks hold no outputs; the plugin gives nbval the
# recorded outputs of the tagged cells (tests/notebook_outputs.json) to compare, as if committed.
NBVAL  := -p no:cacheprovider -p tools.nbclean --nbval-lax --nbval-current-env --nbval-cell-timeout=300

.PHONY: lab nbfilter test test-slow test-browser quick grade bench stubs binder notebooks-clean notebooks-record lint clean help

help:
	@echo "make lab    open the workbook in JupyterLab (creates .venv the first time)"
	@echo "make test   lint, library tests, graders, notebooks: a few minutes (not slow/engines/browser)"
	@echo "make test-slow     the slow tests and the real engines (CI runs it too)"
	@echo "make test-browser  drive every lesson in JupyterLab in Chromium (CI runs it too)"
	@echo "make quick  the fast part of make test: lint, library tests, graders (no notebooks, no engines)"
	@echo "make grade  grade your exercises/  (TARGET=solutions, EX=ex01 to choose;"
	@echo "            REPORT=x.json CSV=class.csv HIDDEN=dir LEARNER=name for instructors)"
	@echo "make bench  print the benchmarks as one table"

# `make lab` installs what a learner needs (requirements.txt); `make test` adds the test tools.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

$(TSTAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(TSTAMP)

# JupyterLab serves the repository root (notebooks/ and exercises/ side by side) and opens the
# welcome lesson; as root (a container) it needs --allow-root, which we add and say so.
# tools/jupyter/ adds a save hook: a lesson is saved without outputs, byte for byte as committed.
LAB_ARGS := --ServerApp.root_dir=$(CURDIR) --LabApp.default_url=/lab/tree/notebooks/00_welcome.ipynb
LAB_EXTRA ?=  # more JupyterLab flags, e.g. --no-browser --port=8888

# The git clean filter that .gitattributes names: a learner's run saves outputs into the lessons,
# git sees them stripped, so tracked files stay clean (tools/nbclean.py --filter).
nbfilter:
	@git config filter.halab-nbclean.clean >/dev/null 2>&1 || \
		git config filter.halab-nbclean.clean '"$(abspath $(BIN))/python" tools/nbclean.py --filter' \
		2>/dev/null || true

lab: $(STAMP) nbfilter
	@export JUPYTER_CONFIG_PATH="$(CURDIR)/tools/jupyter$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}"; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "make lab: running as root (a container?): starting JupyterLab with --allow-root"; \
		exec $(BIN)/jupyter lab $(LAB_ARGS) $(LAB_EXTRA) --allow-root; \
	else exec $(BIN)/jupyter lab $(LAB_ARGS) $(LAB_EXTRA); fi

# make test: the developer's loop, a few minutes: lint, the library tests two at a time
# (pytest-xdist), the graders, the notebooks two at a time (nbval, one file per worker).
# make test-slow: the slow tests (seeded chaos, reruns, busy cores, the real JupyterHub) and the
# real engines; make test-browser: every lesson in JupyterLab in Chromium. CI runs all three.
FAST := -m "not browser and not slow and not engine and not hub" --deselect tests/test_rerun.py

test: $(TSTAMP)
	@date +%s > $(VENV)/.test-start
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/python tools/nbclean.py --check notebooks/*.ipynb
	$(BIN)/python -m pytest -p no:cacheprovider -n 2 tests $(FAST)
	$(BIN)/python -m halab.grading --target solutions
	$(BIN)/python -m pytest $(NBVAL) -n 2 --dist loadfile notebooks
	@echo "make test: done in $$(( $$(date +%s) - $$(cat $(VENV)/.test-start) )) s"

test-slow: $(TSTAMP)
	@date +%s > $(VENV)/.test-slow-start
	$(BIN)/python -m pytest -p no:cacheprovider tests -m "(slow or engine or hub) and not browser"
	@echo "make test-slow: done in $$(( $$(date +%s) - $$(cat $(VENV)/.test-slow-start) )) s"

test-browser: $(TSTAMP)
	$(BIN)/python -m pytest -p no:cacheprovider tests -m browser

quick: $(TSTAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/python tools/nbclean.py --check notebooks/*.ipynb
	$(BIN)/python -m pytest -p no:cacheprovider -n 2 tests $(FAST)
	$(BIN)/python -m halab.grading --target solutions

# A learner's unfinished grade is not an error: make grade shows the scoreboard and exits 0.
# STRICT=1 (an autograder, CI) exits with the grader's own status: non-zero unless all pass.
grade: $(STAMP)
	@$(BIN)/python -m halab.grading --target $(TARGET) $(if $(EX),--only $(EX)) \
		$(if $(REPORT),--report $(REPORT)) $(if $(CSV),--csv $(CSV)) \
		$(if $(HIDDEN),--hidden $(HIDDEN)) $(if $(LEARNER),--learner $(LEARNER)) \
		|| { status=$$?; [ -z "$(STRICT)" ] && [ $$status = 1 ] || exit $$status; }

bench: $(TSTAMP)
	$(BIN)/python benchmarks/run.py

stubs: $(STAMP)
	$(BIN)/python -m halab.grading stubs

# the Binder badge in README.md, from [tool.halab.binder] in pyproject.toml (a fork sets its repo)
binder: $(STAMP)
	$(BIN)/python tools/binder.py

notebooks-clean: $(STAMP)
	$(BIN)/python tools/nbclean.py notebooks/*.ipynb

# Run every lesson and record the outputs nbval checks (after a change that alters them).
notebooks-record: $(TSTAMP)
	$(BIN)/python tools/nbclean.py --execute notebooks/*.ipynb

lint: $(TSTAMP)
	$(BIN)/ruff format $(LINTED)
	$(BIN)/ruff check --fix $(LINTED)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache .hypothesis
