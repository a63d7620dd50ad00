"""focus: training-free visual cropping for fine-grained VQA guided by the MLLM's KV cache (FOCUS, NeurIPS 2025)."""

__version__ = "0.1.0"


class FocusError(RuntimeError):
    """An error with a message meant for the user (printed as one line, no stack trace)."""


from .harness import config as _config  # noqa: E402,F401  (registers the OmegaConf resolvers used by conf/)
