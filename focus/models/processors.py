"""Image-only processors for LLaVA-OneVision and Qwen2.5-VL (design section 5).

The stock processors of both families declare a video processor, and transformers can only build that one with
torchvision installed. CPU machines have no torchvision (its wheel needs CUDA torch), so these subclasses drop the
video processor and list every other constructor argument explicitly: `save_pretrained` stores only the arguments
it can see in the signature, and a `**kwargs` catch-all would silently lose e.g. `num_image_tokens`.
"""

from __future__ import annotations

from transformers import AutoProcessor
from transformers.models.llava_onevision.configuration_llava_onevision import LlavaOnevisionConfig
from transformers.models.llava_onevision.processing_llava_onevision import LlavaOnevisionProcessor
from transformers.models.qwen2_5_vl.configuration_qwen2_5_vl import Qwen2_5_VLConfig
from transformers.models.qwen2_5_vl.processing_qwen2_5_vl import Qwen2_5_VLProcessor


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


def register_image_only_processors() -> None:
    """Make `AutoProcessor.from_pretrained` return the image-only subclasses for tiny checkpoints saved by us."""
    for config_cls, proc_cls in ((LlavaOnevisionConfig, LlavaOnevisionImageOnlyProcessor),
                                 (Qwen2_5_VLConfig, Qwen2_5_VLImageOnlyProcessor)):
        try:
            AutoProcessor.register(config_cls, proc_cls, exist_ok=True)
        except TypeError:  # older signature without exist_ok
            try:
                AutoProcessor.register(config_cls, proc_cls)
            except ValueError:
                pass
