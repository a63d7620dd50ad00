"""The published configurations of the real-size checkpoints benchmarks/real_size.py builds (no download).

Written from each checkpoint's `config.json` on the Hugging Face hub (the paper's three models, Sec. 4.1, and the
8B checkpoints of the families added after it, docs field-facts). Only what decides the compute is kept: depths,
widths, heads, vocabulary, the vision tower and its token geometry. Token ids (image, video, vision markers, pad,
bos, eos) are NOT taken from here: the benchmark copies them from the family's tiny checkpoint, whose tokenizer
it uses (focus/models/tiny.py), so the processor and the model agree.

`conf` is the Hydra model config (conf/model/<conf>.yaml) whose adapter and hyperparameters run the model;
`published` says where the numbers come from and how sure they are.
"""

from __future__ import annotations

import copy

MODELS = {
    "llava15": {
        "checkpoint": "llava-hf/llava-1.5-7b-hf", "conf": "llava15", "published": "config.json (paper's model)",
        "config": {
            "model_type": "llava", "projector_hidden_act": "gelu", "vision_feature_layer": -2,
            "vision_feature_select_strategy": "default", "tie_word_embeddings": False,
            "text_config": {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 11008,
                            "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
                            "vocab_size": 32064, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5,
                            "tie_word_embeddings": False},
            "vision_config": {"model_type": "clip_vision_model", "hidden_size": 1024, "intermediate_size": 4096,
                              "num_hidden_layers": 24, "num_attention_heads": 16, "image_size": 336,
                              "patch_size": 14, "projection_dim": 768, "hidden_act": "quick_gelu"},
        },
    },
    "llava_ov": {
        "checkpoint": "llava-hf/llava-onevision-qwen2-7b-ov-hf", "conf": "llava_ov",
        "published": "config.json (paper's model); image_grid_pinpoints = transformers' default (384..2304 px)",
        "config": {
            "model_type": "llava_onevision", "projector_hidden_act": "gelu", "vision_feature_layer": -1,
            "vision_feature_select_strategy": "full", "vision_aspect_ratio": "anyres_max_9",
            "tie_word_embeddings": False,
            "text_config": {"model_type": "qwen2", "hidden_size": 3584, "intermediate_size": 18944,
                            "num_hidden_layers": 28, "num_attention_heads": 28, "num_key_value_heads": 4,
                            "vocab_size": 152128, "max_position_embeddings": 32768, "rms_norm_eps": 1e-6,
                            "rope_theta": 1000000.0, "tie_word_embeddings": False},
            "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 1152, "intermediate_size": 4304,
                              "num_hidden_layers": 26, "num_attention_heads": 16, "image_size": 384,
                              "patch_size": 14, "vision_use_head": False},
        },
    },
    "qwen25vl": {
        "checkpoint": "Qwen/Qwen2.5-VL-7B-Instruct", "conf": "qwen25vl", "published": "config.json (paper's model)",
        "config": {
            "model_type": "qwen2_5_vl", "tie_word_embeddings": False,
            "text_config": {"model_type": "qwen2_5_vl_text", "hidden_size": 3584, "intermediate_size": 18944,
                            "num_hidden_layers": 28, "num_attention_heads": 28, "num_key_value_heads": 4,
                            "vocab_size": 152064, "max_position_embeddings": 128000, "rms_norm_eps": 1e-6,
                            "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0,
                                                "mrope_section": [16, 24, 24]},
                            "tie_word_embeddings": False},
            "vision_config": {"depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16,
                              "out_hidden_size": 3584, "patch_size": 14, "spatial_merge_size": 2,
                              "temporal_patch_size": 2, "window_size": 112, "fullatt_block_indexes": [7, 15, 23, 31],
                              "hidden_act": "silu", "tokens_per_second": 2},
        },
    },
    # the families added after the paper (docs field-facts): their adapters come from conf/model/<conf>.yaml; a
    # model whose config or adapter is not in this checkout is skipped with one line
    "qwen3vl": {
        "checkpoint": "Qwen/Qwen3-VL-8B-Instruct", "conf": "qwen3vl",
        "published": "config.json as recalled (not downloaded): check before quoting",
        "config": {
            "model_type": "qwen3_vl", "tie_word_embeddings": False,
            "text_config": {"model_type": "qwen3_vl_text", "hidden_size": 4096, "intermediate_size": 12288,
                            "num_hidden_layers": 36, "num_attention_heads": 32, "num_key_value_heads": 8,
                            "head_dim": 128, "vocab_size": 151936, "max_position_embeddings": 262144,
                            "rms_norm_eps": 1e-6,
                            "rope_parameters": {"rope_type": "default", "rope_theta": 5000000.0,
                                                "mrope_section": [24, 20, 20], "mrope_interleaved": True},
                            "tie_word_embeddings": False},
            "vision_config": {"depth": 27, "hidden_size": 1152, "intermediate_size": 4304, "num_heads": 16,
                              "out_hidden_size": 4096, "patch_size": 16, "spatial_merge_size": 2,
                              "temporal_patch_size": 2, "num_position_embeddings": 2304,
                              "deepstack_visual_indexes": [8, 16, 24], "hidden_act": "gelu_pytorch_tanh"},
        },
    },
    "internvl": {
        "checkpoint": "OpenGVLab/InternVL3_5-8B-HF", "conf": "internvl",
        "published": "config.json as recalled (not downloaded): check before quoting",
        "config": {
            "model_type": "internvl", "downsample_ratio": 0.5, "projector_hidden_act": "gelu",
            "vision_feature_layer": -1, "vision_feature_select_strategy": "default", "tie_word_embeddings": False,
            "text_config": {"model_type": "qwen3", "hidden_size": 4096, "intermediate_size": 12288,
                            "num_hidden_layers": 36, "num_attention_heads": 32, "num_key_value_heads": 8,
                            "head_dim": 128, "vocab_size": 151936, "max_position_embeddings": 40960,
                            "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "tie_word_embeddings": False},
            "vision_config": {"model_type": "internvl_vision", "hidden_size": 1024, "intermediate_size": 4096,
                              "num_hidden_layers": 24, "num_attention_heads": 16, "image_size": [448, 448],
                              "patch_size": [14, 14], "norm_type": "layer_norm", "use_qk_norm": False,
                              "layer_scale_init_value": 0.1, "hidden_act": "gelu", "attention_bias": True},
        },
    },
    "llava_ov15": {
        "checkpoint": "lmms-lab/LLaVA-OneVision-1.5-8B-Instruct", "conf": "llava_ov15",
        "published": "config.json as recalled (not downloaded; RICE-ViT-L + Qwen3-8B): check before quoting",
        "config": {
            "model_type": "llava_onevision1_5", "tie_word_embeddings": False,
            "text_config": {"model_type": "qwen3", "hidden_size": 4096, "intermediate_size": 12288,
                            "num_hidden_layers": 36, "num_attention_heads": 32, "num_key_value_heads": 8,
                            "head_dim": 128, "vocab_size": 151936, "max_position_embeddings": 262144,
                            "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "tie_word_embeddings": False},
            "vision_config": {"depth": 24, "hidden_size": 1024, "intermediate_size": 4096, "num_heads": 16,
                              "patch_size": 14, "spatial_merge_size": 2, "out_hidden_size": 4096,
                              "hidden_act": "gelu"},
        },
    },
}

PAPER_MODELS = ("llava15", "llava_ov", "qwen25vl")

# --smoke: the same classes and token geometry (image size, patch, merge, tiles) with small widths and 4 decoder
# layers, as the tiny checkpoints (focus/models/tiny.py): on 2 layers the paper's LLaVA-OneVision range [21, 28)
# maps to no layer (focus/stages/relevance.py layer_range), on 4 every paper range maps to at least one
SMOKE_TEXT = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4,
              "num_key_value_heads": 2, "vocab_size": 1024}
SMOKE_VISION = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "depth": 2,
                "num_attention_heads": 2, "num_heads": 2, "projection_dim": 32}


def _scaled_sections(sections: list[int], total: int) -> list[int]:
    """mrope sections rescaled to sum to `total` (= head_dim / 2), each at least 1."""
    scaled = [max(1, s * total // sum(sections)) for s in sections]
    scaled[0] += total - sum(scaled)
    return scaled


def smoke_config(config: dict) -> dict:
    """`config` with 4 decoder layers, 2 vision layers and small widths; the token geometry is kept."""
    out = copy.deepcopy(config)
    text, vision = out["text_config"], out["vision_config"]
    text.update({k: v for k, v in SMOKE_TEXT.items()})
    head_dim = SMOKE_TEXT["hidden_size"] // SMOKE_TEXT["num_attention_heads"]
    if "head_dim" in text:
        text["head_dim"] = head_dim
    rope = text.get("rope_parameters") or {}
    if "mrope_section" in rope:
        rope["mrope_section"] = _scaled_sections(rope["mrope_section"], head_dim // 2)
    for key, value in SMOKE_VISION.items():
        if key in vision:
            vision[key] = value
    if "out_hidden_size" in vision:
        vision["out_hidden_size"] = SMOKE_TEXT["hidden_size"]
    if "fullatt_block_indexes" in vision:
        vision["fullatt_block_indexes"] = [SMOKE_VISION["depth"] - 1]
    if "deepstack_visual_indexes" in vision:
        vision["deepstack_visual_indexes"] = [0]
    return out


def depth(config: dict) -> int:
    return config["text_config"]["num_hidden_layers"]
