import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("WANDB_SILENT", "true")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory):
    """One tiny-checkpoint cache for the whole session (built once, ~5 s)."""
    path = os.environ.get("FOCUS_TEST_TINY_CACHE") or str(tmp_path_factory.mktemp("tiny_models"))
    os.environ["FOCUS_TINY_CACHE"] = path
    return path


_ADAPTERS = {}


@pytest.fixture(scope="session")
def adapter_factory(tiny_cache):
    import torch

    torch.set_num_threads(1)  # tiny models: one thread is several times faster than two on a shared CPU
    from focus.models.internvl import InternVLAdapter
    from focus.models.llava15 import Llava15Adapter
    from focus.models.llava_ov import LlavaOnevisionAdapter
    from focus.models.llava_ov15 import LlavaOnevision15Adapter
    from focus.models.qwen3vl import Qwen3VLAdapter
    from focus.models.qwen25vl import Qwen25VLAdapter

    classes = {"llava15": Llava15Adapter, "llava_ov": LlavaOnevisionAdapter, "qwen25vl": Qwen25VLAdapter,
               "qwen3vl": Qwen3VLAdapter, "llava_ov15": LlavaOnevision15Adapter, "internvl": InternVLAdapter}
    extra = {"internvl": {"max_patches": 4}}  # as conf/model/tiny_internvl.yaml: at most 4 tiles + thumbnail

    def make(family):
        if family not in _ADAPTERS:
            kwargs = {"max_pixels": 1024 * 28 * 28} if family == "qwen25vl" else {}
            kwargs.update(extra.get(family, {}))
            _ADAPTERS[family] = classes[family](tiny=True, tiny_cache_dir=tiny_cache, device="cpu", **kwargs)
        return _ADAPTERS[family]

    return make
