# Two entry points (README Quickstart): `make demo` and `make test`.
# Both create .venv on first use and install the pinned versions in constraints.txt
# (torch==2.13.0 is the CPU build; anything newer pulls a multi-GB CUDA build).
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
RUN_DIR ?= runs/reference

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[all]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/splitsim run scenarios/reference.yaml --out $(RUN_DIR) --force --save-requests
	$(BIN)/splitsim plot $(RUN_DIR)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/engine_overhead.py
	$(BIN)/python benchmarks/fast_path.py
	$(BIN)/python benchmarks/ten_million.py

clean:
	rm -rf $(VENV) runs

# Documentation site (mkdocs-material) into site/: the scenario-format page is
# regenerated from the JSON Schema first; --strict turns broken links into errors.
# docs-outputs re-runs the commands the pages show (a few minutes) and stores what
# they print in docs/snippets/ and the figures in docs/img/.
.PHONY: docs docs-outputs

docs: $(STAMP)
	$(BIN)/python scripts/gen_schema_docs.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-outputs: $(STAMP)
	$(BIN)/python scripts/gen_doc_outputs.py
