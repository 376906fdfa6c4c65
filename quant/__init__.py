"""FineQ quantizer, fineq-v1 packing, golden integer model, checkpoint I/O and metrics."""

from .core.errors import FineQError

__all__ = ["FineQError"]
