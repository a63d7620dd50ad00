"""Relevance maps for the pictures of a run that did not keep them (paper Sec. 3.2, Fig. 7; design section 1).

A run made without `method.save_maps=true` records targets, ROIs and crops but no maps. For the few samples a
picture shows, `recompute_maps` rebuilds the run's model adapter and relevance stage from its resolved config and
computes each target's map again (one relevance pass per target, as the run did: the same model, image, targets
and settings give the same map). Only project components are built: a config naming a `_target_` outside the
`focus` package is refused, so drawing a folder never runs code the folder names.
"""

from __future__ import annotations

import json

from .. import FocusError


def _targets(node) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "_target_"] + [t for v in node.values() for t in _targets(v)]
    if isinstance(node, list):
        return [t for v in node for t in _targets(v)]
    return []


def can_recompute(config: dict) -> bool:
    """True for methods with a relevance stage (FOCUS and its ablations)."""
    return isinstance((config.get("method") or {}).get("relevance"), dict)


def recompute_maps(config: dict, items: list[tuple]) -> int:
    """Fill `relevance_maps` of each (record, image) in `items` that has targets with ROIs but no maps; returns how
    many records got maps. Builds the model once."""
    todo = [(rec, image) for rec, image in items
            if not rec.get("relevance_maps") and any((rec.get("rois") or {}).get(t) for t in rec.get("targets") or [])]
    if not todo or not can_recompute(config):
        return 0
    nodes = (config["model"]["adapter"], config["method"]["relevance"])
    foreign = [t for node in nodes for t in _targets(node) if not str(t).startswith("focus.")]
    if foreign:
        raise FocusError(f"the run's config names {foreign[0]!r}, not a focus component: maps not recomputed")
    from omegaconf import OmegaConf

    from ..harness.config import build
    adapter = build(OmegaConf.create(nodes[0]))
    relevance = build(OmegaConf.create(nodes[1]))
    for rec, image in todo:
        targets = [t for t in rec["targets"] if (rec.get("rois") or {}).get(t)]
        maps = relevance.maps(adapter, image, targets)
        rec["relevance_maps"] = {t: {"grid": [[round(float(v), 6) for v in row] for row in m.grid.tolist()],
                                     "layout": json.loads(json.dumps(m.layout.to_dict()))} for t, m in maps.items()}
    return len(todo)
