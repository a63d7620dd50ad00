"""The demo model's architecture, tokenizer and processor: a small `LlavaForConditionalGeneration`.

LLaVA-1.5's token geometry rules at a CPU-trainable size: the image is padded to a square with the mean colour and
resized to 96 px; a CLIP vision tower with 8-px patches gives a 12×12 grid, one visual token per patch (the CLS token
is dropped by the `default` feature strategy, as in LLaVA-1.5), projected by LLaVA's two-layer MLP into a 4-layer Llama
language model. The tokenizer is word-level over exactly the words of the prompts the framework sends (chat
template, existence prompt, V*-style questions, ICL target extraction), so "Yes" and "No" are single tokens.
"""

from __future__ import annotations

import itertools

from ..data.base import build_prompt
from ..data.demo_scenes import COLOURS, SHAPES, SUFFIX
from ..models.tiny import LLAVA15_CHAT_TEMPLATE
from ..stages.targets import ANSWER_LEAD, DEFAULT_EXAMPLES, build_icl_prompt

IMAGE_SIZE, PATCH_SIZE = 96, 8  # 12 × 12 visual tokens
SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>", "<image>"]
EXISTENCE_PROMPT = "Is there a {target} in the image? Answer Yes or No."
ALIGNMENT_WORDS = ["object", "background"]  # stage-1 targets: colour + shape + "object", or "background"


def attribute_question(colour: str) -> str:
    return f"What is the shape of the {colour} object?"


def spatial_question(first: str, second: str) -> str:
    return f"Is the {first} object on the left or right side of the {second} object?"


def target_answer(targets: list[str]) -> str:
    """The ICL answer sentence (focus.stages.targets) for these targets."""
    return f"{ANSWER_LEAD} {' and '.join(targets)}."


def corpus() -> list[str]:
    """Every kind of text the framework sends to the demo model, and every answer it is trained to give."""
    colours = sorted(COLOURS)
    texts = ["USER: ASSISTANT:", EXISTENCE_PROMPT, SUFFIX, " ".join(ALIGNMENT_WORDS),
             "Yes No left right " + " ".join(SHAPES) + " A B C D E"]
    for c in colours:
        texts.append(EXISTENCE_PROMPT.format(target=f"{c} object"))
        texts.append(build_prompt(attribute_question(c), list(SHAPES), SUFFIX))
        texts.append(build_icl_prompt(attribute_question(c)) + target_answer([f"{c} object"]))
    for a, b in itertools.permutations(colours[:3], 2):
        texts.append(build_prompt(spatial_question(a, b), ["left", "right"], SUFFIX))
    texts += [f"{q} {ANSWER_LEAD} {' and '.join(objs)}." for q, objs in DEFAULT_EXAMPLES]
    return texts


def build_tokenizer():
    """Word-level tokenizer over `corpus()` (whitespace/punctuation split; decoding rejoins punctuation)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    pre = pre_tokenizers.Whitespace()
    words = dict.fromkeys(w for text in corpus() for w, _ in pre.pre_tokenize_str(text.replace("<image>", " ")))
    vocab = {w: i for i, w in enumerate(SPECIAL_TOKENS + [w for w in words if w not in SPECIAL_TOKENS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token="<pad>", extra_special_tokens={"image_token": "<image>"},
                                   chat_template=LLAVA15_CHAT_TEMPLATE, padding_side="left")
    fast.backend_tokenizer.post_processor = processors.TemplateProcessing(  # LLaVA's Llama tokenizer prepends <s>
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", fast.convert_tokens_to_ids("<s>"))])
    return fast


def build_model_and_processor(tokenizer=None, seed: int = 0, rope_theta: float = 1e6):
    """A freshly initialised demo model (seeded) and its processor."""
    import torch
    from transformers import (CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration,
                              LlavaProcessor)
    from transformers.models.llava.image_processing_pil_llava import LlavaImageProcessorPil

    tokenizer = tokenizer or build_tokenizer()
    torch.manual_seed(seed)
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(hidden_size=128, intermediate_size=256, num_hidden_layers=4,
                                       num_attention_heads=4, image_size=IMAGE_SIZE, patch_size=PATCH_SIZE,
                                       projection_dim=128),
        text_config=LlamaConfig(vocab_size=len(tokenizer), hidden_size=128, intermediate_size=384, num_hidden_layers=4,
                                num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=1024,
                                # slow rotations keep content similarity between a question word and image
                                # tokens ~150 positions earlier (Qwen2's value; Llama's 1e4 scrambles most pairs)
                                rope_parameters={"rope_type": "default", "rope_theta": rope_theta},
                                pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                                eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=False),
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_layer=-2, vision_feature_select_strategy="default", projector_hidden_act="gelu")
    model = LlavaForConditionalGeneration(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    image_processor = LlavaImageProcessorPil(size={"shortest_edge": IMAGE_SIZE},
                                             crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}, do_pad=True)
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=PATCH_SIZE,
                               vision_feature_select_strategy="default", num_additional_image_tokens=1,
                               chat_template=LLAVA15_CHAT_TEMPLATE)
    return model, processor
