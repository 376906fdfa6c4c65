# FineQ co-design toolkit. `make demo` is the main job, `make test` runs the tests;
# both run `make setup` first, which is idempotent.
SHELL := /bin/bash
VENV   ?= .venv
PY     := $(VENV)/bin/python
CONFIG ?= default
SIM    ?= icarus verilator
STAMP  := $(VENV)/.setup-stamp
APT_PACKAGES := iverilog yosys nextpnr-ice40 fpga-icestorm
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo test verilog sim synth bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh "$(VENV)" $(APT_PACKAGES)
	touch $(STAMP)

demo: setup
	$(PY) -m quant eval
	$(PY) -m quant quantize --out build/fineq/all-MiniLM-L6-v2.fineq.safetensors
	$(PY) -m hdl.generate --config default --out build/verilog/default
	$(PY) -m verif demo --config default
	# a whole real layer through the accelerator, bit-exact, on both simulators
	$(PY) -m verif.top_perf --sim icarus verilator --config default
	$(PY) -m synth --config default --size 8 --sweep 4,8

test: setup
	FINEQ_CONFIG=tiny $(PY) -m pytest -q

verilog: setup
	$(PY) -m hdl.generate --config $(CONFIG) --out build/verilog/$(CONFIG)

sim: setup
	FINEQ_SIM="$(SIM)" FINEQ_CONFIG=$(CONFIG) $(PY) -m pytest -q verif

synth: setup
	$(PY) -m synth --config $(CONFIG)

bench: setup
	$(PY) -m quant bench
	$(PY) -m verif bench
	$(PY) -m verif.top_perf --sim icarus verilator --config default
	$(PY) -m quant study --threads 1
	# the synthesis comparison of demo plus the array-size sweep up to 16 x 16 (hours when not cached)
	$(PY) -m synth --config default --size 8 --sweep 4,8,12,16

clean:
	rm -rf build
