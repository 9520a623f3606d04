# posterm — two commands for a new user: `make demo` and `make test`.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint typecheck unit bench soak clean install lock

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh tests/integration/nexo_client/package-lock.json
	@bash scripts/setup.sh

demo: $(STAMP)
	$(BIN)/posterm demo

lint: $(STAMP)
	$(BIN)/ruff check terminal drivers simulators tests bench
	$(BIN)/ruff format --check terminal drivers simulators tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -m "not slow and not hardware" -q

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m bench

soak: $(STAMP)
	$(BIN)/pytest -m slow -q --timeout=3600

lock:  # requirements.lock, what install.sh installs: pinned with hashes (needs the network)
	bash scripts/lock.sh

install:  # no dev venv needed: the script builds /opt/posterm/venv itself
	bash scripts/install.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
