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

# Python writes its bytecode caches (__pycache__, in the venv too), as it does by default: some
# environments switch that off, and then every process of the demo and the tests compiles torch,
# transformers and amaranth from source again (about 5 s each).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: setup demo test formal verilog sim synth bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh "$(VENV)" $(APT_PACKAGES)
	touch $(STAMP)

# The demo: every step a newcomer needs, each cut short; `make bench` runs the full versions (every
# method, more windows, the vector unit and whole top in synthesis, the array-size sweep, the
# roofline sweep). Two lanes run side by side on the two cores (`make -j2`), the model lane (steps
# 1-4) and the hardware lane (5-10, of which 9 and 10 wait for step 1's dequantized Gemma); they
# take about as long each. One thread per lane: torch's second thread only spins against the other
# lane (`quant eval` took 143 s that way in the demo, 115 s on one thread). Timings per step: README.md
# "How long make demo takes".
DEMO_SYNTH_DESIGNS := fineq_array,mac8x8_array,mac8x3_array,temporal_pe,mac8x8_pe,mac8x3_pe,decoder

STEP := bash scripts/step.sh

demo: setup
	@rm -f build/logs/demo/times.tsv
	@echo "make demo: 11 steps in two lanes (model 1-4, hardware 5-10); each step's own output is in build/logs/demo/NN.log"
	@OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(MAKE) --no-print-directory -j2 demo-verdicts

.PHONY: demo-gemma demo-minilm demo-hardware demo-gemma-layer demo-verdicts
# Gemma-3-270M perplexity: the float model and the calibration-free rows, 1 window of 1024 tokens of the
# Python-manual prose (the licence texts and the calibrated rows, fineq-v2-ef-emin-g96-d10 first, which need
# tens of minutes of calibration: make bench)
demo-gemma:
	@$(STEP) 1/11 "Gemma-3-270M: perplexity, float and calibration-free rows (build/reports/llm-demo/)" $(PY) -m quant study --model gemma3-270m --threads 1 --texts pydoc --windows 1 --out-dir build/reports/llm-demo --methods rtn4 fineq-v2-emin-g96

# FineQ against RTN at 3 and 4 bits on MiniLM (all six baselines: python -m quant eval); the packed file; the
# study's headline row on MiniLM: FineQ with error feedback, error-minimising formats and 30% dampening, the
# winner at 2.7 bits, against 3-bit RTN, the goal's baseline (every method: make bench)
demo-minilm: demo-gemma
	@$(STEP) 2/11 "MiniLM: FineQ against RTN 3/4-bit (build/reports/quant.md)" $(PY) -m quant eval --methods fineq rtn3 rtn4
	@$(STEP) 3/11 "MiniLM: the fineq-v1 packed file" $(PY) -m quant quantize --out build/fineq/all-MiniLM-L6-v2.fineq.safetensors
	@$(STEP) 4/11 "MiniLM: the study's headline row (build/reports/study-demo/)" $(PY) -m quant study --threads 1 --out-dir build/reports/study-demo --methods rtn3 fineq-ef-emin-d30

# the Verilog; a real tile on the arrays on both simulators; a whole real layer (MiniLM 384 x 384, 8 tokens)
# through the accelerator, bit-exact, on Verilator (Icarus takes minutes on it: make bench); area, timing and
# gate-level energy of the 4 x 4 FineQ array against both MAC arrays, their PEs and the decoder on a short
# workload, iCE40 synthesis without place and route (the radix-2 design point, the vector unit, the per-block
# breakdowns, iCE40 Fmax, the 8 x 8 comparison, the whole top and the sweep to 16 x 16: make bench)
demo-hardware:
	@$(STEP) 5/11 "Verilog of the default preset (build/verilog/default/)" $(PY) -m hdl.generate --config default --out build/verilog/default
	@$(STEP) 6/11 "a real tile on the arrays, both simulators (build/reports/sim.md)" $(PY) -m verif demo --config default
	@$(STEP) 7/11 "MiniLM 384 x 384 through the whole accelerator (Verilator)" $(PY) -m verif.top_perf --config default --layers minilm --tokens 8 --buses 4 --kinds fineq
	@$(STEP) 8/11 "4 x 4 synthesis and gate-level energy (build/reports/synth.md)" $(PY) -m synth --config default --size 4 --designs $(DEMO_SYNTH_DESIGNS) --no-blocks --no-pnr --sweep "" --tiles 2 --vectors 16 --steady-vectors 32

# per-token golden vectors of Gemma's layer-0 down_proj (K = 2048, fineq-v2 with groups of 96), 256 real
# tokens; the layer through the accelerator against the INT8-weight twin (build/reports/perf.md)
demo-gemma-layer: demo-gemma demo-hardware
	@$(STEP) 9/11 "Gemma-3-270M: golden vectors of layer 0 down_proj, 256 tokens" $(PY) -m quant vectors --model gemma3-270m --layer model.layers.0.mlp.down_proj --tokens 256 --method fineq-v2-emin-g96 --out build/vectors/gemma-l0-down_proj-v2-m256.npz
	@$(STEP) 10/11 "Gemma down_proj 640 x 2048: FineQ against the INT8 twin (build/reports/perf.md)" $(PY) -m verif.top_perf --config default --layers gemma-down --tokens 8 --buses 4 --kinds fineq mac8x8 --append

demo-verdicts: demo-minilm demo-gemma-layer
	@$(STEP) 11/11 "the verdicts" $(PY) -m quant.core.verdicts build/reports
	@cat build/logs/demo/11.log

test: setup
	$(VENV)/bin/ruff check . && FINEQ_CONFIG=tiny $(PY) -m pytest -q -n 2

# the deep proofs (every preset, whole accelerator builds) and the mutation check (docs/formal.md)
formal: setup
	FINEQ_FORMAL=1 $(PY) -m pytest -q -m formal tests/verif/test_formal_proofs.py tests/verif/test_formal_mutants.py

verilog: setup
	$(PY) -m hdl.generate --config $(CONFIG) --out build/verilog/$(CONFIG)

sim: setup
	FINEQ_SIM="$(SIM)" FINEQ_CONFIG=$(CONFIG) $(PY) -m pytest -q verif

synth: setup
	$(PY) -m synth --config $(CONFIG)

# make bench: the full versions, one step after another, each step's wall and CPU time printed when it
# ends and kept in build/logs/bench/times.tsv (its output in build/logs/bench/NN.log). JOBS: how many
# synthesis, energy and place-and-route flows run at once (a local process pool; `python -m synth
# --dask local:N` or `--scheduler ADDRESS` for a cluster). `make bench JOBS=1` against `JOBS=2` is
# the one-worker / two-worker comparison.
JOBS ?= 2
BENCH_STEP := STEP_LOGS=build/logs/bench bash scripts/step.sh

bench: setup
	@rm -f build/logs/bench/times.tsv
	@# the tests too slow for `make test` (marked slow: FuseSoC's Icarus build of every tiny build)
	@FINEQ_SLOW=1 FINEQ_CONFIG=tiny $(BENCH_STEP) 1/10 "the slow tests" $(PY) -m pytest -q -m slow tests
	@$(BENCH_STEP) 2/10 "quantizer speed and hardware figures (build/reports/bench.json)" $(PY) -m quant bench
	@$(BENCH_STEP) 3/10 "simulation benchmarks" $(PY) -m verif bench
	@# the roofline sweep: M = 1, 8, 64, 256 at 32- and 128-bit buses, FineQ and the INT8 twin (Verilator);
	@# then the MiniLM layer on Icarus as well (minutes; the demo runs it on Verilator)
	@$(BENCH_STEP) 4/10 "the roofline sweep (build/reports/perf.md)" $(PY) -m verif.top_perf --config default
	@$(BENCH_STEP) 5/10 "the MiniLM layer on Icarus" $(PY) -m verif.top_perf --sim icarus --config default --layers minilm --tokens 8 --buses 4 --kinds fineq --append
	@$(BENCH_STEP) 6/10 "the MiniLM study, every method (build/reports/study.md)" $(PY) -m quant study --threads 1
	@# the causal-LM perplexity study on Gemma-3-270M, every method, both texts (docs/study.md)
	@$(BENCH_STEP) 7/10 "the Gemma-3-270M study (build/reports/llm/)" $(PY) -m quant study --model gemma3-270m --threads 1 --out-dir build/reports/llm --windows 2 --hardware $(LLM_BEST) awq-$(LLM_BEST) --methods $(LLM_METHODS)
	@# the synthesis comparison of demo plus the array-size sweep up to 16 x 16 (hours when not cached)
	@$(BENCH_STEP) 8/10 "synthesis, energy and the sweep to 16 x 16 (build/reports/synth.md)" $(PY) -m synth --config default --size 8 --sweep 4,8,12,16 --jobs $(JOBS)
	@# energy per token of the whole accelerator (Gemma-3-270M, MiniLM; M = 1, 64, 256): FineQ against the INT8 build,
	@# gated gate-level runs of the 12 x 12 arrays, counts checked against a simulated top level (docs/synthesis.md section 5)
	@$(BENCH_STEP) 9/10 "energy per token (build/reports/token_energy.md)" $(PY) -m synth.token_energy --rtl-check
	@# ECP5 (Yosys 0.70 + nextpnr-ecp5, LFE5U-25F/85F): arrays, vector unit, whole top of every preset
	@$(BENCH_STEP) 10/10 "ECP5 place and route (build/reports/ecp5.md)" $(PY) -m synth.ecp5_sweep --jobs $(JOBS)
	@awk -F'\t' '{ s += $$3 } END { printf "make bench: %d s in all (JOBS=$(JOBS)); per step: build/logs/bench/times.tsv\n", s }' build/logs/bench/times.tsv

clean:
	rm -rf build
