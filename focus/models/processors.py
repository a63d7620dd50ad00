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
