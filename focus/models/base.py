"""The adapter interface and the code shared by the Hugging Face families (design section 5).

An adapter is the only code that knows a model family. It builds prompts with the family's chat template,
encodes images and text, runs the relevance pass and hands back per-layer features with the visual-token grid and
its `GridLayout`, computes batched yes/no logits (left padding), generates, and scores options. Family files
(`llava15.py`, `llava_ov.py`, `qwen25vl.py`) implement only the token geometry (`layout`, `visual_grid_positions`)
and their processor settings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from .. import FocusError
from ..geometry import GridLayout
from ..hub import unavailable

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "auto": "auto"}


@dataclass
class FeaturePass:
    """What one relevance forward pass hands to `object_relevance`."""

    features: list[torch.Tensor]  # per decoder layer, [kv_heads, N, head_dim]
    target_positions: list[int]  # token indices of the target words (offset mapping, never id search)
    visual_positions: torch.Tensor  # [rows*cols] token indices of the grid, row-major
    layout: GridLayout
    input_ids: torch.Tensor  # [N]


class VisionLanguageAdapter:
    """Interface used by every FOCUS component. Subclasses: one per model family."""

    family: str = ""
    multi_image: bool = False  # global-local models answer on several images (App. A.5)
    local_grid: bool = False  # relevance comes from the local-crop grid (smoothing applies, Sec. 3.2)
    base_resolution: int = 336
    num_layers: int = 0
    calls: int = 0  # actual model invocations (forward or generate), for the `calls` record field

    def layout(self, image: Image.Image) -> GridLayout:
        raise NotImplementedError

    def relevance_pass(self, image, prompt: str, target: str, capture: str = "values") -> FeaturePass:
        raise NotImplementedError

    def yes_no_logits(self, images: list[Image.Image], prompts: list[str]) -> torch.Tensor:
        raise NotImplementedError

    def generate(self, images: list[Image.Image], text: str, max_new_tokens: int = 16) -> str:
        raise NotImplementedError

    def score_options(self, images: list[Image.Image], text: str, options: list[str]) -> list[float]:
        raise NotImplementedError


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class HFAdapter(VisionLanguageAdapter):
    """Shared transformers code: loading, chat templates, target-token offsets, KV-cache features, batching."""

    processor_cls = None  # set by the family
    tiny_family: str | None = None

    def __init__(self, path: str | None = None, tiny: bool = False, tiny_cache_dir: str | None = None,
                 torch_dtype: str = "float32", attn_implementation: str = "sdpa", device: str = "auto",
                 min_crop: int | None = None, max_new_tokens: int = 16, **processor_overrides):
        from transformers import AutoModelForImageTextToText

        if tiny:
            from .tiny import ensure_tiny_checkpoint
            path = str(ensure_tiny_checkpoint(self.tiny_family, tiny_cache_dir))
        if not path:
            raise FocusError(f"model.path is empty for the {self.family} adapter")
        if torch_dtype not in DTYPES:
            raise FocusError(f"model.torch_dtype must be one of {sorted(DTYPES)}, got {torch_dtype!r}")
        if attn_implementation == "flash_attention_2":
            try:
                import flash_attn  # noqa: F401
            except ImportError as exc:
                raise FocusError("model.attn_implementation=flash_attention_2 needs the `gpu` extra "
                                 "(pip install -e '.[gpu]') on a CUDA machine") from exc
        self.path = path
        self.device = resolve_device(device)
        self.max_new_tokens = max_new_tokens
        if min_crop:
            self.base_resolution = int(min_crop)
        try:
            self.processor = self.processor_cls.from_pretrained(path)
            self.model = AutoModelForImageTextToText.from_pretrained(
                path, dtype=DTYPES[torch_dtype], attn_implementation=attn_implementation)
        except (OSError, ValueError) as exc:  # not cached / offline / not a repo id nor a folder
            raise FocusError(unavailable(path)) from exc
        self.model.to(self.device).eval()
        self.tokenizer = self.processor.tokenizer
        self.tokenizer.padding_side = "left"
        self.configure_processor(**processor_overrides)
        self.num_layers = self.model.config.text_config.num_hidden_layers
        self.image_token = self.processor.image_token
        self.image_token_id = self.model.config.image_token_id
        self.yes_id, self.no_id = self._single_token("Yes"), self._single_token("No")

    # ----------------------------------------------------------------------------------------- family hooks
    def configure_processor(self, **overrides) -> None:
        if overrides:
            raise FocusError(f"unknown model options for {self.family}: {sorted(overrides)}")

    def visual_grid_positions(self, input_ids: torch.Tensor, inputs, image) -> tuple[torch.Tensor, GridLayout]:
        raise NotImplementedError

    # ------------------------------------------------------------------------------------------------ helpers
    def _single_token(self, word: str) -> int:
        ids = self.tokenizer.encode(word, add_special_tokens=False)
        if len(ids) != 1:
            raise FocusError(f"{word!r} is not a single token for {self.path} ({ids}); the existence confidence "
                             f"(Eq. 5) needs single-token Yes/No")
        return ids[0]

    def chat(self, n_images: int, text: str) -> str:
        content = [{"type": "image"} for _ in range(n_images)] + [{"type": "text", "text": text}]
        return self.processor.apply_chat_template([{"role": "user", "content": content}],
                                                  add_generation_prompt=True, tokenize=False)

    def encode(self, images: list, texts: list[str]):
        kwargs = {"images": images} if images else {}
        inputs = self.processor(text=texts, padding=True, return_tensors="pt", **kwargs)
        return inputs.to(self.device)

    def _forward(self, inputs, **kwargs):
        self.calls += 1
        with torch.inference_mode():
            return self.model(**inputs, **kwargs)

    def target_token_positions(self, prompt_text: str, span: tuple[int, int], input_ids: torch.Tensor) -> list[int]:
        """Tokens whose character offsets fall inside `span` of `prompt_text` (before image-token expansion).

        The processor expands each image placeholder into n copies; we expand the text the same way, tokenize it
        with offsets, check the ids equal the processor's, and shift the span by the added characters.
        """
        ids = input_ids.tolist()
        n_img = sum(1 for t in ids if t == self.image_token_id)
        n_placeholders = prompt_text.count(self.image_token)
        if n_placeholders:
            per = n_img // n_placeholders
            before = prompt_text[:span[0]].count(self.image_token)
            expanded = prompt_text.replace(self.image_token, self.image_token * per)
            shift = before * (per - 1) * len(self.image_token)
        else:
            expanded, shift = prompt_text, 0
        start, end = span[0] + shift, span[1] + shift
        for add_special in (True, False):
            enc = self.tokenizer(expanded, return_offsets_mapping=True, add_special_tokens=add_special)
            if enc["input_ids"] == ids:
                break
        else:
            raise FocusError("cannot align the tokenizer's offsets with the processor's input ids")
        positions = [i for i, (s, e) in enumerate(enc["offset_mapping"]) if e > s and s < end and e > start]
        if not positions:
            raise FocusError(f"no token covers the target span {span} of the prompt")
        return positions

    # ----------------------------------------------------------------------------------------------- interface
    def relevance_pass(self, image, prompt: str, target: str, capture: str = "values") -> FeaturePass:
        question = prompt.format(target=target)
        text = self.chat(1, question)
        q_at = text.rindex(question)
        t_at = q_at + prompt.index("{target}")
        inputs = self.encode([image], [text])
        input_ids = inputs["input_ids"][0]
        target_positions = self.target_token_positions(text, (t_at, t_at + len(target)), input_ids)
        visual_positions, layout = self.visual_grid_positions(input_ids, inputs, image)

        hooks, captured = [], []
        if capture == "keys_norope":  # keys before RoPE: the k_proj output (the cache holds post-RoPE keys)
            for layer in self.model.model.language_model.layers:
                hooks.append(layer.self_attn.k_proj.register_forward_hook(
                    lambda _m, _i, out: captured.append(out[0].detach())))
        try:
            out = self._forward(inputs, use_cache=True, logits_to_keep=1)
        finally:
            for h in hooks:
                h.remove()
        cache = out.past_key_values
        if capture == "values":
            feats = [layer.values[0] for layer in cache.layers]  # [kv_heads, N, head_dim]
        elif capture == "keys":
            feats = [layer.keys[0] for layer in cache.layers]
        elif capture == "keys_norope":
            kv_heads, head_dim = cache.layers[0].keys.shape[1], cache.layers[0].keys.shape[3]
            feats = [k.reshape(k.shape[0], kv_heads, head_dim).transpose(0, 1) for k in captured]
        else:
            raise ValueError(f"unknown feature kind {capture!r}")
        return FeaturePass([f.float().cpu() for f in feats], target_positions, visual_positions.cpu(), layout,
                           input_ids.cpu())

    def yes_no_logits(self, images: list, prompts: list[str]) -> torch.Tensor:
        """[B, 2] last-position logits of (Yes, No) for each (image, prompt), in ONE batched forward."""
        inputs = self.encode(images, [self.chat(1, p) for p in prompts])
        logits = self._forward(inputs, logits_to_keep=1).logits[:, -1, :]
        return logits[:, [self.yes_id, self.no_id]].float().cpu()

    def generate(self, images: list, text: str, max_new_tokens: int | None = None) -> str:
        inputs = self.encode(images, [self.chat(len(images), text)])
        self.calls += 1
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=max_new_tokens or self.max_new_tokens,
                                      do_sample=False, pad_token_id=self.tokenizer.pad_token_id)
        return self.tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()

    def score_options(self, images: list, text: str, options: list[str]) -> list[float]:
        """Mean token negative log-likelihood of each option as the answer (logits matching, design 4.5);
        one forward per option."""
        prompt = self.chat(len(images), text)
        n_prompt = self.encode(images, [prompt])["input_ids"].shape[1]
        losses = []
        for option in options:
            inputs = self.encode(images, [prompt + option])
            logits = self._forward(inputs).logits[0, n_prompt - 1:-1].float()
            labels = inputs["input_ids"][0, n_prompt:]
            losses.append(float(torch.nn.functional.cross_entropy(logits, labels)))
        return losses

    # -------------------------------------------------------------- for the baselines (ZoomEye, ViCrop; README)
    def yes_no_logits_interleaved(self, contents: list[list]) -> torch.Tensor:
        """[B, 2] last-position logits of (Yes, No) for prompts whose images and texts interleave, in ONE batched
        forward. Each content is a list of PIL images and strings in prompt order, e.g. ZoomEye's
        [main image, "This is the main image ...", zoomed view, "This is the zoomed-in view ... Is there a cat ..."].
        The images go to the processor as one flat list, as in `encode`, so each is processed as on its own
        (LLaVA-OneVision: every image with its anyres tiles, as `generate` with several images).
        """
        texts, images = [], []
        for content in contents:
            items = [{"type": "image"} if isinstance(x, Image.Image) else {"type": "text", "text": x} for x in content]
            texts.append(self.processor.apply_chat_template([{"role": "user", "content": items}],
                                                            add_generation_prompt=True, tokenize=False))
            images += [x for x in content if isinstance(x, Image.Image)]
        inputs = self.encode(images, texts)
        return self._forward(inputs, logits_to_keep=1).logits[:, -1, [self.yes_id, self.no_id]].float().cpu()

    def last_token_attention(self, image, text: str, layer: int, gradient: bool = False) -> "AttentionPass":
        """The attention of the prompt's LAST token to the visual grid at decoder `layer` (0-based), per head, for
        ViCrop's maps (rel-att; with `gradient`, also d loss / d attention for grad-att, where loss is minus the
        cross-entropy of the last-position logits against their own argmax).

        Only `layer` changes, and only for this pass: its attention runs through `last_row_eager_attention`, which
        keeps the model's implementation (sdpa, flash-attention) for every row and recomputes the last query row
        with the family's eager code, so that row's weights exist ([heads, 1, N], never [heads, N, N]) and carry
        gradients. The grid tokens and their layout come from `visual_grid_positions` (family geometry).
        """
        import copy

        from transformers import AttentionInterface

        AttentionInterface.register(LAST_ROW_ATTENTION, last_row_eager_attention)
        inputs = self.encode([image], [self.chat(1, text)])
        positions, layout = self.visual_grid_positions(inputs["input_ids"][0], inputs, image)
        attn = self.model.model.language_model.layers[layer].self_attn
        original = attn.config
        patched = copy.copy(original)
        patched.focus_inner_attention = original._attn_implementation
        patched._attn_implementation_internal = LAST_ROW_ATTENTION
        captured: list[torch.Tensor] = []
        hook = attn.register_forward_hook(lambda _m, _i, out: captured.append(out[1]))
        attn.config = patched
        try:
            if gradient:
                self.calls += 1
                with torch.enable_grad():
                    logits = self.model(**inputs, logits_to_keep=1).logits[:, -1, :].float()  # [1, vocab]
                    loss = -torch.nn.functional.cross_entropy(logits, logits.argmax(dim=-1))
                    grad = torch.autograd.grad(loss, captured[0])[0]  # [1, heads, 1, N]
                grad_rows = grad[0, :, -1, positions.to(grad.device)].float().cpu()  # [heads, rows*cols]
            else:
                self._forward(inputs, logits_to_keep=1)
                grad_rows = None
        finally:
            attn.config = original
            hook.remove()
        attention = captured[0][0, :, -1, positions.to(captured[0].device)].detach().float().cpu()  # [heads, rows*cols]
        return AttentionPass(attention, grad_rows, layout)


def image_token_positions(input_ids: torch.Tensor, image_token_id: int) -> torch.Tensor:
    return torch.nonzero(input_ids == image_token_id, as_tuple=False).reshape(-1)


def check_count(found: int, expected: int, what: str) -> None:
    if found != expected:
        raise FocusError(f"token geometry mismatch: the processor emitted {found} image tokens, the {what} layout "
                         f"expects {expected}")


def load_image(path: str | Path) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGB")


@dataclass
class AttentionPass:
    """What `last_token_attention` hands to ViCrop: the last token's attention to the grid tokens (row-major)."""

    attention: torch.Tensor  # [heads, rows*cols]
    gradient: torch.Tensor | None  # [heads, rows*cols], d loss / d attention (grad-att), or None
    layout: GridLayout


LAST_ROW_ATTENTION = "focus_last_row_eager"


def last_row_eager_attention(module, query, key, value, attention_mask, **kwargs):
    """An attention function (transformers' AttentionInterface) for the one layer whose weights ViCrop reads.

    The layer's own implementation (`module.config.focus_inner_attention`: sdpa, flash-attention, eager) computes
    every row; the last query row is recomputed by the family's `eager_attention_forward` and replaces it, so its
    weights exist and the loss depends on them exactly as in a fully eager model (row i of the attention matrix
    only feeds output row i). query: [batch, heads, N, head_dim]; returns ([batch, N, heads, head_dim],
    weights [batch, heads, 1, N]).
    """
    import sys

    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    family_eager = sys.modules[type(module).__module__].eager_attention_forward
    inner = ALL_ATTENTION_FUNCTIONS.get_interface(module.config.focus_inner_attention, family_eager)
    every_row = inner(module, query, key, value, attention_mask, **kwargs)[0]
    mask = None
    if attention_mask is not None:  # the last row of a 4-D mask, or a [batch, N] key mask (flash-attention)
        mask = attention_mask[:, :, -1:, :] if attention_mask.dim() == 4 else attention_mask[:, None, None, :]
        if not mask.is_floating_point():  # boolean "attend" mask → additive
            mask = torch.zeros(mask.shape, dtype=query.dtype, device=query.device).masked_fill(
                ~mask.bool(), torch.finfo(query.dtype).min)
    last_row, weights = family_eager(module, query[:, :, -1:], key, value, mask, **kwargs)
    return torch.cat([every_row[:, :-1], last_row], dim=1), weights
