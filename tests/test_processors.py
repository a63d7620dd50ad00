"""Checkpoints whose processor config is not the tiny builder's: the adapters must still pad, tile and count tokens
as the model does (design section 5). Each test derives a checkpoint folder from a tiny one, edits its JSON files the
way hub checkpoints differ, and loads it through the adapter's ordinary `from_pretrained` path."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from focus.models.tiny import ensure_tiny_checkpoint
from pixel_probe import check_size, make_probe

# llava-hf/llava-1.5-7b-hf's preprocessor_config.json: CLIPImageProcessor, which centre-crops and has no padding
HUB_LLAVA15_PREPROCESSOR = {
    "crop_size": {"height": 336, "width": 336}, "do_center_crop": True, "do_convert_rgb": True,
    "do_normalize": True, "do_rescale": True, "do_resize": True,
    "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_processor_type": "CLIPImageProcessor",
    "image_std": [0.26862954, 0.26130258, 0.27577711], "processor_class": "LlavaProcessor", "resample": 3,
    "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": 336},
}


def derived_checkpoint(tiny_cache, family, folder, processor_edit=None, config_edit=None):
    """A copy of the tiny checkpoint with edited processor_config.json / config.json; a changed vision config gets
    new (random) weights of the right shapes."""
    shutil.copytree(ensure_tiny_checkpoint(family, tiny_cache), folder)
    if processor_edit:
        proc = json.loads((folder / "processor_config.json").read_text())
        processor_edit(proc, folder)
        (folder / "processor_config.json").write_text(json.dumps(proc))
    if config_edit:
        from transformers import AutoConfig, AutoModelForImageTextToText

        cfg = json.loads((folder / "config.json").read_text())
        config_edit(cfg)
        (folder / "config.json").write_text(json.dumps(cfg))
        torch.manual_seed(0)
        AutoModelForImageTextToText.from_config(AutoConfig.from_pretrained(folder)).save_pretrained(folder)
    return folder


def hub_clip_processor(proc, folder):
    """The hub's layout: the image processor in preprocessor_config.json, declared as CLIPImageProcessor."""
    proc.pop("image_processor")
    (folder / "preprocessor_config.json").write_text(json.dumps(HUB_LLAVA15_PREPROCESSOR))


def test_llava15_pads_although_the_checkpoint_declares_a_centre_cropping_processor(tiny_cache, tmp_path):
    from transformers import LlavaProcessor

    from focus.models.llava15 import Llava15Adapter

    path = derived_checkpoint(tiny_cache, "llava15", tmp_path / "clip", processor_edit=hub_clip_processor)
    loaded = LlavaProcessor.from_pretrained(path).image_processor
    assert type(loaded).__name__.startswith("CLIPImageProcessor")  # the premise: this class would centre-crop
    adapter = Llava15Adapter(path=str(path), device="cpu")
    # a 2:1 image: the top and bottom quarters of the model input are the mean-colour padding
    image = Image.fromarray(np.full((100, 200, 3), 255, dtype=np.uint8))
    pixels = adapter.encode([image], [adapter.chat(1, "hi")])["pixel_values"][0]  # [3, 336, 336]
    mean = torch.tensor(HUB_LLAVA15_PREPROCESSOR["image_mean"])[:, None, None]
    std = torch.tensor(HUB_LLAVA15_PREPROCESSOR["image_std"])[:, None, None]
    padding = (torch.floor(mean * 255) / 255 - mean) / std  # expand2square's colour: int(mean·255)
    torch.testing.assert_close(pixels[:, :80], padding.expand(3, 80, 336), atol=1e-4, rtol=0)
    torch.testing.assert_close(pixels[:, -80:], padding.expand(3, 80, 336), atol=1e-4, rtol=0)
    white = (1 - mean) / std
    torch.testing.assert_close(pixels[:, 100:236], white.expand(3, 136, 336), atol=1e-4, rtol=0)
    # and through the model: changed pixels reach exactly the cells the layout maps them to
    probe = make_probe(adapter)
    for w, h in [(1500, 500), (400, 1200), (1200, 700)]:
        assert check_size(probe, w, h)


def test_llava15_geometry_follows_a_smaller_checkpoint(tiny_cache, tmp_path):
    """A LLaVA-architecture checkpoint at 96 px with 8-px patches: a 12×12 grid and a 96-px base resolution, read
    from its config and processor, nothing assumed from LLaVA-1.5-7B."""
    from focus.models.llava15 import Llava15Adapter

    def small_vision(cfg):
        cfg["vision_config"].update(image_size=96, patch_size=8)

    def small_processor(proc, _folder):
        proc["image_processor"].update(size={"shortest_edge": 96}, crop_size={"height": 96, "width": 96})
        proc["patch_size"] = 8

    path = derived_checkpoint(tiny_cache, "llava15", tmp_path / "small", processor_edit=small_processor,
                              config_edit=small_vision)
    adapter = Llava15Adapter(path=str(path), device="cpu")
    image = Image.new("RGB", (300, 100))
    layout = adapter.layout(image)
    assert (layout.rows, layout.cols, adapter.base_resolution) == (12, 12, 96)
    assert layout.cell_size == (25.0, 25.0)  # 300 px padded to a square, 12 cells
    probe = make_probe(adapter)
    for w, h in [(96, 96), (1500, 500), (400, 1200), (1200, 700)]:
        assert check_size(probe, w, h)
    fpass = adapter.relevance_pass(image, "Is there a {target} in the image? Answer Yes or No.", "red car")
    assert len(fpass.visual_positions) == 144


def test_onevision_processor_follows_the_model_config(tiny_cache, tmp_path, caplog):
    """A processor whose pinpoints and aspect budget differ from the model's would tile and count tokens one way
    while the model packs them another: the adapter aligns it with the model config and says so."""
    from focus.models.llava_ov import LlavaOnevisionAdapter

    def other_tiling(proc, _folder):
        proc["image_processor"]["image_grid_pinpoints"] = [[384, 384], [384, 768], [768, 384], [768, 768]]
        proc["vision_aspect_ratio"] = "anyres_max_4"

    path = derived_checkpoint(tiny_cache, "llava_ov", tmp_path / "ov", processor_edit=other_tiling)
    with caplog.at_level("WARNING"):
        adapter = LlavaOnevisionAdapter(path=str(path), device="cpu")
    assert "image_grid_pinpoints" in caplog.text and "vision_aspect_ratio" in caplog.text
    assert adapter.processor.vision_aspect_ratio == adapter.model.config.vision_aspect_ratio
    image = Image.new("RGB", (1200, 400), (20, 40, 60))
    fpass = adapter.relevance_pass(image, "Is there a {target} in the image? Answer Yes or No.", "red car")
    assert len(fpass.visual_positions) == fpass.layout.rows * fpass.layout.cols
    assert fpass.layout.cols == 4 * 27  # tiled as the model packs: 1536×768 px (the edited pinpoints: 768×384)


def test_qwen_processor_follows_the_model_config(tiny_cache, tmp_path, caplog):
    from focus.models.qwen25vl import Qwen25VLAdapter

    def other_merge(proc, _folder):
        proc["image_processor"]["merge_size"] = 1

    path = derived_checkpoint(tiny_cache, "qwen25vl", tmp_path / "qwen", processor_edit=other_merge)
    with caplog.at_level("WARNING"):
        adapter = Qwen25VLAdapter(path=str(path), device="cpu")
    assert "merge_size" in caplog.text and adapter.processor.image_processor.merge_size == 2
    image = Image.new("RGB", (600, 300), (20, 40, 60))
    fpass = adapter.relevance_pass(image, "Is there a {target} in the image? Answer Yes or No.", "red car")
    assert (fpass.layout.rows, fpass.layout.cols) == (11, 21)  # smart_resize 308×588 px, 28 px per merged token
