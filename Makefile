# DOMS developer commands: `make run` starts the whole system locally, `make test` runs every
# check CI runs. Both create and fill the virtual environment first when needed.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The stamp is named after pyproject.toml's content, so changed dependencies re-install.
INSTALLED := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-16)

.PHONY: install run test clean

install: $(INSTALLED)

$(INSTALLED):
	@if ! $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then \
		echo "DOMS needs Python 3.11 or newer, but '$(PYTHON)' is: $$($(PYTHON) --version 2>&1)."; \
		echo "Install Python 3.11+ or run make with PYTHON=/path/to/python3.11."; \
		exit 1; \
	fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e '.[test]' --config-settings editable_mode=compat
	rm -f $(VENV)/.installed-*
	touch $@

run: install
	$(BIN)/doms up

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	status=0; $(BIN)/pytest || status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing."; fi; \
	exit $$status

# Removes the local state of `doms up` (databases and logs in var/); keeps the virtual environment.
clean:
	rm -rf var
