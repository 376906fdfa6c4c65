"""FineQ quantizer, fineq-v1 packing, golden integer model, checkpoint I/O and metrics."""

from .errors import FineQError

__all__ = ["FineQError"]
