"""Image-only processors for LLaVA-OneVision, Qwen2.5-VL, Qwen3-VL, LLaVA-OneVision-1.5 and InternVL, and
processor/model agreement (design section 5).

The stock processors of these families declare a video processor, and transformers can only build that one with
torchvision installed. CPU machines have no torchvision (its wheel needs CUDA torch), so these subclasses drop the
video processor and list every other constructor argument explicitly: `save_pretrained` stores only the arguments
it can see in the signature, and a `**kwargs` catch-all would silently lose e.g. `num_image_tokens`.
"""

from __future__ import annotations

import logging
import time
from functools import lru_cache

import torch
from PIL import Image
from transformers import AutoProcessor
from transformers.models.internvl.configuration_internvl import InternVLConfig
from transformers.models.internvl.processing_internvl import InternVLProcessor
from transformers.models.llava.image_processing_pil_llava import LlavaImageProcessorPil
from transformers.models.llava_onevision.configuration_llava_onevision import LlavaOnevisionConfig
from transformers.models.llava_onevision.processing_llava_onevision import LlavaOnevisionProcessor
from transformers.models.qwen2_5_vl.configuration_qwen2_5_vl import Qwen2_5_VLConfig
from transformers.models.qwen2_5_vl.processing_qwen2_5_vl import Qwen2_5_VLProcessor
from transformers.models.qwen3_vl.configuration_qwen3_vl import Qwen3VLConfig
from transformers.models.qwen3_vl.processing_qwen3_vl import Qwen3VLProcessor
from transformers.models.llava_onevision1_5.configuration_llava_onevision1_5 import LlavaOnevision15Config
from transformers.models.exaone4_5.processing_exaone4_5 import Exaone4_5_Processor

log = logging.getLogger(__name__)


class LlavaOnevisionImageOnlyProcessor(LlavaOnevisionProcessor):
    """`LlavaOnevisionProcessor` without the video processor (no torchvision needed)."""

    def __init__(
        self,
        image_processor=None,
        tokenizer=None,
        num_image_tokens=None,
        vision_feature_select_strategy=None,
        chat_template=None,
        image_token="<image>",
        video_token="<video>",
        vision_aspect_ratio="anyres_max_9",
    ):
        super().__init__(
            image_processor=image_processor,
            tokenizer=tokenizer,
            video_processor=None,
            num_image_tokens=num_image_tokens,
            vision_feature_select_strategy=vision_feature_select_strategy,
            chat_template=chat_template,
            image_token=image_token,
            video_token=video_token,
            vision_aspect_ratio=vision_aspect_ratio,
        )


class Qwen2_5_VLImageOnlyProcessor(Qwen2_5_VLProcessor):
    """`Qwen2_5_VLProcessor` without the video processor (no torchvision needed)."""

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None):
        super().__init__(image_processor=image_processor, tokenizer=tokenizer, video_processor=None,
                         chat_template=chat_template)


class Qwen3VLImageOnlyProcessor(Qwen3VLProcessor):
    """`Qwen3VLProcessor` without the video processor (no torchvision needed)."""

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None):
        super().__init__(image_processor=image_processor, tokenizer=tokenizer, video_processor=None,
                         chat_template=chat_template)


class LlavaOnevision15ImageOnlyProcessor(Exaone4_5_Processor):
    """The processor transformers pairs with LLaVA-OneVision-1.5 (`processing_auto` maps `llava_onevision1_5` to
    `Exaone4_5_Processor`: a Qwen2-VL image processor, one `<|image_pad|>` per merged 2×2 patch block) without the
    video processor. It returns no `mm_token_type_ids`: the model uses plain 1-D text positions."""

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None):
        super().__init__(image_processor=image_processor, tokenizer=tokenizer, video_processor=None,
                         chat_template=chat_template)
class InternVLImageOnlyProcessor(InternVLProcessor):
    """`InternVLProcessor` without the video processor (no torchvision needed)."""

    def __init__(self, image_processor=None, tokenizer=None, image_seq_length: int = 256, chat_template=None):
        super().__init__(image_processor=image_processor, tokenizer=tokenizer, video_processor=None,
                         image_seq_length=image_seq_length, chat_template=chat_template)


def register_image_only_processors() -> None:
    """Make `AutoProcessor.from_pretrained` return the image-only subclasses for tiny checkpoints saved by us."""
    for config_cls, proc_cls in ((LlavaOnevisionConfig, LlavaOnevisionImageOnlyProcessor),
                                 (Qwen2_5_VLConfig, Qwen2_5_VLImageOnlyProcessor),
                                 (Qwen3VLConfig, Qwen3VLImageOnlyProcessor),
                                 (LlavaOnevision15Config, LlavaOnevision15ImageOnlyProcessor),
                                 (InternVLConfig, InternVLImageOnlyProcessor)):
        try:
            AutoProcessor.register(config_cls, proc_cls, exist_ok=True)
        except TypeError:  # older signature without exist_ok
            try:
                AutoProcessor.register(config_cls, proc_cls)
            except ValueError:
                pass


def align_with_model(owner, attribute: str, model_value, checkpoint: str) -> None:
    """Make a processor setting equal the model config's value. The model's config decides the token geometry (how
    many tokens an image becomes, how they are packed); a processor that disagrees would emit a token count the
    model rejects, or a layout that maps cells to the wrong pixels. A disagreement is logged, never silent."""
    current = getattr(owner, attribute, None)
    if current is not None and _plain(current) == _plain(model_value):
        return
    if current is not None:
        log.warning("%s: the processor's %s (%s) differs from the model config's (%s); using the model's",
                    checkpoint, attribute, current, model_value)
    setattr(owner, attribute, model_value)


def _plain(value):
    """Lists for tuples (pinpoints), dicts for `SizeDict`s, so settings compare by content."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict) or hasattr(value, "__dataclass_fields__"):
        return dict(value)
    return value


# ------------------------------------------------------------------------------------------------------------------
# Fast paths: each image costs one trip through the processor per question (README "Cost per question").

def pad_resize_square(image, side: int, fill: tuple, resample) -> "Image.Image":
    """LLaVA-1.5's `expand2square` + resize to `side`×`side`, with the SAME pixel values as padding the full image
    to a square and resizing it with PIL (what `LlavaImageProcessorPil` does), without building the padded square.

    PIL resamples in two separable passes, horizontal then vertical, each rounding to 8 bits, and a row of the
    horizontal pass depends only on that row. So the padded square's horizontal pass is computed row band by row band
    (a wide image: its own rows, and the padding rows as one resampled fill row; a tall image: each band padded to
    the square's width), then the vertical pass runs on the narrow intermediate. Bit-for-bit equality with the stock
    processor is tested at several sizes and aspect ratios (tests/test_overhead.py). A 20000×50 image no longer
    allocates a 20000² square (5.4 GB in the stock processor).
    """
    from PIL import Image

    w, h = image.size
    s = max(w, h)
    if w == h:
        return image.resize((side, side), resample=resample)
    inter = Image.new("RGB", (side, s))  # the horizontal pass of the padded square
    if w > h:
        top = (s - h) // 2
        fill_row = Image.new("RGB", (s, 1), fill).resize((side, 1), resample=resample)
        if top:
            inter.paste(fill_row.resize((side, top), resample=Image.NEAREST), (0, 0))
        if s - top - h:
            inter.paste(fill_row.resize((side, s - top - h), resample=Image.NEAREST), (0, top + h))
        inter.paste(image.resize((side, h), resample=resample), (0, top))
    else:
        left = (s - w) // 2
        band = max(1, (16 << 20) // (3 * s))  # rows per band: about 16 MB of padded pixels at a time
        for y in range(0, h, band):
            rows = image.crop((0, y, w, min(h, y + band)))
            padded = Image.new("RGB", (s, rows.size[1]), fill)
            padded.paste(rows, (left, 0))
            inter.paste(padded.resize((side, rows.size[1]), resample=resample), (0, y))
    return inter.resize((side, side), resample=resample)


def _fast_pad_applies(processor, kwargs: dict) -> int | None:
    """The target side when the fast path reproduces the processor's settings: pad to square, resize the shortest
    edge to S, centre-crop S×S (a no-op on the S×S result). None otherwise (the stock path runs)."""
    if kwargs.keys() - {"return_tensors"}:
        return None
    size, crop = processor.size, processor.crop_size
    short = getattr(size, "shortest_edge", None)
    if not (processor.do_pad and processor.do_resize and short and not getattr(size, "longest_edge", None)):
        return None
    if processor.do_center_crop and (getattr(crop, "height", None), getattr(crop, "width", None)) != (short, short):
        return None
    return int(short)


class FastPadLlavaImageProcessor(LlavaImageProcessorPil):
    """`LlavaImageProcessorPil` whose pad-to-square and resize of RGB PIL images run as `pad_resize_square` (same
    pixel values); the S×S result then goes through the stock steps (its resize is then a copy, rescale, normalise).
    Any other input or setting takes the stock path (also with `fast = False`)."""

    fast = True

    def preprocess(self, images, *args, **kwargs):
        side = _fast_pad_applies(self, kwargs) if self.fast else None
        if side is not None:
            from PIL import Image

            listed = images if isinstance(images, (list, tuple)) else [images]
            if all(isinstance(im, Image.Image) and im.mode == "RGB" for im in listed):
                fill = tuple(int(x * 255) for x in self.image_mean) if self.image_mean else (0, 0, 0)
                images = [pad_resize_square(im, side, fill, self.resample) for im in listed]
                if self.do_rescale and self.do_normalize and kwargs.get("return_tensors") in ("pt", None) \
                        and len(self.image_mean) == len(self.image_std) == 3:
                    return self._rescale_normalize(images, kwargs.get("return_tensors"))
        return super().preprocess(images, *args, **kwargs)

    def _rescale_normalize(self, images, return_tensors):
        """The stock steps after the resize, on S×S RGB images: rescale, then normalise, read from `normalise_table`
        (the same float32 values; one gather instead of five array passes, faster up to about 250 px a side --
        LLaVA-1.5's 336 px loses 0.07 ms an image, its 7B forward takes hundreds)."""
        import numpy as np
        from transformers.image_processing_utils import BatchFeature

        flat = normalise_table(self.rescale_factor, tuple(self.image_mean), tuple(self.image_std)).reshape(-1)
        offsets = (np.arange(3, dtype=np.intp) * 256)[:, None, None]  # channel c reads entries [256c, 256c + 256)
        out = [np.take(flat, np.moveaxis(np.asarray(im), -1, 0) + offsets) for im in images]
        return BatchFeature(data={"pixel_values": out}, tensor_type=return_tensors)


@lru_cache(maxsize=16)
def normalise_table(scale: float, mean: tuple, std: tuple):
    """[channels, 256] float32: what transformers' `rescale` (8-bit value × scale in float64, cast to float32) and
    then `normalize` ((x - mean) / std in float32) make of each value of each channel -- the same operations on the
    256 values a channel can take, so indexing the table gives the same float32 values as the two steps."""
    import numpy as np

    rescaled = (np.arange(256, dtype=np.float64) * scale).astype(np.float32)  # image_transforms.rescale
    mean, std = np.array(mean, dtype=np.float32), np.array(std, dtype=np.float32)
    return ((rescaled[None, :] - mean[:, None]) / std[:, None]).astype(np.float32)  # image_transforms.normalize


class ImageCache:
    """The processed images of the current question, so no image goes through the processor twice (the whole image
    for the relevance passes, the vanilla reference and ZoomEye's root; each crop for its existence check and the
    answer's options). Installed on a processor by `install`: its `_process_images` (transformers' one entry point
    for images, every family) is answered here. `clear()` per sample.

    - **Per image.** A call with several images is answered image by image, each processed alone, and the outputs
      joined (`join_outputs`; the stock call on the whole list where they cannot be: values that pad to the batch's
      largest), so a crop scored in a ranking batch is not processed again for the answer.
    - **By content.** An image is found by identity, else by equal pixels among the cached images of the same size
      and mode: `image.crop(box)` twice gives two objects with one content. The images are held, so an id cannot be
      reused while cached. The image-processor options of the call are part of the key.
    - **Off the caller's thread.** `ahead(images, kwargs)` starts processing in a background thread (the runner
      hands the whole image over as soon as it is loaded: FOCUS's first stage, target extraction, is text only), and
      the images of one call that need processing are shared with `threads` workers. PIL's resampling and numpy
      release the GIL, so this is parallel; a caller that needs an image being processed waits for it. The work
      done on those threads is summed in `background_seconds` (CPU time the caller did not wait for, when it
      overlapped). `threads=0`: everything on the caller's thread.
    """

    def __init__(self, threads: int = 1, pads_patches: bool = False):
        import threading

        self.threads = max(0, int(threads))
        self.pads_patches = pads_patches  # the processor zero-pads each image's patches to the batch's most
        self.unjoined = 0                 # calls answered by the stock call on the whole list (not joinable)
        self.entries: dict = {}   # (id, size, mode, options) -> _Entry
        self.by_size: dict = {}   # (size, mode, options) -> [_Entry]: candidates for the content match
        self.hits = self.misses = 0
        self.background_seconds = 0.0
        self.enabled = True
        self._lock = threading.Lock()
        self._pool = None

    def clear(self) -> None:
        with self._lock:
            for entry in self.entries.values():
                if entry.job is not None:
                    entry.job.cancel()  # queued work of the previous question (a running one finishes into no entry)
            self.entries, self.by_size = {}, {}

    def install(self, processor) -> "ImageCache":
        self._stock = processor._process_images

        def cached(images, **kwargs):
            return self.process(images, kwargs)

        processor._process_images = cached
        return self

    # ------------------------------------------------------------------------------------------------ lookup
    def process(self, images, kwargs: dict):
        """What the stock `_process_images(images, **kwargs)` returns: (processed images, placeholder texts)."""
        listed = images if isinstance(images, (list, tuple)) else [images]
        if not self.enabled or not listed or not all(isinstance(im, Image.Image) for im in listed):
            return self._stock(images, **kwargs)
        options = _options(kwargs)
        claims = [self._claim(im, options) for im in listed]
        owned = [entry for entry, owner in claims if owner]
        if self.threads:  # all but one to the workers, the last one here
            for entry in owned[:-1]:
                self._submit(entry, kwargs)
            owned = owned[-1:]
        for entry in owned:
            self._compute(entry, kwargs, background=False)
        for entry, _ in reversed(claims):  # what no worker has started yet is done here, from the back (the
            with self._lock:               # workers take their queue from the front)
                job, entry.job = entry.job, None
            if job is not None and job.cancel():
                self._compute(entry, kwargs, background=False)
        outputs = [entry.future.result() for entry, _ in claims]
        if len(outputs) == 1:
            return outputs[0]
        joined = join_outputs(outputs, self.pads_patches)
        if joined is None:
            self.unjoined += 1
            return self._stock(images, **kwargs)
        return joined

    def ahead(self, images: list, kwargs: dict) -> None:
        """Start processing `images` (one image per call, `kwargs` as the processor will pass them) in the
        background; a later call with the same content and options waits for it instead of processing again."""
        if not self.enabled or not self.threads:
            return
        for im in images:
            if isinstance(im, Image.Image):
                entry, owner = self._claim(im, _options(kwargs))
                if owner:
                    self._submit(entry, kwargs)

    def _claim(self, image, options: str) -> tuple["_Entry", bool]:
        """(the entry of `image`, True when the caller must compute it)."""
        from concurrent.futures import Future

        key = (id(image), image.size, image.mode, options)
        with self._lock:
            entry = self.entries.get(key)
            if entry is None:
                for other in self.by_size.get(key[1:], ()):
                    if other.same_pixels(image):
                        entry = other
                        break
            if entry is not None:
                self.hits += 1
                return entry, False
            self.misses += 1
            entry = _Entry(image, Future())
            self.entries[key] = entry
            self.by_size.setdefault(key[1:], []).append(entry)
            return entry, True

    def _compute(self, entry: "_Entry", kwargs: dict, background: bool = True) -> None:
        t0 = time.perf_counter()
        try:
            out = self._stock([entry.image], **kwargs)
        except BaseException as exc:  # the caller waiting for it raises it; the entry is dropped, not kept failed
            with self._lock:
                self.entries = {k: e for k, e in self.entries.items() if e is not entry}
                for bucket in self.by_size.values():
                    if entry in bucket:
                        bucket.remove(entry)
            entry.future.set_exception(exc)
            if not background:
                raise
            return
        if background:
            with self._lock:
                self.background_seconds += time.perf_counter() - t0
        entry.future.set_result(out)

    def _submit(self, entry: "_Entry", kwargs: dict) -> None:
        from concurrent.futures import ThreadPoolExecutor

        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="focus-preprocess")
        entry.job = self._pool.submit(self._compute, entry, kwargs)


def _options(kwargs: dict) -> str:
    """The image-processor options of a call, as part of a cache key."""
    return repr(sorted(kwargs.items(), key=lambda kv: kv[0]))


class _Entry:
    """One image of the cache: the image (held: its id stays unique, its pixels are compared) and its output."""

    __slots__ = ("image", "future", "job", "_bytes")

    def __init__(self, image, future):
        self.image, self.future, self.job, self._bytes = image, future, None, None  # job: its queued work

    def same_pixels(self, image) -> bool:
        """Another object (the identity lookup came first) with this image's pixels."""
        if image.mode in ("P", "PA") and image.getpalette() != self.image.getpalette():
            return False  # the same indices into other colours
        if self._bytes is None:
            self._bytes = self.image.tobytes()
        return image.tobytes() == self._bytes


def join_outputs(outputs: list, pads_patches: bool = False):
    """The stock output of one call on several images, from the outputs of one call per image: each value joined
    along the first axis (tensors concatenated, lists extended; every call asks for tensors), the placeholder texts
    listed in order.
    `pads_patches`: the processor zero-pads the second axis (each image's patches) to the batch's largest, as
    LLaVA-OneVision's `_pad_for_batching` does; the join does the same. None when a value cannot be joined
    (shapes that differ otherwise, a value that is not per image): the caller then makes the stock call."""
    from transformers.image_processing_utils import BatchFeature

    first = outputs[0][0]
    data = {}
    for key in first:
        values = [out[0].get(key) for out in outputs]
        if any(v is None for v in values):
            return None
        if all(isinstance(v, torch.Tensor) for v in values):
            if pads_patches and len({v.shape[2:] for v in values}) == 1 and values[0].dim() > 2:
                longest = max(v.shape[1] for v in values)
                values = [torch.nn.functional.pad(v, [0, 0] * (v.dim() - 2) + [0, longest - v.shape[1]])
                          for v in values]
            if len({v.shape[1:] for v in values}) != 1 or values[0].dim() == 0:
                return None
            data[key] = torch.cat(values)
        elif all(isinstance(v, list) for v in values):
            data[key] = [x for v in values for x in v]
        else:
            return None
    return BatchFeature(data=data), [text for out in outputs for text in out[1]]
