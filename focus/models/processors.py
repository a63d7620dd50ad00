"""Image-only processors for LLaVA-OneVision, Qwen2.5-VL, Qwen3-VL, LLaVA-OneVision-1.5 and InternVL, and
processor/model agreement (design section 5).

The stock processors of these families declare a video processor, and transformers can only build that one with
torchvision installed. CPU machines have no torchvision (its wheel needs CUDA torch), so these subclasses drop the
video processor and list every other constructor argument explicitly: `save_pretrained` stores only the arguments
it can see in the signature, and a `**kwargs` catch-all would silently lose e.g. `num_image_tokens`.
"""

from __future__ import annotations

import logging

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
        """The stock steps after the resize, on S×S RGB images, with the same numpy operations in the same order
        (transformers.image_transforms.rescale, then normalize on channels-first float32), without its per-call
        argument handling: the same float32 values."""
        import numpy as np
        from transformers.image_processing_utils import BatchFeature

        mean, std = np.array(self.image_mean, dtype=np.float32), np.array(self.image_std, dtype=np.float32)
        out = []
        for im in images:
            chw = np.moveaxis(np.array(im), -1, 0)
            x = (chw.astype(np.float64) * self.rescale_factor).astype(np.float32)
            out.append(((x.T - mean) / std).T)
        return BatchFeature(data={"pixel_values": out}, tensor_type=return_tensors)


class ImageCache:
    """The processed images of the current question, so no image goes through the processor twice
    (the whole image for target extraction, the relevance passes, the vanilla reference; the answer's crops for
    every option). Installed on a processor by `install`: its `_process_images` (transformers' one entry point for
    images, every family) is looked up here first. Keyed by the identity and size of each PIL image in the call, and
    the image-processor options; the images are held, so an id cannot be reused while cached. `clear()` per sample.
    """

    def __init__(self):
        self.entries: dict = {}
        self.hits = self.misses = 0
        self.enabled = True

    def clear(self) -> None:
        self.entries.clear()

    def install(self, processor) -> "ImageCache":
        stock = processor._process_images

        def cached(images, **kwargs):
            from PIL import Image

            listed = images if isinstance(images, (list, tuple)) else [images]
            if not self.enabled or not all(isinstance(im, Image.Image) for im in listed):
                return stock(images, **kwargs)
            key = (tuple((id(im), im.size) for im in listed), repr(sorted(kwargs.items(), key=lambda kv: kv[0])))
            hit = self.entries.get(key)
            if hit is not None:
                self.hits += 1
                return hit[1]
            self.misses += 1
            out = stock(images, **kwargs)
            self.entries[key] = (list(listed), out)  # the images held: their ids stay unique while cached
            return out

        processor._process_images = cached
        return self
