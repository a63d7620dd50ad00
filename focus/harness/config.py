"""Config helpers: OmegaConf resolvers used by conf/ and the one instantiate helper (design section 2)."""

from __future__ import annotations

from hydra.utils import instantiate as _instantiate
from omegaconf import OmegaConf


def _if_lt(value, threshold, below, otherwise):
    """${focus.if_lt:x,t,a,b} → a if x < t else b (Table 7: LLaVA-1.5 k = 15 if n_steps < 4 else 30)."""
    return below if float(value) < float(threshold) else otherwise


def _first(*values):
    """${focus.first:a,b,...} → the first value that is not null/empty."""
    for v in values:
        if v not in (None, "", "None", "null"):
            return v
    return None


def _demo_checkpoint() -> str:
    """${focus.demo_checkpoint:} → the folder of the demo model shipped inside the package (focus/demo)."""
    from ..demo import CHECKPOINT_DIR
    return str(CHECKPOINT_DIR)


def _hydra_output_subdir(output_dir: str):
    """${focus.hydra_output_subdir:<run folder>} → `.hydra`, or null in a folder holding another run's records."""
    from .runfolder import hydra_output_subdir
    return hydra_output_subdir(output_dir)


def register_resolvers() -> None:
    for name, fn in (("focus.if_lt", _if_lt), ("focus.first", _first), ("focus.demo_checkpoint", _demo_checkpoint),
                     ("focus.hydra_output_subdir", _hydra_output_subdir)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


def build(node, **kwargs):
    """Instantiate a config node through its `_target_` (the one place the project calls Hydra's instantiate)."""
    return _instantiate(node, _convert_="all", **kwargs)


register_resolvers()
