# talkingface: `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
PYTHON := $(VENV)/bin/python
MODELS := ernerf gaussiantalker geneface
DEMO_MODEL ?= gaussiantalker
DEMO_DIR ?= workspace/demo-$(DEMO_MODEL)

help: ## list the targets
	@grep -E '^[a-zA-Z_%-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed ## create .venv with the pinned test and lint tools

media-tools: ## make sure ffmpeg/ffprobe are installed (Debian's package when run as root)
	@command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null; \
	  else echo "error: ffmpeg is missing -- fix: install it (apt-get install ffmpeg)" >&2; exit 1; fi; }

test: venv media-tools ## run every test, ruff and shellcheck included
	$(PYTHON) -m pytest

lint: venv ## ruff and shellcheck only
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	$(VENV)/bin/shellcheck bin/*.sh .ci/run

demo: venv media-tools ## train and infer on a generated clip, upstream replaced by the test doubles (no GPU, no network)
	$(PYTHON) tests/demo.py --model $(DEMO_MODEL) --dir $(DEMO_DIR)

dry-run-%: ## print the docker command and in-container plan of `train` for one model (TEST_MODE=1)
	@[ -f $(DEMO_DIR)/input/clip.mp4 ] || $(MAKE) --no-print-directory demo-clip
	TEST_MODE=1 ./bin/run_$*.sh train --video_path $(DEMO_DIR)/input/clip.mp4 --gpu GPU0 --bfm_dir $(DEMO_DIR)/bfm_models

demo-clip: venv media-tools
	$(PYTHON) tests/demo.py --model $(DEMO_MODEL) --dir $(DEMO_DIR) --clip-only

clean: ## remove .venv and the demo workspace (never your own workspaces)
	rm -rf $(VENV) workspace/demo-*

.PHONY: help venv media-tools test lint demo demo-clip clean
