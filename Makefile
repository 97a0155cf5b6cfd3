# The two commands of the README: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup browser demo test lint bench clean

$(STAMP): pyproject.toml
	@echo "setting up $(VENV) (pip install -e '.[dev]'; a few minutes the first time)"
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install -qq --upgrade pip
	@$(VENV)/bin/pip install -qq -e '.[dev]'
	@# The models' ONNX files in the default home: the CLI's first verdict then loads no torch.
	@$(VENV)/bin/verdictflow experts export-onnx --no-int8 >/dev/null 2>&1 \
	  || echo "ONNX export skipped: torch serves the models"
	@touch $(STAMP)

setup: $(STAMP)

demo: setup
	@$(VENV)/bin/verdictflow demo

# The UI test drives Debian's Chromium with Playwright (never a downloaded browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  $$sudo apt-get update -q && $$sudo apt-get install -y -q --no-install-recommends chromium; }

test: setup browser
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/pytest -q

lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .verdictflow
