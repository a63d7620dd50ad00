"""The framework's own cost (README "Cost per question"): each image through the processor once per question, with
the same pixel values as the stock processor; logits matching with one shared prompt; the relevance map computed
where the features are. Every fast path is checked against the path it replaces."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ROOT
from focus.models.processors import FastPadLlavaImageProcessor, ImageCache, pad_resize_square

CLIP = dict(image_mean=[0.48145466, 0.4578275, 0.40821073], image_std=[0.26862954, 0.26130258, 0.27577711])


def processors(side=96, resample=3):
    from transformers.models.llava.image_processing_pil_llava import LlavaImageProcessorPil

    kw = dict(do_pad=True, size={"shortest_edge": side}, crop_size={"height": side, "width": side},
              do_center_crop=True, do_resize=True, resample=resample, **CLIP)
    return LlavaImageProcessorPil(**kw), FastPadLlavaImageProcessor(**kw)


def noise(w, h, seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


@pytest.mark.parametrize("side,resample", [(96, 3), (336, 3), (96, 2)])
def test_fast_pad_equals_the_stock_processor_bit_for_bit(side, resample):
    stock, fast = processors(side, resample)
    # wide, tall, square, odd padding splits, strongly elongated, smaller than the target (upscaled)
    for w, h in [(1536, 1024), (1024, 1536), (640, 640), (1537, 1022), (1201, 99), (77, 803), (50, 31), (13, 40)]:
        im = noise(w, h, seed=w * h)
        a, b = (p(im, return_tensors="pt")["pixel_values"] for p in (stock, fast))
        assert a.shape == b.shape == (1, 3, side, side)
        assert torch.equal(a, b), (w, h, (a - b).abs().max())


def test_fast_pad_keeps_the_stock_path_when_switched_off_or_not_rgb():
    stock, fast = processors()
    grey = noise(300, 120).convert("L")
    assert torch.equal(stock(grey, return_tensors="pt")["pixel_values"], fast(grey, return_tensors="pt")["pixel_values"])
    fast.fast = False
    im = noise(300, 120)
    assert torch.equal(stock(im, return_tensors="pt")["pixel_values"], fast(im, return_tensors="pt")["pixel_values"])


def test_a_very_wide_image_never_becomes_a_full_resolution_square(monkeypatch):
    created = []
    real_new = Image.new
    monkeypatch.setattr(Image, "new", lambda mode, size, *a, **k: created.append(size) or real_new(mode, size, *a, **k))
    out = pad_resize_square(Image.new("RGB", (20000, 50)), 96, (122, 116, 104), Image.BICUBIC)  # black strip
    assert out.size == (96, 96)
    assert created and max(w * h for w, h in created) <= 96 * 20000  # the stock processor pads to 20000² first
    # the middle row carries the (black) strip, the top and bottom rows the mean colour
    px = np.asarray(out).astype(int)
    assert (px[0] == (122, 116, 104)).all() and (px[-1] == (122, 116, 104)).all() and (px[48] <= (112, 106, 94)).all()


def test_image_cache_processes_each_image_once_per_question(adapter_factory):
    adapter = adapter_factory("llava15")
    calls = []
    ip = adapter.processor.image_processor
    original = type(ip).preprocess
    ip.preprocess = lambda images, *a, **k: calls.append(1) or original(ip, images, *a, **k)
    try:
        adapter.begin_sample()
        text = adapter.chat(1, "Is there a cat?")
        a, b = noise(400, 300, 1), noise(400, 300, 2)  # same size, different pixels
        first = adapter.encode([a], [text])["pixel_values"]
        again = adapter.encode([a], [adapter.chat(1, "Is there a dog?")])["pixel_values"]
        other = adapter.encode([b], [text])["pixel_values"]
        assert len(calls) == 2 and torch.equal(first, again) and not torch.equal(first, other)
        adapter.begin_sample()  # a new question: processed again
        assert torch.equal(adapter.encode([a], [text])["pixel_values"], first) and len(calls) == 3
    finally:
        del ip.preprocess
        adapter.begin_sample()


def test_image_cache_holds_the_images_so_ids_stay_unique():
    cache = ImageCache()

    class Proc:
        def _process_images(self, images, **kwargs):
            return [im.getpixel((0, 0)) for im in images]

    proc = Proc()
    cache.install(proc)
    outs = [proc._process_images([Image.new("RGB", (4, 4), (i, 0, 0))]) for i in range(20)]  # temporaries
    assert outs == [[(i, 0, 0)] for i in range(20)] and cache.misses == 20


class Recording:
    """A stand-in processor: `_process_images` returns each image's top-left pixel and records which thread
    processed which image; `gate` holds an image's processing until it is set."""

    def __init__(self, fail=None, gate=None):
        import threading

        self.seen, self.fail, self.gate = [], fail, gate
        self.lock = threading.Lock()

    def _process_images(self, images, **kwargs):
        import threading

        pixel = images[0].convert("RGB").getpixel((0, 0))
        if self.gate is not None and pixel == (9, 9, 9):
            self.gate.wait(5)
        with self.lock:
            self.seen.append((pixel, threading.current_thread().name))
        if pixel == self.fail:
            raise OSError("decoder hiccup")
        return {"pixel": [pixel for _ in images]}, ["<image>"] * len(images)


def test_image_cache_finds_a_crop_by_its_pixels_and_processes_each_image_once():
    proc = Recording()
    cache = ImageCache(threads=0).install(proc)
    full = noise(64, 48, 5)
    box = (8, 8, 40, 40)
    out = proc._process_images([full.crop(box), full.crop((0, 0, 32, 32))])  # a ranking batch: two crops
    again = proc._process_images([full.crop(box)])  # the answer: the first crop, a new object
    other = proc._process_images([noise(32, 32, 6)])  # same size, other pixels
    assert out[0]["pixel"] == [full.getpixel((8, 8)), full.getpixel((0, 0))]
    assert again[0]["pixel"] == [full.getpixel((8, 8))] and other[0]["pixel"] != again[0]["pixel"]
    assert len(proc.seen) == 3 and (cache.hits, cache.misses) == (1, 3)
    assert out[1] == ["<image>", "<image>"] and again[1] == ["<image>"]
    red, blue = (Image.new("P", (4, 4), 0) for _ in range(2))  # the same indices ...
    red.putpalette([255, 0, 0] * 256)
    blue.putpalette([0, 0, 255] * 256)  # ... into other colours
    assert proc._process_images([red])[0]["pixel"] != proc._process_images([blue])[0]["pixel"]


def test_image_cache_work_ahead_runs_aside_and_a_failure_reaches_the_caller():
    first, second = Image.new("RGB", (8, 8), (1, 2, 3)), Image.new("RGB", (8, 8), (4, 5, 6))
    proc = Recording(fail=(4, 5, 6))
    cache = ImageCache(threads=1).install(proc)
    cache.ahead([first], {})
    cache.ahead([second], {})  # fails in the background
    for _ in range(500):  # the worker has taken the first job (the caller would take back a job not started)
        if proc.seen:
            break
        time.sleep(0.01)
    assert proc._process_images([first])[0]["pixel"] == [(1, 2, 3)]
    assert proc.seen[0] == ((1, 2, 3), proc.seen[0][1]) and proc.seen[0][1].startswith("focus-preprocess")
    assert cache.background_seconds > 0
    with pytest.raises(OSError, match="hiccup"):
        proc._process_images([second])  # the failure, where the image is needed (waited for, or redone here)
    tries = len(proc.seen)
    with pytest.raises(OSError, match="hiccup"):
        proc._process_images([second])
    assert len(proc.seen) == tries + 1  # a failure is not kept: the image is processed again


def test_image_cache_does_queued_work_itself_when_the_worker_is_busy():
    import threading

    gate = threading.Event()
    proc = Recording(gate=gate)
    cache = ImageCache(threads=1).install(proc)
    cache.ahead([Image.new("RGB", (4, 4), (9, 9, 9))], {})  # holds the only worker
    a, b, c = (Image.new("RGB", (4, 4), (i, 0, 0)) for i in (1, 2, 3))
    try:
        out = proc._process_images([a, b, c])  # a and b queue behind the held worker: done here instead
    finally:
        gate.set()
    assert out[0]["pixel"] == [(1, 0, 0), (2, 0, 0), (3, 0, 0)]
    here = {pixel: name for pixel, name in proc.seen}
    assert all(not here[(i, 0, 0)].startswith("focus-preprocess") for i in (1, 2, 3))


def test_joined_outputs_pad_patches_only_where_the_processor_does():
    from focus.models.processors import join_outputs

    one = ({"pixel_values": torch.ones(1, 2, 3), "image_sizes": torch.tensor([[4, 5]])}, ["x"])
    two = ({"pixel_values": torch.full((1, 3, 3), 2.0), "image_sizes": torch.tensor([[6, 7]])}, ["y"])
    assert join_outputs([one, two]) is None  # unequal patch counts: the stock call decides
    joined, texts = join_outputs([one, two], pads_patches=True)
    assert joined["pixel_values"].shape == (2, 3, 3) and texts == ["x", "y"]
    assert joined["pixel_values"][0, 2].abs().sum() == 0 and joined["pixel_values"][0, :2].eq(1).all()
    assert joined["pixel_values"][1].eq(2).all() and joined["image_sizes"].tolist() == [[4, 5], [6, 7]]


FAMILIES = ("llava15", "llava_ov", "qwen25vl", "qwen3vl", "llava_ov15", "internvl")


@pytest.mark.parametrize("family", FAMILIES)
def test_images_processed_one_by_one_and_ahead_equal_the_stock_call(adapter_factory, family):
    adapter = adapter_factory(family)
    images = [noise(300, 200, 1), noise(120, 400, 2), noise(640, 480, 3)]
    texts = [adapter.chat(1, f"Is there a dog {i}?") for i in range(3)]
    adapter.fast_paths(False)
    stock = adapter.encode(images, texts)
    alone = [adapter.encode([im], [t]) for im, t in zip(images, texts)]
    adapter.fast_paths(True)
    try:
        adapter.begin_sample()
        cache = adapter.image_cache
        counts = (cache.misses, cache.hits, cache.unjoined)
        adapter.prepare(images[1])  # the runner's call once the sample's image is loaded
        joined = adapter.encode(images, texts)
        seen = lambda: tuple(now - before for now, before in zip((cache.misses, cache.hits, cache.unjoined), counts))
        assert seen() == (3, 1, 0)  # the prepared image was found, the three outputs joined
        assert stock.keys() == joined.keys()
        for key in stock:
            assert torch.equal(stock[key], joined[key]), key
        crop = adapter.encode([images[2].crop((0, 0, 640, 480))], texts[2:])  # same pixels, another object
        assert torch.equal(crop["pixel_values"], alone[2]["pixel_values"]) and seen() == (3, 2, 0)
    finally:
        adapter.begin_sample()
    if family == "llava_ov":  # the stock call zero-pads each image's anyres patches to the batch's most
        assert len({a["pixel_values"].shape[1] for a in alone}) > 1


OPTIONS = ["a cat", "the small red square", "no", "two dogs on a bench"]


@pytest.mark.parametrize("family,n_images", [("llava15", 1), ("qwen25vl", 1), ("llava_ov", 2)])
def test_shared_prefix_option_losses_equal_one_forward_per_option(adapter_factory, family, n_images):
    adapter = adapter_factory(family)
    images = [noise(200, 150, 3), noise(120, 180, 4)][:n_images]
    losses = {}
    for shared in (False, True):
        adapter.begin_sample()
        adapter.shared_option_prefix = shared
        calls = adapter.calls
        losses[shared] = adapter.score_options(images, "What is in the image?", OPTIONS)
        losses[f"calls{shared}"] = adapter.calls - calls
    adapter.shared_option_prefix = True
    assert losses[True] == pytest.approx(losses[False], rel=1e-4, abs=1e-4)
    assert np.argmin(losses[True]) == np.argmin(losses[False])
    assert (losses["callsFalse"], losses["callsTrue"]) == (len(OPTIONS), 2)


def test_demo_records_equal_with_and_without_the_fast_paths():
    import importlib.util

    from focus.demo import CHECKPOINT_DIR
    from focus.demo.evaluate import load_adapter
    from focus.harness.config import build
    from focus.harness.runner import process_sample

    spec = importlib.util.spec_from_file_location("pipeline_cost", ROOT / "benchmarks" / "pipeline_cost.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    torch.set_num_threads(1)
    cfg = bench.compose(["dataset.limit=2"])
    adapter, method = load_adapter(CHECKPOINT_DIR), build(cfg.method)
    for sample in build(cfg.dataset.loader):
        recs, cache, processed, ahead = {}, adapter.image_cache, [], []
        stock, stock_ahead = cache._stock, cache.ahead
        cache._stock = lambda images, **kw: processed.append(images[0].size) or stock(images, **kw)
        cache.ahead = lambda images, kw: ahead.extend(im.size for im in images) or stock_ahead(images, kw)
        try:
            for fast in (False, True):
                adapter.fast_paths(fast)
                processed.clear()
                recs[fast] = process_sample(sample, method, adapter, "cpu", cfg.dataset.benchmark)
        finally:
            cache._stock, cache.ahead = stock, stock_ahead
        size = tuple(recs[True]["image_size"])
        assert processed.count(size) == 1 and ahead == [size]  # the whole image once, handed over as it loaded
        slow, quick = recs[False], recs[True]
        for key in ("prediction", "fp", "fp_answer", "chosen_boxes", "targets", "rois", "final_mode"):
            assert quick[key] == slow[key], key
        assert quick["option_losses"] == pytest.approx(slow["option_losses"], abs=1e-5)
        assert quick["calls"] < slow["calls"] and quick["cost"]["answer"]["calls"] <= 2


def test_relevance_map_on_the_features_device_equals_the_cpu_float32_copy():
    from focus.stages.relevance import object_relevance

    g = torch.Generator().manual_seed(0)
    feats = [torch.randn(4, 40, 8, generator=g).to(torch.bfloat16) for _ in range(3)]  # as a bf16 cache holds them
    visual, targets = list(range(2, 38)), [38, 39]
    on_device = object_relevance(feats, targets, visual, [1, 2])
    copied = object_relevance([f.float().cpu() for f in feats], targets, visual, [1, 2])
    assert on_device.dtype == torch.float32 and torch.equal(on_device, copied)


def test_prefetched_images_are_the_same_and_errors_stay_per_sample():
    import threading

    from focus.data.base import Sample
    from focus.harness.prefetch import with_prefetched_images

    threads = []

    def image(i):
        def load():
            threads.append(threading.current_thread().name)
            if i == 1:
                raise OSError("cannot identify image file b.png")
            return Image.new("RGB", (8, 8), (i, 0, 0))
        return load

    samples = [Sample(f"s{i}", "q", ["a"], "A", "c", "p", image_fn=image(i)) for i in range(3)]
    seen = []
    for original, decoding in with_prefetched_images(iter(samples)):
        assert original is samples[len(seen)] and decoding.id == original.id
        try:
            seen.append(decoding.load_image().getpixel((0, 0)))
        except OSError as exc:
            seen.append(str(exc))
    assert seen == [(0, 0, 0), "cannot identify image file b.png", (2, 0, 0)]
    assert len(threads) == 3 and all(name.startswith("focus-decode") for name in threads)  # decoded once, aside


def test_wandb_pictures_are_drawn_after_the_loop_and_bounded(monkeypatch):
    from focus.review import plots
    from focus.review.wandb_logger import WandbLogger

    drawn = []
    monkeypatch.setattr(plots, "render_sample", lambda image, rec, max_side: drawn.append((rec["id"], max_side))
                        or image)

    class Run:
        def __init__(self):
            self.logged, self.summary = [], {}

        def log(self, data):
            self.logged.append(data)

    class Table:
        def __init__(self):
            self.rows = []

        def add_data(self, *row):
            self.rows.append(row)

    logger = WandbLogger("unused", {}, {"mode": "disabled"}, table_rows=2, image_side=300)
    logger.run, logger.table = Run(), Table()
    logger.wb = type("wb", (), {"Image": staticmethod(lambda image: ("wandb.Image", image.size))})
    sample = type("S", (), {"load_image": lambda self: Image.new("RGB", (40, 30))})()
    for i in range(4):
        rec = {"id": f"s{i}", "strict": True, "fp": 3, "seconds": 0.1, "question": "q", "prediction": "A",
               "label": "A", "targets": ["cat"], "error": "boom" if i == 0 else None}
        logger.log_sample(rec, sample)
    assert drawn == [] and len(logger.run.logged) == 4  # nothing drawn inside the loop; scalars logged per sample
    logger.log_summary({"accuracy": 1.0})
    assert drawn == [("s1", 300), ("s2", 300)]  # error-free samples only, at most table_rows, at most image_side
    assert [row[:2] for row in logger.table.rows] == [("s1", ("wandb.Image", (40, 30))), ("s2", ("wandb.Image", (40, 30)))]
    assert logger.run.logged[-1] == {"samples": logger.table} and logger.run.summary["logging_seconds"] >= 0
