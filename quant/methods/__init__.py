"""The quantizers: FineQ (fineq, fineq_v2, fineq_variants), the baselines (rtn, gptq, owq) and the
shared scale search. They depend on quant.core only and write the formats it defines."""
