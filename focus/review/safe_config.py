"""Reading a run folder never executes it (design section 7): a folder's config is data, possibly someone else's.

`focus.visualize` needs the run's dataset back. It does not hand the folder's `dataset.loader` to Hydra's instantiate
(which would call any `_target_`: `torch.load`, `builtins.eval`, ...). `dataset_from_config` accepts only the loader
classes of this package's registered dataset configs (conf/dataset/*.yaml, read with `yaml.safe_load`), called with
plain values (text, numbers, booleans, null, lists of them) for parameters the class declares; anything else is
refused in one line. `focus.report` and `--rescore` only read JSON/YAML as data (`json`, `yaml.safe_load`).
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

from .. import FocusError

CONF_DIR = Path(__file__).resolve().parent.parent.parent / "conf"
SCALARS = (str, int, float, bool, type(None))


def allowed_loaders(conf_dir: Path = CONF_DIR) -> set[str]:
    """The `_target_` of every registered dataset config's loader."""
    import yaml
    out = set()
    for file in sorted((conf_dir / "dataset").glob("*.yaml")):
        target = ((yaml.safe_load(file.read_text()) or {}).get("loader") or {}).get("_target_")
        if isinstance(target, str):
            out.add(target)
    return out


def _plain(value) -> bool:
    if isinstance(value, SCALARS):
        return True
    return isinstance(value, list) and all(isinstance(v, SCALARS) for v in value)


def dataset_from_config(loader: dict, source: str, **overrides):
    """The dataset of a folder's `dataset.loader` node, built only from an allow-listed class and plain values."""
    from ..data.base import Dataset

    if not isinstance(loader, dict):
        raise FocusError(f"{source}: dataset.loader is not a mapping; refusing to build anything from it")
    target = loader.get("_target_")
    allowed = allowed_loaders()
    if target not in allowed:
        raise FocusError(f"{source}: dataset.loader._target_ {target!r} is not one of this package's dataset loaders "
                         f"({', '.join(sorted(allowed))}); refusing to build it (a run folder is data, not code)")
    module, _, name = target.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    if not (isinstance(cls, type) and issubclass(cls, Dataset)):
        raise FocusError(f"{source}: {target} is not a dataset class; refusing to build it")
    params = inspect.signature(cls.__init__).parameters
    kwargs = {}
    for key, value in loader.items():
        if key == "_target_":
            continue
        if key.startswith("_") or key not in params:
            raise FocusError(f"{source}: dataset.loader.{key} is not a parameter of {target}; refusing to build it")
        if not _plain(value) or (isinstance(value, str) and "${" in value):
            raise FocusError(f"{source}: dataset.loader.{key} is not a plain value ({str(value)[:60]!r}); refusing "
                             f"to build it")
        kwargs[key] = value
    return cls(**{**kwargs, **overrides})
