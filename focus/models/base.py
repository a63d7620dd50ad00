"""The adapter interface and the code shared by the Hugging Face families (design section 5).

An adapter is the only code that knows a model family. It builds prompts with the family's chat template,
encodes images and text, runs the relevance passes (the image prefix shared across targets, stopped after the last
layer needed; README "Cost per question") and hands back per-layer features with the visual-token grid and
its `GridLayout`, computes batched yes/no logits (left padding), generates, and scores options. Family files
(`llava15.py`, `llava_ov.py`, `qwen25vl.py`, `qwen3vl.py`, `llava_ov15.py`) implement only the token geometry
(`layout`, `visual_grid_positions`) and their processor settings. The decoder cache goes to the model as `cache=`
(transformers 5.x; `past_key_values=` is deprecated and removed in 5.40).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from .. import FocusError
from ..core.cost import CostMeter
from ..core.geometry import GridLayout
from ..core.hub import load_failure
from .attention import LAST_ROW_ATTENTION, AttentionPass, last_row_eager_attention
from .processors import ImageCache

log = logging.getLogger(__name__)

ENCODE_OPTIONS = {"padding": True, "return_tensors": "pt"}  # every processor call (`encode`, `prepare`)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "auto": "auto"}


@dataclass
class FeaturePass:
    """What one relevance forward pass hands to `object_relevance`."""

    features: list  # per decoder layer run (all, or [0, n_layers)): [kv_heads, N, head_dim], or None for a layer
    # whose cache holds no per-token features of the whole prompt (focus/models/cache_layers.py)
    target_positions: list[int]  # token indices of the target words (offset mapping, never id search)
    visual_positions: torch.Tensor  # [rows*cols] token indices of the grid, row-major
    layout: GridLayout
    input_ids: torch.Tensor  # [N]
    layers: list[int] | None = None  # the decoder layers whose features were read (None: every entry of features)

    def read_layers(self) -> list[int]:
        """The decoder layers whose per-token features this pass holds."""
        if self.layers is not None:
            return list(self.layers)
        return [i for i, f in enumerate(self.features) if f is not None]


class VisionLanguageAdapter:
    """Interface used by every FOCUS component. Subclasses: one per model family."""

    family: str = ""
    multi_image: bool = False  # global-local models answer on several images (App. A.5)
    local_grid: bool = False  # relevance comes from the local-crop grid (smoothing applies, Sec. 3.2)
    base_resolution: int = 336
    num_layers: int = 0
    calls: int = 0  # actual model invocations (forward or generate), for the `calls` record field
    shared_option_prefix: bool = True  # score_options runs the prompt once (False: one forward per option)

    def begin_sample(self) -> None:
        """Called before each sample: per-question caches (processed images) are dropped."""

    def prepare(self, image: Image.Image) -> None:
        """Called with the sample's image as soon as it is loaded, before the method runs: its processing may start
        in the background. Cost only."""

    def layout(self, image: Image.Image) -> GridLayout:
        raise NotImplementedError

    def relevance_pass(self, image, prompt: str, target: str, capture: str = "values") -> FeaturePass:
        raise NotImplementedError

    def relevance_passes(self, image, prompt: str, targets: list[str], capture: str = "values",
                         n_layers: int | None = None, reuse_prefix: bool = True) -> list[FeaturePass]:
        """One FeaturePass per target on the same image. `n_layers`: only decoder layers [0, n_layers) are needed;
        `reuse_prefix`: the image prefix may be computed once for all targets. Adapters that cannot do either
        run one `relevance_pass` per target (all layers)."""
        return [self.relevance_pass(image, prompt, t, capture=capture) for t in targets]

    def yes_no_logits(self, images: list[Image.Image], prompts: list[str]) -> torch.Tensor:
        raise NotImplementedError

    def generate(self, images: list[Image.Image], text: str, max_new_tokens: int = 16) -> str:
        raise NotImplementedError

    def score_options(self, images: list[Image.Image], text: str, options: list[str]) -> list[float]:
        raise NotImplementedError


class StopForward(Exception):
    """Raised by a forward hook after the last decoder layer a relevance pass needs (early stop)."""


def _stop_forward(_module, _inputs, _output):
    raise StopForward


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class HFAdapter(VisionLanguageAdapter):
    """Shared transformers code: loading, chat templates, target-token offsets, KV-cache features, batching."""

    processor_cls = None  # set by the family
    pads_patches = False  # the image processor zero-pads each image's patches to the batch's most (`ImageCache`)
    tiny_family: str | None = None

    def __init__(self, path: str | None = None, tiny: bool = False, tiny_cache_dir: str | None = None,
                 torch_dtype: str = "float32", attn_implementation: str = "sdpa", device: str = "auto",
                 min_crop: int | None = None, max_new_tokens: int = 16, model=None, preprocess_threads: int = 1,
                 **processor_overrides):
        """`model`: an already-built model of this family (benchmarks/real_size.py builds real-size models with
        random weights on the device); the processor still comes from `path` (or the tiny checkpoint).
        `preprocess_threads`: background threads of the image processing (`ImageCache`); 0 = none."""
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
        self.device = resolve_device(device) if model is None else str(model.device)
        self.max_new_tokens = max_new_tokens
        if min_crop:
            self.base_resolution = int(min_crop)
        try:
            self.processor = self.processor_cls.from_pretrained(path)
            self.model = model if model is not None else AutoModelForImageTextToText.from_pretrained(
                path, dtype=DTYPES[torch_dtype], attn_implementation=attn_implementation, trust_remote_code=False)
        except (OSError, ValueError) as exc:  # not cached / offline / not a repo id nor a folder / not native
            raise FocusError(load_failure(path, exc)) from exc
        if model is None:
            self.model.to(self.device)
        self.model.eval()
        self.cost = CostMeter(torch.cuda.synchronize if self.device.startswith("cuda") else None)
        self.tokenizer = self.processor.tokenizer
        self.tokenizer.padding_side = "left"
        self.configure_processor(**processor_overrides)
        # each image through the processor once per question, off the model's thread where it can be
        self.image_cache = ImageCache(preprocess_threads, self.pads_patches).install(self.processor)
        self.num_layers = self.model.config.text_config.num_hidden_layers
        self.image_token = self.processor.image_token
        self.image_token_id = self.model.config.image_token_id
        self.yes_id, self.no_id = self._single_token("Yes"), self._single_token("No")

    def begin_sample(self) -> None:
        self.image_cache.clear()

    def prepare(self, image) -> None:
        """The whole image starts through the processor in the background (`ImageCache.ahead`) with the options
        `encode` will pass: every method processes it, and FOCUS's first stage, target extraction, is text only."""
        if image is not None and self.image_cache.enabled and self.image_cache.threads:
            self.image_cache.ahead([image], self.image_options())

    def image_options(self) -> dict:
        """The options `encode`'s processor call passes to the image processor (`_process_images`)."""
        return self.processor._merge_kwargs(tokenizer_init_kwargs=self.tokenizer.init_kwargs,
                                            **ENCODE_OPTIONS)["images_kwargs"]

    def fast_paths(self, enabled: bool) -> None:
        """Switch the per-question image cache, the fast image processing and the shared option prefix on or off
        together (off: the code path before them, for benchmarks/pipeline_cost.py's `before` variant)."""
        self.image_cache.enabled = self.shared_option_prefix = bool(enabled)
        setattr(self.processor.image_processor, "fast", bool(enabled))

    # ----------------------------------------------------------------------------------------- family hooks
    def configure_processor(self, **overrides) -> None:
        if overrides:
            raise FocusError(f"unknown model options for {self.family}: {sorted(overrides)}")

    def visual_grid_positions(self, input_ids: torch.Tensor, inputs, image) -> tuple[torch.Tensor, GridLayout]:
        raise NotImplementedError

    def expand_image(self, per_image: int) -> str:
        """The text the processor puts in place of one image placeholder that becomes `per_image` image tokens
        (InternVL wraps them in <img> ... </img>)."""
        return self.image_token * per_image

    def vision_images(self, inputs) -> int:
        """Images the vision tower encodes for `inputs` (the `vision_images` cost field): one per image here."""
        pixel_values = inputs.get("pixel_values")
        return 0 if pixel_values is None else len(pixel_values)

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
        with self.cost.preprocessing():
            inputs = self.processor(text=texts, **ENCODE_OPTIONS, **kwargs)
            return inputs.to(self.device)

    @contextmanager
    def _model_call(self, inputs):
        """Count one model invocation on `inputs` (the `calls` field and the cost meter: time, tokens, images)."""
        self.calls += 1
        with self.cost.model_call(inputs["input_ids"].numel(), self.vision_images(inputs)):
            yield

    def _forward(self, inputs, **kwargs):
        with self._model_call(inputs), torch.inference_mode():
            return self.model(**inputs, **kwargs)

    def target_token_positions(self, prompt_text: str, span: tuple[int, int], input_ids: torch.Tensor) -> list[int]:
        """Tokens whose character offsets fall inside `span` of `prompt_text` (before image-token expansion).

        The processor expands each image placeholder into n copies; we expand the text the same way, tokenize it
        with offsets, check the ids equal the processor's, and shift the span by the added characters.
        """
        ids = input_ids.tolist()
        n_img = sum(1 for t in ids if t == self.image_token_id)
        n_placeholders = prompt_text.count(self.image_token)
        per = n_img // n_placeholders if n_placeholders else 1
        before = prompt_text[:span[0]].count(self.image_token)
        shift = before * (len(self.expand_image(per)) - len(self.image_token))
        start, end = span[0] + shift, span[1] + shift
        enc = self._expanded_encoding(prompt_text, per, ids)
        positions = [i for i, (s, e) in enumerate(enc["offset_mapping"]) if e > s and s < end and e > start]
        if not positions:
            raise FocusError(f"no token covers the target span {span} of the prompt")
        return positions

    def _expanded_encoding(self, prompt_text: str, per_image: int, like_ids: list[int]):
        """The tokenizer's encoding (with offsets) of `prompt_text` with each image placeholder expanded to
        `per_image` copies, as the processor expands it. The processor's special-token setting is the one whose
        first tokens agree with `like_ids` (its ids for this prompt, or for one sharing its image prefix)."""
        expanded = prompt_text.replace(self.image_token, self.expand_image(per_image))
        encodings = [self.tokenizer(expanded, return_offsets_mapping=True, add_special_tokens=add_special)
                     for add_special in (True, False)]
        for enc in encodings:
            if enc["input_ids"] == like_ids:
                return enc
        n_image = expanded.count(self.image_token)
        for enc in encodings:  # the same image prefix: the ids agree up to the last image token
            ids = enc["input_ids"]
            if self.image_token_id in ids:
                last = len(ids) - ids[::-1].index(self.image_token_id)
                if ids[:last] == like_ids[:last] and ids.count(self.image_token_id) == n_image:
                    return enc
        raise FocusError("cannot align the tokenizer's offsets with the processor's input ids")

    # ----------------------------------------------------------------------------------------------- interface
    def relevance_pass(self, image, prompt: str, target: str, capture: str = "values",
                       n_layers: int | None = None) -> FeaturePass:
        """One relevance forward pass (Sec. 3.2): the image and the existence prompt for `target`."""
        return self.relevance_passes(image, prompt, [target], capture, n_layers)[0]

    def relevance_passes(self, image, prompt: str, targets: list[str], capture: str = "values",
                         n_layers: int | None = None, reuse_prefix: bool = True) -> list[FeaturePass]:
        """The relevance passes of several targets on one image, each equal to a separate pass on
        (image, prompt with that target).

        n_layers: run decoder layers [0, n_layers) only and stop there (no later layer, no final norm, no LM head):
        a map over layers [l, L) needs n_layers = L. None: every layer, as a plain forward.
        reuse_prefix: the chat templates put the image before the question, so every token before the first one
        that differs between the targets' prompts (the image tokens and the text before and after them) has the
        same keys and values for all targets (causal attention). The first target's pass runs in full; its cache
        is cut back to that shared prefix, repeated, and the other targets' suffixes run in ONE batched forward
        (right-padded: a real token never attends to the padding after it). The image is processed and encoded
        once. False: one full pass per target.
        """
        prompts = [prompt.format(target=t) for t in targets]
        texts = [self.chat(1, q) for q in prompts]
        spans = []
        for text, question, target in zip(texts, prompts, targets):
            t_at = text.rindex(question) + prompt.index("{target}")
            spans.append((t_at, t_at + len(target)))
        if not reuse_prefix or len(targets) == 1:
            return [self._full_relevance_pass(image, text, span, capture, n_layers)[0]
                    for text, span in zip(texts, spans)]
        first, cache, captured = self._full_relevance_pass(image, texts[0], spans[0], capture, n_layers)
        ids0 = first.input_ids.tolist()
        per = ids0.count(self.image_token_id) // max(1, texts[0].count(self.image_token))
        others = [self._expanded_encoding(text, per, ids0)["input_ids"] for text in texts[1:]]
        shared = min(_common_prefix(ids0, ids) for ids in others)
        shared = min(shared, min(len(ids) for ids in [ids0, *others]) - 1)  # every suffix keeps a token
        if shared <= int(first.visual_positions.max()):  # the prompts differ inside the image: nothing to share
            return [first] + [self._full_relevance_pass(image, text, span, capture, n_layers)[0]
                              for text, span in zip(texts[1:], spans[1:])]
        cache.crop(shared - cache.get_seq_length())
        cache.batch_repeat_interleave(len(others))
        longest = max(len(ids) for ids in others) - shared
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        suffix = torch.full((len(others), longest), pad, dtype=torch.long)  # [T-1, S]
        for row, ids in enumerate(others):
            suffix[row, :len(ids) - shared] = torch.tensor(ids[shared:])
        _, suffix_captured = self._run_layers({"input_ids": suffix.to(self.device)}, capture, n_layers, cache)
        captured = [torch.cat([c[:1, :shared].expand(len(others), -1, -1), s], dim=1)  # keys_norope: prefix + suffix
                    for c, s in zip(captured, suffix_captured)]
        passes = [first]
        for row, (ids, text, span) in enumerate(zip(others, texts[1:], spans[1:])):
            input_ids = torch.tensor(ids)
            feats = self._layer_features(cache, captured, capture, row, len(ids))
            passes.append(FeaturePass(feats, self.target_token_positions(text, span, input_ids),
                                      first.visual_positions, first.layout, input_ids, _read(feats)))
        return passes

    def _full_relevance_pass(self, image, text: str, span: tuple[int, int], capture: str, n_layers: int | None):
        """(FeaturePass, cache, captured k_proj outputs) of one pass on (image, chat text)."""
        inputs = self.encode([image], [text])
        input_ids = inputs["input_ids"][0]
        target_positions = self.target_token_positions(text, span, input_ids)
        visual_positions, layout = self.visual_grid_positions(input_ids, inputs, image)
        cache, captured = self._run_layers(inputs, capture, n_layers)
        feats = self._layer_features(cache, captured, capture, 0, len(input_ids))
        return (FeaturePass(feats, target_positions, visual_positions.cpu(), layout, input_ids.cpu(), _read(feats)),
                cache, captured)

    def _run_layers(self, inputs, capture: str, n_layers: int | None, cache=None):
        """Forward `inputs` (after `cache`, if given) through decoder layers [0, n_layers) (None: the whole model).
        Returns the cache and, for `keys_norope`, the pre-RoPE keys of each layer run ([batch, S, kv_heads·D])."""
        from transformers import DynamicCache

        cache = cache if cache is not None else DynamicCache(config=self.model.config)
        layers = self.model.model.language_model.layers[:n_layers]
        hooks, captured = [], []
        if capture == "keys_norope":  # keys before RoPE: the k_proj output, after the per-head k_norm where the
            for layer in layers:       # family has one (Qwen3 LLMs); the cache holds post-RoPE keys
                key_module = getattr(layer.self_attn, "k_norm", None) or layer.self_attn.k_proj
                hooks.append(key_module.register_forward_hook(
                    lambda _m, _i, out: captured.append(out.detach().flatten(2))))  # [batch, S, kv_heads·D]
        if n_layers is not None:
            hooks.append(layers[-1].register_forward_hook(_stop_forward))
        try:
            self._forward(inputs, cache=cache, use_cache=True, logits_to_keep=1)
        except StopForward:
            pass
        finally:
            for h in hooks:
                h.remove()
        return cache, captured

    @staticmethod
    def _layer_features(cache, captured: list, capture: str, row: int, length: int) -> list[torch.Tensor]:
        """Per computed decoder layer, `[kv_heads, length, head_dim]` of batch row `row`, in the model's dtype on
        its device: the relevance map is computed there, in float32 (`object_relevance`), and only the map comes back
        to the CPU (no per-layer copy of the values). None for a layer whose cache does not hold every token (a
        sliding window that dropped the first ones, a linear-attention state): its features are not defined, and
        position t of a cropped cache is not token t."""
        computed = [layer for layer in cache.layers if getattr(layer, "is_initialized", False)]
        whole = [_holds_every_token(layer, length) for layer in computed]
        if capture == "values":
            feats = [layer.values[row, :, :length] if ok else None for layer, ok in zip(computed, whole)]
        elif capture == "keys":
            feats = [layer.keys[row, :, :length] if ok else None for layer, ok in zip(computed, whole)]
        elif capture == "keys_norope":
            kv_heads, head_dim = computed[0].keys.shape[1], computed[0].keys.shape[3]
            feats = [k[row, :length].reshape(length, kv_heads, head_dim).transpose(0, 1) for k in captured]
        else:
            raise ValueError(f"unknown feature kind {capture!r}")
        return feats

    def yes_no_logits(self, images: list, prompts: list[str]) -> torch.Tensor:
        """[B, 2] last-position logits of (Yes, No) for each (image, prompt), in ONE batched forward."""
        inputs = self.encode(images, [self.chat(1, p) for p in prompts])
        logits = self._forward(inputs, logits_to_keep=1).logits[:, -1, :]
        return logits[:, [self.yes_id, self.no_id]].float().cpu()

    def generate(self, images: list, text: str, max_new_tokens: int | None = None) -> str:
        inputs = self.encode(images, [self.chat(len(images), text)])
        with self._model_call(inputs), torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=max_new_tokens or self.max_new_tokens,
                                      do_sample=False, pad_token_id=self.tokenizer.pad_token_id)
        return self.tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()

    def score_options(self, images: list, text: str, options: list[str]) -> list[float]:
        """Mean token negative log-likelihood of each option as the answer (logits matching, design 4.5): the
        prompt once and the options' tokens in one batched forward (focus/models/options.py) when
        `shared_option_prefix`, else (or where an option's tokens merge with the prompt's) one forward per option."""
        prompt = self.chat(len(images), text)
        if self.shared_option_prefix:
            from .options import score_options_shared_prefix
            losses = score_options_shared_prefix(self, images, prompt, options)
            if losses is not None:
                return losses
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
                with self._model_call(inputs), torch.enable_grad():
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


def _holds_every_token(layer, length: int) -> bool:
    """A cache layer holds per-token keys/values of all `length` tokens (not a window, not a recurrent state)."""
    values = getattr(layer, "values", None)
    return isinstance(values, torch.Tensor) and values.dim() == 4 and values.shape[-2] >= length


def _read(feats: list) -> list[int]:
    return [i for i, f in enumerate(feats) if f is not None]


def _common_prefix(a: list[int], b: list[int]) -> int:
    """Length of the longest common prefix of two id lists."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n
