"""Config checks that run before any model loads, each failing in one line that names the key (design section 7).

`SCHEMA` gives the type and range of every numeric and boolean option of conf/ (tests/test_validate.py checks that
no option is missing from it). `check_config` checks them, then the device, then the relevance layer range against
the model's depth read from its config.json only (no weights; a hub id is probed once, focus/core/hub.py). Checks that
need the data (required columns, an empty file) are made by the dataset loaders when they are built, also before
the model loads (focus/data/tabular.py).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .. import FocusError
from ..stages.relevance import layer_range, scaled_layer


@dataclass(frozen=True)
class Rule:
    """A value type ("integer", "number", "boolean") with an optional closed range; `optional` allows null."""

    kind: str
    low: float | None = None
    high: float | None = None
    optional: bool = False

    def describe(self) -> str:
        text = {"integer": "an integer", "number": "a number", "boolean": "true or false"}[self.kind]
        if self.low is not None and self.high is not None:
            text += f" in [{self.low}, {self.high}]"
        elif self.low is not None:
            text += f" >= {self.low}"
        return text + (" or null" if self.optional else "")

    def accepts(self, value) -> bool:
        if value is None:
            return self.optional
        if self.kind == "boolean":
            return isinstance(value, bool)
        if isinstance(value, bool) or not isinstance(value, int if self.kind == "integer" else (int, float)):
            return False
        if isinstance(value, float) and not math.isfinite(value):
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


def integer(low=None, high=None, optional=False) -> Rule:
    return Rule("integer", low, high, optional)


def number(low=None, high=None, optional=False) -> Rule:
    return Rule("number", low, high, optional)


BOOLEAN = Rule("boolean")

# Every numeric and boolean option of conf/ (dotted keys of the composed config). Keys absent from a composition
# (e.g. `method.max_rois_in_record` with method=vanilla) are skipped. Paper values: Table 7, Table 12, App. A.5, C.1.
SCHEMA: dict[str, Rule] = {
    "seed": integer(0),
    "run.retry_errors": BOOLEAN,
    "run.vanilla_reference": BOOLEAN,
    "dataset.limit": integer(1, optional=True),
    "dataset.loader.num_samples": integer(1),
    "dataset.loader.seed": integer(0),
    "dataset.loader.limit": integer(1, optional=True),  # = dataset.limit
    "dataset.vanilla_reference": BOOLEAN,
    "dataset.seed": integer(0, 999),  # demo_scenes: evaluation splits (>= 1000 are the demo model's training data)
    "dataset.loader.attribute_fraction": number(0, 1),
    "model.tiny": BOOLEAN,
    "model.hparams.k": integer(1),
    "model.hparams.s_min": integer(1),
    "model.hparams.s_max": integer(1),
    "model.hparams.s_dist": number(0),
    "model.hparams.layer_depth_ref": integer(1, optional=True),
    "model.hparams.t_type2": number(0, 1),
    "model.hparams.t_obj_dist": number(0),
    "model.adapter.tiny": BOOLEAN,
    "model.adapter.pad_to_square": BOOLEAN,
    "model.adapter.min_crop": integer(1, optional=True),
    "model.adapter.max_new_tokens": integer(1),
    "model.adapter.min_pixels": integer(1),
    "model.adapter.max_pixels": integer(1),
    "targets.with_image": BOOLEAN,
    "targets.max_new_tokens": integer(1),
    "relevance.layer_depth_ref": integer(1, optional=True),
    "relevance.local_sigma": number(0),
    "relevance.local_downsample": integer(1),
    "relevance.seed": integer(0),
    "relevance.reuse_image_prefix": BOOLEAN,
    "relevance.early_stop": BOOLEAN,
    "proposer.k": integer(1),
    "proposer.s_min": integer(1),
    "proposer.s_max": integer(1),
    "proposer.s_dist": number(0),
    "proposer.expand_threshold": number(0),
    "proposer.nms": number(0, 1),
    "proposer.min_crop": integer(1, optional=True),
    "ranker.n_steps": integer(1),
    "ranker.overrun": BOOLEAN,
    "ranker.batch_size": integer(1),
    "ranker.batch_targets": BOOLEAN,
    "inference_scheme.t_type2": number(0, 1),
    "inference_scheme.t_obj_dist": number(0),
    "inference_scheme.canvas_side": integer(1),
    "inference_scheme.max_new_tokens": integer(1),
    "method.max_rois_in_record": integer(0),
    "method.save_maps": BOOLEAN,
    # baselines (conf/method/zoomeye.yaml, vicrop.yaml; the original code's values, README "Baselines")
    "method.depth_limit": integer(1),
    "method.split_num": integer(2),
    "method.type2_depth_limit": integer(1),
    "method.pop_limit_per_depth": integer(1),
    "method.num_interval": integer(0),
    "method.side_threshold": number(0),
    "method.merge_buffer": number(0),
    "method.singularize_type2": BOOLEAN,
    "method.answer_preamble": BOOLEAN,
    "method.batch_size": integer(1),
    "method.max_nodes_in_record": integer(0),
    "method.bias_value": number(0, 1),
    "method.upper": number(0, 1),
    "method.lower": number(0, 1),
    "method.visual_cue_threshold": number(0, 1),
    "method.patch_scale": number(1, optional=True),
    "method.high_res": BOOLEAN,
    "method.high_res_block": integer(1),
    "method.layer": integer(0),
    "method.layer_depth_ref": integer(1, optional=True),
    "method.window": integer(1),
    "logger.table_rows": integer(0),
    "logger.image_side": integer(1),
}
# Lists checked element by element, and the relevance layer range (checked against the model's depth).
LIST_SCHEMA: dict[str, tuple[int | None, Rule]] = {  # (length, None = any non-empty list; rule of each element)
    "inference_scheme.canvas_fill": (3, integer(0, 255)),
    "method.decrease": (None, number(0, 1)),  # ZoomEye's threshold decrease per stage
    "method.ratios": (None, number(1)),     # ViCrop's window ratios
}
LAYER_KEYS = ("model.hparams.layers", "relevance.layers")

_ABSENT = object()
DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def _is_interpolation(cfg, key: str) -> bool:
    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(cfg, parent) if parent else cfg
    return OmegaConf.is_interpolation(node, leaf)


def _value(cfg, key: str):
    """The resolved value at `key`; a failing interpolation is this key's error."""
    try:
        return OmegaConf.select(cfg, key, default=_ABSENT, throw_on_resolution_failure=True)
    except OmegaConfBaseException as exc:
        raise FocusError(f"{key} cannot be resolved: {str(exc).splitlines()[0]}") from None


def _got(value) -> str:
    return repr(OmegaConf.to_container(value) if OmegaConf.is_config(value) else value)


def check_values(cfg) -> None:
    """Type and range of every option of `SCHEMA`, `LIST_SCHEMA` and `LAYER_KEYS` present in `cfg`. Values the user
    wrote are checked before interpolations, so a bad `ranker.n_steps` is named as such, not through
    `model.hparams.k`, which reads it. (`method.proposer` etc. are interpolations of the groups checked here.)"""
    keys = [*SCHEMA, *LIST_SCHEMA, *LAYER_KEYS]
    present = [k for k in keys
               if OmegaConf.select(cfg, k, default=_ABSENT, throw_on_resolution_failure=False) is not _ABSENT]
    for key in sorted(present, key=lambda k: _is_interpolation(cfg, k)):
        value = _value(cfg, key)
        if key in SCHEMA:
            if not SCHEMA[key].accepts(value):
                raise FocusError(f"{key} must be {SCHEMA[key].describe()}, got {_got(value)}")
        elif key in LIST_SCHEMA:
            length, rule = LIST_SCHEMA[key]
            if not OmegaConf.is_list(value) or len(value) != (length or len(value) or -1) \
                    or not all(map(rule.accepts, value)):
                raise FocusError(f"{key} must be a list of {length or 'one or more'} values, each {rule.describe()}, "
                                 f"got {_got(value)}")
        elif not (OmegaConf.is_list(value) and len(value) == 2 and all(integer(0).accepts(v) for v in value)):
            raise FocusError(f"{key} must be [l, L): two integers >= 0, got {_got(value)}")


def check_device(device: str) -> None:
    import torch

    if not isinstance(device, str) or not DEVICE.match(device):
        raise FocusError(f"model.adapter.device must be auto, cpu, mps, cuda or cuda:N, got {device!r}")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise FocusError(f"model.adapter.device={device} but CUDA is not available here "
                             f"(torch.cuda.is_available() is False); use model.adapter.device=auto or cpu")
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise FocusError(f"model.adapter.device={device} but this machine has {torch.cuda.device_count()} "
                             f"CUDA device(s)")


def model_depth(adapter_cfg) -> int:
    """Decoder layers of the configured checkpoint, from its config.json (no weights are read)."""
    from hydra.utils import get_class

    if adapter_cfg.get("tiny"):
        from ..models.tiny import TEXT_LAYERS, tiny_checkpoint_dir

        folder = tiny_checkpoint_dir(get_class(adapter_cfg._target_).tiny_family, adapter_cfg.get("tiny_cache_dir"))
        if not (folder / "config.json").exists():
            return TEXT_LAYERS  # not built yet: it will be built with this depth
        path = str(folder)
    else:
        path = adapter_cfg.get("path")
        if not path:
            raise FocusError("model.path is empty: give a hub id or a local checkpoint folder")
    from ..core.hub import model_config

    config = model_config(path)
    return getattr(config, "text_config", config).num_hidden_layers


def check_config(cfg) -> None:
    """Everything about `cfg` that can be known without loading a model (raises FocusError, one line)."""
    check_values(cfg)
    check_device(cfg.model.adapter.get("device", "auto"))
    depth = model_depth(cfg.model.adapter)
    if "relevance" in cfg:
        try:
            layer_range(list(cfg.relevance.layers), depth, cfg.relevance.get("layer_depth_ref"))
        except ValueError as exc:
            raise FocusError(str(exc)) from None
    method = cfg.get("method") or {}
    if method.get("layer") is not None:  # a method reading one decoder layer (ViCrop): the same mapping as the run's
        try:
            scaled_layer(method.layer, depth, method.get("layer_depth_ref"), key="method.layer")
        except ValueError as exc:
            raise FocusError(str(exc)) from None
