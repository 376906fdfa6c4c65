"""The study tooling: checkpoints and models, texts and corpora, metrics, perplexity, the studies,
their reports and plots, golden-vector making, benchmarks. Built on quant.core and quant.methods;
nothing below it imports it."""
