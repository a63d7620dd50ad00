"""Datasets: the synthetic default and the paper's benchmarks in their distributed formats (design section 6)."""

from .base import Sample, build_prompt

__all__ = ["Sample", "build_prompt"]
