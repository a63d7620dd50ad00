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
    "run.verify_data": BOOLEAN,
    "dataset.limit": integer(1, optional=True),
    "dataset.loader.num_samples": integer(1),
    "dataset.loader.seed": integer(0),
    "dataset.loader.limit": integer(1, optional=True),  # = dataset.limit
    "dataset.vanilla_reference": BOOLEAN,
    "dataset.seed": integer(0, 999),  # demo_scenes: evaluation splits (>= 1000 are the demo model's training data)
    "dataset.loader.attribute_fraction": number(0, 1),
    "model.tiny": BOOLEAN,
    "model.resolution_scale": number(0.1, 8),  # input side × s (experiments/budget_matched.yaml)
    "model.adapter.resolution_scale": number(0.1, 8),
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
    "model.adapter.preprocess_threads": integer(0),
    "model.adapter.min_pixels": integer(1),
    "model.adapter.max_pixels": integer(1),
    "model.adapter.max_patches": integer(1, optional=True),
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
    "method.upper": number(-1, 1),           # ZoomEye confidences lie in [-1, 1] (InternVL: lower -0.2)
    "method.lower": number(-1, 1),
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
    check_preset(cfg)
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


def check_preset(cfg) -> None:
    """`model.preset` names one of the family's `model.presets` (conf/model/*.yaml; README "Resolution presets");
    `model.resolution_scale` is a number > 0, and 1 for a family whose adapter has no resolution knob."""
    model = cfg.get("model") or {}
    scale = model.get("resolution_scale", 1)
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or scale <= 0:
        raise FocusError(f"model.resolution_scale must be a number > 0, got {scale!r}")
    if scale != 1 and "resolution_scale" not in (model.get("adapter") or {}):
        raise FocusError(f"model.resolution_scale={scale}: the {model.get('family')} adapter has no adjustable input "
                         f"resolution (README \"Budget-matched vanilla\"); leave it at 1")
    presets, preset = model.get("presets"), model.get("preset")
    if presets is None and preset in (None, "paper"):
        return  # a family without presets: its config values are the paper's
    if presets is None or preset not in presets:
        raise FocusError(f"model.preset must be one of {', '.join(presets or ['paper'])} (the image-size settings of "
                         f"that codebase, conf/model/*.yaml presets), got {preset!r}")


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
    text_config = checkpoint_text_config(adapter_cfg)
    if text_config is None:
        from ..models.tiny import TEXT_LAYERS
        return TEXT_LAYERS  # a tiny checkpoint not built yet: it will be built with this depth
    return text_config.num_hidden_layers


def checkpoint_text_config(adapter_cfg):
    """The decoder's config of the configured checkpoint, from its config.json (no weights are read); None for a
    tiny checkpoint not built yet."""
    from hydra.utils import get_class

    if adapter_cfg.get("tiny"):
        from ..models.tiny import tiny_checkpoint_dir

        folder = tiny_checkpoint_dir(get_class(adapter_cfg._target_).tiny_family, adapter_cfg.get("tiny_cache_dir"))
        if not (folder / "config.json").exists():
            return None
        path = str(folder)
    else:
        path = adapter_cfg.get("path")
        if not path:
            raise FocusError("model.path is empty: give a hub id or a local checkpoint folder")
    from ..core.hub import model_config

    config = model_config(path)
    return getattr(config, "text_config", config)


def check_config(cfg) -> None:
    """Everything about `cfg` that can be known without loading a model (raises FocusError, one line)."""
    check_values(cfg)
    check_device(cfg.model.adapter.get("device", "auto"))
    depth = model_depth(cfg.model.adapter)
    if "relevance" in cfg:
        from ..stages.relevance import layer_range  # here, not at import: value errors answer before torch loads

        try:
            layers = layer_range(list(cfg.relevance.layers), depth, cfg.relevance.get("layer_depth_ref"))
        except ValueError as exc:
            raise FocusError(str(exc)) from None
        check_relevance_cache(cfg, layers)
    method = cfg.get("method") or {}
    if method.get("layer") is not None:  # a method reading one decoder layer (ViCrop): the same mapping as the run's
        from ..stages.relevance import scaled_layer  # here, not at import: value errors answer before torch loads

        try:
            scaled_layer(method.layer, depth, method.get("layer_depth_ref"), key="method.layer")
        except ValueError as exc:
            raise FocusError(str(exc)) from None


def check_relevance_cache(cfg, layers: list[int]) -> None:
    """Relevance layers must keep per-token values of the whole prompt (no sliding-window, linear-attention or
    K/V-sharing layer), read from the checkpoint's config alone (focus.models.cache_layers)."""
    if cfg.relevance.get("features", "values") == "random":
        return
    text_config = checkpoint_text_config(cfg.model.adapter)
    if text_config is not None:
        from ..models.cache_layers import check_value_layers

        check_value_layers(text_config, layers, cfg.model.adapter.get("path") or cfg.model.get("name"))
