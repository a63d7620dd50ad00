"""The next sample's image decoded while the current sample runs (design section 7; README "Cost per question").

Decoding a V*/HR-Bench image (or drawing a demo scene) is the dataset's work, not the method's, and it needs no
model: a background thread decodes the image of the sample that comes next while the model answers the current
one. At most two decoded images exist at a time (the current and the next), so memory stays bounded as with
one-at-a-time decoding. An image that fails to decode raises the same exception when the sample asks for it, so it
still becomes that sample's error record.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Iterator


def with_prefetched_images(samples: Iterable) -> Iterator[tuple[object, object]]:
    """(sample, the same sample whose `load_image` returns the image decoded in the background) for each sample,
    the next one's decoding started before the current one is handed out. Keep the first for anything that
    outlives the sample (it holds no decoded image)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="focus-decode") as pool:
        pending = None
        for sample in samples:
            decodable = dataclasses.is_dataclass(sample) and getattr(sample, "image_fn", None) is not None \
                and not getattr(sample, "error", None)
            current = (sample, pool.submit(sample.load_image) if decodable else None)
            if pending is not None:
                yield _ready(*pending)
            pending = current
        if pending is not None:
            yield _ready(*pending)


def _ready(sample, future):
    if future is None:
        return sample, sample
    return sample, dataclasses.replace(sample, image_fn=future.result)
