"""Tiny offline checkpoints of the three paper model families and of Qwen3-VL, LLaVA-OneVision-1.5 and InternVL
(design section 5).

Each tiny checkpoint is the REAL transformers class (LlavaForConditionalGeneration,
LlavaOnevisionForConditionalGeneration, Qwen2_5_VLForConditionalGeneration, Qwen3VLForConditionalGeneration,
LlavaOnevision15ForConditionalGeneration, InternVLForConditionalGeneration) built from a tiny config with the real visual token geometry (CLIP 336/14
→ 24×24, SigLIP 384/14 → 27×27 tiles with anyres_max_9, Qwen2.5-VL 14-px patches merged 2×2, Qwen3-VL 16-px patches
merged 2×2 with DeepStack, RiceViT 14-px patches merged 2×2, InternVL 448-px tiles pixel-shuffled to 16×16) but a few hundred thousand parameters, and a byte-level
BPE tokenizer trained offline on a small corpus. The checkpoint is written with `save_pretrained` once, into a cache
folder, and every later load goes through the same `from_pretrained` code path that loads `llava-hf/llava-1.5-7b-hf`
and the other hub checkpoints.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

FAMILIES = ("llava15", "llava_ov", "qwen25vl", "qwen3vl", "llava_ov15", "internvl")
TEXT_LAYERS = 4  # decoder layers of every tiny checkpoint (conf/model/tiny_*.yaml map layer ranges onto them)

# Chat templates in the format of each family's hub checkpoint, so prompts are built the same way for tiny and real.
LLAVA15_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'user' %}USER: {% else %}ASSISTANT: {% endif %}"
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}<image>\n"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}{% endfor %}"
    "{% if message['role'] == 'user' %} {% else %}{{ eos_token }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)
IM_CHAT_TEMPLATE = (  # LLaVA-OneVision (Qwen2 LLM): <|im_start|> turns, one <image> per image item
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}<image>\n"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
QWEN_CHAT_TEMPLATE = (
    "{% if messages[0]['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

QWEN3_CHAT_TEMPLATE = (  # Qwen3-VL: the same turns and vision markers, no default system turn
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
INTERNVL_CHAT_TEMPLATE = (  # InternVL -HF checkpoints (Qwen LLM): <|im_start|> turns, one <IMG_CONTEXT> per image item
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}<IMG_CONTEXT>\n"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
INTERNVL_TOKENS = ["<img>", "</img>", "<IMG_CONTEXT>"]  # added after training, so other families' ids stay as they were

SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>", "<image>", "<video>", "<|im_start|>", "<|im_end|>",
                  "<|endoftext|>", "<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>"]

_WORDS = (
    "Yes No yes no Is there a an the in image Answer or Question If you want to answer question which objects' "
    "information do need So I about following objects and all What is colour color of on left right relative "
    "position Which side How many number count Answer with option's letter from given choices directly "
    "red green blue yellow white black orange purple gray grey pink brown cyan magenta square circle disk triangle "
    "box ball car dog cat person tree bench bus sign cup umbrella A B C D E ( ) . , ? : USER ASSISTANT "
    "user assistant system You are helpful Select best The best answer based"
)


def _corpus() -> list[str]:
    words = _WORDS.split()
    lines = []
    for i in range(400):  # "Yes"/"No" at the start of a turn and after spaces, so each becomes one token
        lines.append(f"Yes\nNo\n Yes No {words[i % len(words)]} {words[(7 * i) % len(words)]}")
    lines.append(" ".join(words))
    lines.extend(words)
    return lines


def build_tokenizer(family: str):
    """Train a small byte-level BPE offline and wrap it with the family's special tokens and chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_corpus(), trainer=trainer)
    if family == "internvl":
        tok.add_special_tokens(INTERNVL_TOKENS)
    if family == "llava15":
        extra = {"image_token": "<image>"}
        kwargs = dict(bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>")
        template = LLAVA15_CHAT_TEMPLATE
    elif family == "internvl":
        extra = {"start_image_token": "<img>", "end_image_token": "</img>", "context_image_token": "<IMG_CONTEXT>",
                 "video_token": "<video>"}
        kwargs = dict(eos_token="<|im_end|>", pad_token="<|endoftext|>")
        template = INTERNVL_CHAT_TEMPLATE
    elif family == "llava_ov":
        extra = {"image_token": "<image>", "video_token": "<video>"}
        kwargs = dict(eos_token="<|im_end|>", pad_token="<|endoftext|>")
        template = IM_CHAT_TEMPLATE
    else:  # qwen25vl, qwen3vl, llava_ov15: Qwen2 tokenizer markers
        extra = {"image_token": "<|image_pad|>", "video_token": "<|video_pad|>",
                 "vision_start_token": "<|vision_start|>", "vision_end_token": "<|vision_end|>"}
        kwargs = dict(eos_token="<|im_end|>", pad_token="<|endoftext|>")
        template = QWEN3_CHAT_TEMPLATE if family == "qwen3vl" else QWEN_CHAT_TEMPLATE
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, extra_special_tokens=extra, chat_template=template,
                                   padding_side="left", **kwargs)
    if family == "llava15":  # LLaVA's Llama tokenizer prepends <s>
        from tokenizers import processors
        fast.backend_tokenizer.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", fast.convert_tokens_to_ids("<s>"))])
    return fast


def _text_kwargs(tokenizer) -> dict:
    return dict(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=TEXT_LAYERS,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=16384,
                pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                bos_token_id=tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id,
                tie_word_embeddings=False)


def _build_llava15(tokenizer):
    from transformers import (CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration,
                              LlavaProcessor)
    from transformers.models.llava.image_processing_pil_llava import LlavaImageProcessorPil

    config = LlavaConfig(
        vision_config=CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                       num_attention_heads=2, image_size=336, patch_size=14, projection_dim=32),
        text_config=LlamaConfig(**_text_kwargs(tokenizer)),
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_layer=-2, vision_feature_select_strategy="default", projector_hidden_act="gelu")
    model = LlavaForConditionalGeneration(config)
    image_processor = LlavaImageProcessorPil(size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336},
                                             do_pad=True)
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=14,
                               vision_feature_select_strategy="default", num_additional_image_tokens=1,
                               chat_template=LLAVA15_CHAT_TEMPLATE)
    return model, processor


def _build_llava_ov(tokenizer):
    from transformers import (LlavaOnevisionConfig, LlavaOnevisionForConditionalGeneration, Qwen2Config,
                              SiglipVisionConfig)
    from transformers.models.llava_onevision.image_processing_pil_llava_onevision import (
        LlavaOnevisionImageProcessorPil)

    from .processors import LlavaOnevisionImageOnlyProcessor

    config = LlavaOnevisionConfig(
        vision_config=SiglipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                         num_attention_heads=2, image_size=384, patch_size=14),
        text_config=Qwen2Config(**_text_kwargs(tokenizer)),
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        video_token_id=tokenizer.convert_tokens_to_ids("<video>"),
        vision_feature_layer=-1, vision_feature_select_strategy="full", vision_aspect_ratio="anyres_max_9")
    model = LlavaOnevisionForConditionalGeneration(config)
    image_processor = LlavaOnevisionImageProcessorPil(size={"height": 384, "width": 384},
                                                      image_grid_pinpoints=config.image_grid_pinpoints)
    processor = LlavaOnevisionImageOnlyProcessor(
        image_processor=image_processor, tokenizer=tokenizer, num_image_tokens=729,
        vision_feature_select_strategy="full", chat_template=IM_CHAT_TEMPLATE, vision_aspect_ratio="anyres_max_9")
    return model, processor


def _qwen_vision_marker_ids(tokenizer) -> dict:
    """The Qwen-VL family's image/video pad and vision start/end token ids (Qwen2.5-VL, Qwen3-VL, OneVision-1.5)."""
    names = {"image_token_id": "<|image_pad|>", "video_token_id": "<|video_pad|>",
             "vision_start_token_id": "<|vision_start|>", "vision_end_token_id": "<|vision_end|>"}
    return {key: tokenizer.convert_tokens_to_ids(token) for key, token in names.items()}


def _build_qwen25vl(tokenizer):
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from .processors import Qwen2_5_VLImageOnlyProcessor

    text = _text_kwargs(tokenizer)
    # mrope_section must sum to head_dim / 2 = 64 / 4 / 2 = 8
    text["rope_parameters"] = {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [2, 3, 3]}
    config = Qwen2_5_VLConfig(
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112,
                           fullatt_block_indexes=[1]),
        text_config=text,
        **_qwen_vision_marker_ids(tokenizer))
    model = Qwen2_5_VLForConditionalGeneration(config)
    # the tiny default keeps at most 1024 merged tokens; real configs set their own limits in conf/model
    image_processor = Qwen2VLImageProcessorPil(size={"shortest_edge": 56 * 56, "longest_edge": 1024 * 28 * 28})
    processor = Qwen2_5_VLImageOnlyProcessor(image_processor=image_processor, tokenizer=tokenizer,
                                             chat_template=QWEN_CHAT_TEMPLATE)
    return model, processor


def _build_qwen3vl(tokenizer):
    """Qwen3-VL: 16-px patches, 2×2 merge, 2-frame temporal patches, learned 48×48 position grid, DeepStack mergers
    after vision blocks 0 and 1 (added after decoder layers 0 and 1), interleaved M-RoPE."""
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from .processors import Qwen3VLImageOnlyProcessor

    text = _text_kwargs(tokenizer)
    text["head_dim"] = 16
    # mrope_section must sum to head_dim / 2 = 8
    text["rope_parameters"] = {"rope_type": "default", "rope_theta": 5000000.0, "mrope_section": [2, 3, 3],
                               "mrope_interleaved": True}
    config = Qwen3VLConfig(
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64,
                           patch_size=16, spatial_merge_size=2, temporal_patch_size=2, num_position_embeddings=2304,
                           deepstack_visual_indexes=[0, 1]),
        text_config=text,
        **_qwen_vision_marker_ids(tokenizer))
    model = Qwen3VLForConditionalGeneration(config)
    # the hub processor's geometry (16-px patches, merge 2, at least 256² px, mean/std 0.5); the tiny default keeps
    # at most 1024 merged tokens, real configs set their own limit in conf/model
    image_processor = Qwen2VLImageProcessorPil(size={"shortest_edge": 65536, "longest_edge": 1024 * 32 * 32},
                                               patch_size=16, merge_size=2, temporal_patch_size=2,
                                               image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])
    processor = Qwen3VLImageOnlyProcessor(image_processor=image_processor, tokenizer=tokenizer,
                                          chat_template=QWEN3_CHAT_TEMPLATE)
    return model, processor


def _build_llava_ov15(tokenizer):
    """LLaVA-OneVision-1.5: RiceViT 14-px patches (one frame per patch: a 2-D patch embedding), 2×2 merge, a class
    token per image that is dropped before the merger, Qwen3 text model with 1-D positions."""
    from transformers import LlavaOnevision15Config, LlavaOnevision15ForConditionalGeneration, Qwen3Config
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from .processors import LlavaOnevision15ImageOnlyProcessor

    text = _text_kwargs(tokenizer)
    text["head_dim"] = 16
    config = LlavaOnevision15Config(
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64,
                           patch_size=14, spatial_merge_size=2),
        text_config=Qwen3Config(**text),
        **_qwen_vision_marker_ids(tokenizer))
    model = LlavaOnevision15ForConditionalGeneration(config)
    image_processor = Qwen2VLImageProcessorPil(size={"shortest_edge": 56 * 56, "longest_edge": 1024 * 28 * 28},
                                               patch_size=14, merge_size=2, temporal_patch_size=1)
    processor = LlavaOnevision15ImageOnlyProcessor(image_processor=image_processor, tokenizer=tokenizer,
                                                   chat_template=QWEN_CHAT_TEMPLATE)
    return model, processor


def _build_internvl(tokenizer):
    """InternVL3.5 (`InternVLForConditionalGeneration`, Qwen3 LLM): 448-px tiles of 14-px patches, pixel shuffle 0.5
    (16×16 tokens per tile), up to 12 tiles plus a thumbnail, as the -HF checkpoints' configs say."""
    from transformers import InternVLConfig, InternVLForConditionalGeneration, Qwen3Config
    from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import GotOcr2ImageProcessorPil
    from transformers.models.internvl.configuration_internvl import InternVLVisionConfig

    from .processors import InternVLImageOnlyProcessor

    config = InternVLConfig(
        vision_config=InternVLVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                           num_attention_heads=2, image_size=[448, 448], patch_size=[14, 14]),
        text_config=Qwen3Config(head_dim=16, **_text_kwargs(tokenizer)),
        image_token_id=tokenizer.convert_tokens_to_ids("<IMG_CONTEXT>"), downsample_ratio=0.5,
        vision_feature_layer=-1, vision_feature_select_strategy="default", tie_word_embeddings=False)
    model = InternVLForConditionalGeneration(config)
    image_processor = GotOcr2ImageProcessorPil(size={"height": 448, "width": 448}, crop_to_patches=True,
                                               min_patches=1, max_patches=12)
    processor = InternVLImageOnlyProcessor(image_processor=image_processor, tokenizer=tokenizer,
                                           image_seq_length=256, chat_template=INTERNVL_CHAT_TEMPLATE)
    return model, processor


_BUILDERS = {"llava15": _build_llava15, "llava_ov": _build_llava_ov, "qwen25vl": _build_qwen25vl,
             "qwen3vl": _build_qwen3vl, "llava_ov15": _build_llava_ov15, "internvl": _build_internvl}


def default_cache_dir() -> Path:
    return Path(os.environ.get("FOCUS_TINY_CACHE", Path.home() / ".cache" / "focus" / "tiny_models"))


def tiny_checkpoint_dir(family: str, cache_dir: str | os.PathLike | None = None, seed: int = 0) -> Path:
    """Where the tiny checkpoint of `family` is (or will be) saved."""
    return (Path(cache_dir) if cache_dir else default_cache_dir()) / f"tiny_{family}_seed{seed}"


def ensure_tiny_checkpoint(family: str, cache_dir: str | os.PathLike | None = None, seed: int = 0) -> Path:
    """Return the folder of the tiny checkpoint of `family`, building and saving it on first use.

    Deterministic: the same seed gives the same weights. The folder is written atomically (temporary folder, then
    rename) so that two processes starting at once never load a half-written checkpoint.
    """
    if family not in _BUILDERS:
        raise ValueError(f"unknown tiny model family {family!r}; choose one of {FAMILIES}")
    target = tiny_checkpoint_dir(family, cache_dir, seed)
    root = target.parent
    if (target / "config.json").exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    tokenizer = build_tokenizer(family)
    model, processor = _BUILDERS[family](tokenizer)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp_{family}_", dir=root))
    model.save_pretrained(tmp)
    processor.save_pretrained(tmp)
    try:
        os.replace(tmp, target)
    except OSError:  # another process won the race
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    return target
