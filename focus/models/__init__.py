"""Model adapters: one per family behind one interface (design section 5)."""

from .base import FeaturePass, VisionLanguageAdapter

__all__ = ["FeaturePass", "VisionLanguageAdapter"]
