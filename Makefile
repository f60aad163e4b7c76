# kpbench: `make test` and `make bench` work from a fresh clone; the first call builds .venv.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
UV     := $(PYTHON) -m uv
STAMP  := $(VENV)/.kpbench-installed

# Real datasets come from this mirror when set (CI: ../shared/datasets), else from their origin.
export KPBENCH_DATA_MIRROR ?= $(if $(wildcard ../shared/datasets),$(abspath ../shared/datasets),)
export HF_HUB_OFFLINE ?= 1
export WANDB_MODE ?= disabled

.PHONY: env envs test unit integration bench perf lint format lock lock-envs clean-env \
	slurm-up slurm-down

env: $(STAMP)

# One environment for everything: kpbench, DeepLabCut 3.0.x, sleap-nn 0.3.x and the PyPI
# torch/torchvision pair, pinned in requirements.lock. uv ignores PIP_FIND_LINKS, which here
# points at a CPU-only torch that does not match PyPI's torchvision.
$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv>=0.4"
	test -x $(PY) || $(UV) venv $(VENV) --python $(PYTHON) --quiet
	$(UV) pip install --python $(PY) --quiet -r requirements.lock
	$(UV) pip install --python $(PY) --quiet --no-deps -e .
	$(PY) -c "import torchvision.ops, benchmark"
	touch $@

test: env
	$(PY) -m pytest -q --durations=25

unit: env
	$(PY) -m pytest -q tests/unit

integration: env
	$(PY) -m pytest -q tests/integration

# Adapters that cannot share the main environment get their own (built with uv, outside the
# source tree; rebuilt when their lock changes).
envs: env
	$(VENV)/bin/kpbench env create deepposekit
	$(VENV)/bin/kpbench env create yolo

# A single-node Slurm on this machine for the Slurm executor's tests (needs root: Debian's
# slurm-wlm, slurmdbd, munge and MariaDB; see docs/cluster.md). make test runs those tests
# while it is up.
slurm-up:
	$(if $(filter 0,$(shell id -u)),,sudo) bash tests/slurm/install.sh
	$(if $(filter 0,$(shell id -u)),,sudo) bash tests/slurm/start.sh

slurm-down:
	$(if $(filter 0,$(shell id -u)),,sudo) bash tests/slurm/stop.sh

bench: env envs
	$(VENV)/bin/kpbench run configs/default.yaml --out runs/default
	$(VENV)/bin/kpbench report runs/default --out reports/default.md

perf: env
	$(PY) -m benchmark.perf.cnn

lint: env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: env
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Re-pin every dependency (after editing pyproject.toml).
lock:
	$(UV) pip compile pyproject.toml --extra frameworks --extra dev --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 -o requirements.lock

lock-envs:
	$(UV) pip compile adapters/deepposekit/requirements.in --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 -o adapters/deepposekit/requirements.lock
	$(UV) pip compile adapters/yolo/requirements.in --override adapters/yolo/overrides.txt \
		--python-version 3.11 --python-platform x86_64-manylinux_2_28 \
		-o adapters/yolo/requirements.lock

clean-env:
	rm -rf $(VENV)
