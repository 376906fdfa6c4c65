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
LLM_BEST     := fineq-v2-ef-emin-g96-d10
LLM_HEADLINE := gptq3-g128 owq2 fineq-ef-emin fineq-v2-ef-emin-g96 $(LLM_BEST) awq-fineq-v2-ef-emin-g96
LLM_METHODS  := rtn4 rtn3-g128 gptq3 gptq3-g128 owq2 fineq fineq-emin fineq-ef fineq-ef-emin fineq-ef-emin-d10 fineq-v2-emin-g96 \
                fineq-v2-ef-emin-g96 $(LLM_BEST) awq-fineq-ef-emin awq-fineq-v2-ef-emin-g96 awq-$(LLM_BEST)

.PHONY: setup demo test formal verilog sim synth bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh "$(VENV)" $(APT_PACKAGES)
	touch $(STAMP)

demo: setup
	$(PY) -m quant eval
	$(PY) -m quant quantize --out build/fineq/all-MiniLM-L6-v2.fineq.safetensors
	# Gemma-3-270M headline perplexity rows: a reduced run (1 window of 1024 tokens per text) that reuses the
	# calibration text, Hessians and quantized layers cached under build/ by `make bench` (first run: tens of minutes)
	$(PY) -m quant study --model gemma3-270m --threads 1 --windows 1 --out-dir build/reports/llm-demo --methods $(LLM_HEADLINE)
	$(PY) -m quant vectors --model gemma3-270m --layer model.layers.0.mlp.down_proj --tokens 16 --out build/vectors/gemma-l0-down_proj.npz
	$(PY) -m hdl.generate --config default --out build/verilog/default
	$(PY) -m verif demo --config default
	# a whole real layer (MiniLM 384 x 384, 8 tokens) through the accelerator, bit-exact, on both simulators
	$(PY) -m verif.top_perf --sim icarus verilator --config default --tokens 8 --buses 4 --kinds fineq
	$(PY) -m synth --config default --size 8 --sweep 4,8

test: setup
	$(VENV)/bin/ruff check . && FINEQ_CONFIG=tiny $(PY) -m pytest -q

# the deep proofs (every preset, whole accelerator builds) and the mutation check (docs/formal.md)
formal: setup
	FINEQ_FORMAL=1 $(PY) -m pytest -q -m formal tests/verif/test_formal_proofs.py tests/verif/test_formal_mutants.py

verilog: setup
	$(PY) -m hdl.generate --config $(CONFIG) --out build/verilog/$(CONFIG)

sim: setup
	FINEQ_SIM="$(SIM)" FINEQ_CONFIG=$(CONFIG) $(PY) -m pytest -q verif

synth: setup
	$(PY) -m synth --config $(CONFIG)

bench: setup
	$(PY) -m quant bench
	$(PY) -m verif bench
	# the roofline sweep: M = 1, 8, 64, 256 at 32- and 128-bit buses, FineQ and the INT8 twin (Verilator)
	$(PY) -m verif.top_perf --config default
	$(PY) -m quant study --threads 1
	# the causal-LM perplexity study on Gemma-3-270M, every method, both texts (docs/study.md)
	$(PY) -m quant study --model gemma3-270m --threads 1 --out-dir build/reports/llm --windows 2 --hardware $(LLM_BEST) awq-$(LLM_BEST) --methods $(LLM_METHODS)
	# the synthesis comparison of demo plus the array-size sweep up to 16 x 16 (hours when not cached;
	# --jobs N for a bigger machine, --dask local:N or --scheduler ADDRESS for a cluster)
	$(PY) -m synth --config default --size 8 --sweep 4,8,12,16
	# energy per token of the whole accelerator (Gemma-3-270M, MiniLM; M = 1, 64, 256): FineQ against the INT8 build,
	# gated gate-level runs of the 12 x 12 arrays, counts checked against a simulated top level (docs/synthesis.md section 5)
	$(PY) -m synth.token_energy --rtl-check
	# ECP5 (Yosys 0.70 + nextpnr-ecp5, LFE5U-25F/85F): arrays, vector unit, whole top of every preset
	$(PY) -m synth.ecp5_sweep --jobs 2

clean:
	rm -rf build
