# talkingface: `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
PYTHON := $(VENV)/bin/python
# The models are the adapters' (talkingface/adapters): adding one adds its targets here.
MODELS := $(shell python3 -c 'from talkingface.adapters import ADAPTERS; print(*ADAPTERS)')
# Every image: one per model, plus the evaluation image.
IMAGES := $(MODELS) eval
LINE ?= cu113
VERSION := $(shell python3 -c 'import talkingface; print(talkingface.__version__)')
REVISION := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LOCAL_BASE ?= talkingface/base:local
DIST ?= dist/$(LINE)
BUNDLE ?= $(DIST)
# Tests pack weights they wrote, listed in their own manifest.
WEIGHTS_MANIFEST ?= talkingface/weights_manifest.json
# cu130 only: ARCHS=9.0 builds one architecture (the default is every one CUDA 13 compiles for); UPSTREAM_ARCHIVES=DIR
# takes upstream from git archives of the pinned commits (<commit>.tar) instead of GitHub, for a site that reaches
# only PyPI and Debian. The builds bind-mount .upstream-archives (so it must exist, even empty) and .wheels-cu130.
ARCHS ?=
UPSTREAM_ARCHIVES ?=
cu130_args = $(if $(filter cu130,$(LINE)),$(if $(ARCHS),--build-arg ARCHS="$(ARCHS)") \
  $(if $(UPSTREAM_ARCHIVES),--build-arg UPSTREAM_ARCHIVES=/archives))
pin = $(shell python3 -c 'import json; print(json.load(open("talkingface/upstream.json"))["$(1)"]["commit"])')
DEMO_MODEL ?= gaussiantalker
DEMO_DIR ?= workspace/demo-$(DEMO_MODEL)

help: ## list the targets
	@grep -E '^[a-zA-Z0-9_%-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt requirements-ref-nodeps.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -r requirements-ref-nodeps.txt
	touch $@

venv: $(VENV)/.installed ## create .venv with the pinned test and lint tools

media-tools: ## make sure ffmpeg, zstd, chromium and its driver (eval report, web studio tests), espeak-ng and sox (TTS) are installed, as root from Debian
	@command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null && command -v zstd >/dev/null \
	  && command -v chromium >/dev/null && command -v chromedriver >/dev/null && command -v espeak-ng >/dev/null \
	  && command -v sox >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg zstd chromium chromium-driver \
	      espeak-ng sox >/dev/null; \
	  else echo "error: ffmpeg, zstd, chromium, chromium-driver, espeak-ng or sox is missing -- fix: apt-get install ffmpeg zstd chromium chromium-driver espeak-ng sox" >&2; exit 1; fi; }

# DPkg::Lock::Timeout makes install wait for another apt (make media-tools); update ignores it, so it retries.
slurm-tools: ## make sure Slurm (sbatch, slurmctld, slurmd) and munged are installed, as root from Debian (tests/slurm)
	@command -v sbatch >/dev/null && command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
	  && command -v munged >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    for n in 1 2 3 4 5 6 7 8 9 10; do apt-get update -qq && break; [ $$n -lt 10 ] || exit 1; \
	      echo "apt-get update failed (another apt running?): retrying in 15 s" >&2; sleep 15; done; \
	    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
	      slurm-wlm munge >/dev/null; \
	  else echo "error: sbatch, slurmctld, slurmd or munged is missing -- fix: apt-get install slurm-wlm munge (as root)" >&2; exit 1; fi; }

test: venv media-tools slurm-tools build-local ## build the local image line, then run every test (lint included)
	$(PYTHON) -m pytest

lint: venv ## ruff, shellcheck and hadolint only
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	$(VENV)/bin/shellcheck bin/*.sh tools/*.sh images/*/*.sh .ci/run
	$(VENV)/bin/hadolint images/*/Dockerfile

# LINE's default (cu113) is for builds: without LINE given, the doctor checks the line the run scripts would pick.
doctor: ## check this machine: docker, NVIDIA runtime, GPUs and which CUDA line each can run, disk, BFM, weights, images
	./bin/doctor.sh $(if $(filter file,$(origin LINE)),,--line $(LINE))

# The images that have LINE's builder stage (the local line builds every image): a model new to the tree may not have
# every CUDA line yet, and build, lock, wheels and bundle then take what exists.
line_images = $(if $(filter local,$(1)),$(IMAGES),$(filter $(IMAGES),$(patsubst images/%/Dockerfile,%,$(shell grep -l 'AS builder-$(1)$$' images/*/Dockerfile))))
LINE_IMAGES := $(call line_images,$(LINE))

build: $(addprefix build-,$(LINE_IMAGES)) ## build every image of LINE (cu113, cu118 need internet; cu130 PyPI and Debian only; local)
	@[ -n "$(LINE_IMAGES)" ] || { echo "error: no image has a $(LINE) line -- fix: LINE=cu113, cu118, cu130 or local" >&2; exit 2; }
	@skipped="$(filter-out $(LINE_IMAGES),$(IMAGES))"; [ -z "$$skipped" ] || echo "note: not built, no $(LINE) stage in their Dockerfile: $$skipped"

build-local: wheels base-local ## build the local line (Debian base, test doubles, no CUDA) and the web image: what CI builds
	$(MAKE) --no-print-directory build LINE=local
	$(MAKE) --no-print-directory build-web LINE=local

# The local line's model images install from the wheelhouse (their builds can't reach PyPI).
$(addprefix build-,$(MODELS)): build-%: $(if $(filter local,$(LINE)),wheels) $(if $(filter cu130,$(LINE)),cu130-inputs) ## build one image: make build-ernerf LINE=cu118
	tools/docker-build.sh -f images/$*/Dockerfile --build-arg LINE=$(LINE) --build-arg LOCAL_BASE=$(LOCAL_BASE) \
	  --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) --build-arg UPSTREAM_COMMIT=$(call pin,$*) \
	  $(cu130_args) -t talkingface/$*:$(VERSION)-$(LINE) .

build-eval: $(if $(filter cu130,$(LINE)),cu130-inputs) ## build the evaluation image: make build-eval LINE=cu118
	tools/docker-build.sh -f images/eval/Dockerfile --build-arg LINE=$(LINE) --build-arg LOCAL_BASE=$(LOCAL_BASE) \
	  --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) $(cu130_args) -t talkingface/eval:$(VERSION)-$(LINE) .

# What a cu130 build reads from the host: the archives folder (checked first, before minutes of base and wheelhouse),
# the Debian base and the wheelhouse of its locks.
cu130-inputs: cu130-archives base-local wheels-cu130

cu130-archives:
	@mkdir -p .upstream-archives
	@if [ -n "$(UPSTREAM_ARCHIVES)" ] && [ "$$(realpath "$(UPSTREAM_ARCHIVES)")" != "$$(realpath .upstream-archives)" ]; then \
	  [ -d "$(UPSTREAM_ARCHIVES)" ] || { echo "error: UPSTREAM_ARCHIVES=$(UPSTREAM_ARCHIVES) is no folder -- fix: a folder of <commit>.tar from git archive" >&2; exit 2; }; \
	  cp -u "$(UPSTREAM_ARCHIVES)"/*.tar* .upstream-archives/; fi

wheels-cu130: ## fetch every cu130 lock's files (torch, CUDA 13 wheels, sdists; images/*/cu130.lock) into .wheels-cu130
	for m in $(call line_images,cu130); do tools/fetch-wheels.sh images/$$m/cu130.lock .wheels-cu130; done

wheels: ## fetch the local line's pinned wheels (images/common/local-wheels.txt, images/web/local-wheels.txt) into .wheels; offline once there
	tools/fetch-wheels.sh images/common/local-wheels.txt .wheels
	tools/fetch-wheels.sh images/web/local-wheels.txt .wheels

# The studio on the host: its jobs are bin/run_<model>.sh commands (flags: python -m talkingface.web --help).
WEB_ARGS ?=
web: venv media-tools ## the web studio on http://127.0.0.1:5001 with its TTS service on :5003 (docs/web.md); flags in WEB_ARGS
# The venv's bin goes first on PATH: its piper (piper-tts, a dev pin) speaks the Piper voices in WEIGHTS/tts/piper.
	@export PATH="$(abspath $(VENV))/bin:$$PATH"; \
	  $(PYTHON) -m talkingface.tts --weights "$(or $(WEIGHTS),weights)" & tts=$$!; trap 'kill $$tts 2>/dev/null' EXIT; \
	  $(PYTHON) -m talkingface.web $(WEB_ARGS)

build-web: $(if $(filter local,$(LINE)),wheels) ## build the web studio's image (studio and TTS service): make build-web LINE=local
	tools/docker-build.sh -f images/web/Dockerfile --build-arg LINE=$(LINE) --build-arg LOCAL_BASE=$(LOCAL_BASE) \
	  --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) -t talkingface/web:$(VERSION)-$(LINE) .

base-local: ## the local line's base image, bootstrapped from Debian packages (needs root)
	tools/bootstrap-base.sh $(LOCAL_BASE)

# One bundle format for both: make save is make bundle without the weights.
bundle_make = python3 -m talkingface.bundle make --out "$(BUNDLE)" --revision $(REVISION) \
  $(foreach m,$(LINE_IMAGES),--image talkingface/$(m):$(VERSION)-$(LINE))

bundle: ## write the offline bundle BUNDLE (default dist/LINE): LINE's images, WEIGHTS, SHA256SUMS, bundle.json
	$(bundle_make) --weights "$(or $(WEIGHTS),weights)" --manifest "$(WEIGHTS_MANIFEST)" $(if $(WEIGHTS_FOR),--weights-for $(WEIGHTS_FOR))

save: ## like make bundle, images only (no weights)
	$(bundle_make) --no-weights

load: ## check every file of BUNDLE, then docker load its images and put its weights into WEIGHTS
	python3 -m talkingface.bundle load "$(BUNDLE)" --weights "$(or $(WEIGHTS),weights)"

verify-bundle: ## check every file of BUNDLE as make load would, reading only
	python3 -m talkingface.bundle verify "$(BUNDLE)" --weights "$(or $(WEIGHTS),weights)"

weights: ## download every weight the images need into WEIGHTS (default ./weights), resuming, verified
	python3 -m talkingface.weights fetch --dir $(or $(WEIGHTS),weights) $(if $(WEIGHTS_FOR),--image $(WEIGHTS_FOR))

verify-weights: ## check every weight in WEIGHTS against the manifest and its lock (reads only; exit 1 on a problem)
	python3 -m talkingface.weights verify --dir $(or $(WEIGHTS),weights) $(if $(WEIGHTS_FOR),--image $(WEIGHTS_FOR))

stand-in-weights: ## STAND-IN (placeholder) weights into WEIGHTS for the local line's test doubles; never replaces a file
	python3 tests/doubles/stand_ins.py "$(or $(WEIGHTS),weights)"

eval-weights: ## fetch and verify the evaluation's files (NIQE model, LPIPS heads, network weights) into WEIGHTS
	python3 -m talkingface.weights fetch --dir $(or $(WEIGHTS),weights) --image eval

lock: venv ## regenerate images/*/cu113.lock, cu118.lock and cu130.lock from requirements.txt (needs PyPI)
	for m in $(IMAGES); do for l in cu113 cu118 cu130; do \
	  grep -q "AS builder-$$l\$$" images/$$m/Dockerfile || continue; $(PYTHON) tools/lock_requirements.py images/$$m $$l; done; done

# The wheels the cu130 model images compiled (their extensions and pytorch3d, kept in /opt/ext-wheels) for a machine
# with the same torch and Python but no Docker, e.g. the GPU that value-checks them (tools/gpu-run/ext_check.py).
export-wheels: ## copy LINE's compiled extension wheels + pytorch3d out of its built model images into OUT (default dist/LINE/ext-wheels)
	@[ "$(LINE)" = cu130 ] || { echo "error: only the cu130 images keep their compiled wheels -- fix: make export-wheels LINE=cu130" >&2; exit 2; }
	tools/export-wheels.sh "$(or $(OUT),$(DIST)/ext-wheels)" $(foreach m,$(filter $(MODELS),$(LINE_IMAGES)),talkingface/$(m):$(VERSION)-$(LINE))

# One recipe for both: the image's build scripts, run outside Docker (tools/native-env.sh says which settings apply).
native-env: $(if $(filter local,$(LINE)),wheels) ## lay out MODEL's environment with no container: make native-env MODEL=ernerf LINE=cu118 PREFIX=dir
	@[ -n "$(MODEL)" ] || { echo "error: MODEL is not set -- fix: make native-env MODEL=$(subst $(eval) ,|,$(MODELS)) PREFIX=dir" >&2; exit 2; }
	tools/native-env.sh "$(MODEL)" "$(LINE)" "$(or $(PREFIX),native/$(MODEL))"

# The demo takes the user's path (bin/run_<model>.sh, the local image) and never the dev venv: python3, docker,
# espeak-ng and the one image it runs; the sample clip has its own small venv.
demo: demo-tools sample demo-image ## train and infer on the sample clip through bin/run_<model>.sh and the local image (test doubles: no GPU)
	python3 tests/demo.py --model $(DEMO_MODEL) --dir $(DEMO_DIR)

demo-tools: ## make sure ffmpeg and espeak-ng (the sample clip and the demo's speech) are installed, as root from Debian
	@command -v ffmpeg >/dev/null && command -v espeak-ng >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg espeak-ng >/dev/null; \
	  else echo "error: ffmpeg or espeak-ng is missing -- fix: apt-get install ffmpeg espeak-ng" >&2; exit 1; fi; }

# Only what the demo runs: the base, the wheelhouse and DEMO_MODEL's local image (BuildKit's cache makes it quick
# when nothing changed).
demo-image: wheels base-local
	$(MAKE) --no-print-directory build-$(DEMO_MODEL) LINE=local

dry-run-%: ## print the docker command and in-container plan of `train` for one model (TEST_MODE=1)
	@[ -f $(DEMO_DIR)/input/clip.mp4 ] && [ -f $(DEMO_DIR)/weights/STAND-INS.txt ] || $(MAKE) --no-print-directory demo-clip
	TEST_MODE=1 ./bin/run_$*.sh train --video_path $(DEMO_DIR)/input/clip.mp4 --gpu GPU0 --bfm_dir $(DEMO_DIR)/bfm_models \
	  --weights_dir $(DEMO_DIR)/weights

demo-clip: demo-tools sample
	python3 tests/demo.py --model $(DEMO_MODEL) --dir $(DEMO_DIR) --clip-only

sample: samples/sample.mp4 ## write the bundled sample clip samples/sample.mp4 (deterministic)

# The sample's own venv: numpy, OpenCV and scikit-image (tools/sample-requirements.txt), not the dev venv's torch.
SAMPLE_VENV ?= .venv-sample
$(SAMPLE_VENV)/.installed: tools/sample-requirements.txt
	python3 -m venv $(SAMPLE_VENV)
	$(SAMPLE_VENV)/bin/pip install --quiet --disable-pip-version-check $(if $(wildcard .wheels/*.whl),--find-links .wheels) \
	  -r tools/sample-requirements.txt
	touch $@

# Order-only (after |): the always-run checks must not make the clip look out of date; only its generator does.
samples/sample.mp4: talkingface/demo/sample_clip.py | $(SAMPLE_VENV)/.installed demo-tools
	$(SAMPLE_VENV)/bin/python -m talkingface.demo.sample_clip --out $@

.PHONY: sample

clean: ## remove .venv, .venv-sample and the demo workspace (never your own workspaces)
	rm -rf $(VENV) $(SAMPLE_VENV) workspace/demo-*

.PHONY: cu130-inputs cu130-archives wheels-cu130 export-wheels help venv media-tools slurm-tools test lint web build-web doctor weights verify-weights stand-in-weights eval-weights native-env build build-local $(addprefix build-,$(IMAGES)) wheels base-local bundle save load verify-bundle lock demo demo-clip demo-tools demo-image clean
