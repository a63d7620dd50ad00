"""Small benchmark files in their exact distributed formats, with real images of various sizes."""

import base64
import csv
import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

SIZES = [(1200, 900), (800, 1400), (2000, 700), (640, 640)]

# The tests' defaults: the tiny random LLaVA-1.5 on the synthetic dataset (the main config's defaults are the demo
# model on demo_scenes, tested in test_demo_model.py). Later overrides of the same key win.
TEST_DEFAULTS = ("model=tiny_llava15", "dataset=synthetic")
_VALUED_FLAGS = ("--config-dir", "-cd", "--config-name", "-cn", "--config-path", "-cp")


def with_test_defaults(args) -> list[str]:
    """`args` of `python -m focus.run` with TEST_DEFAULTS after the leading flags (-m, --config-name X, ...)."""
    args, i = list(args), 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in _VALUED_FLAGS else 1
    return [*args[:i], *TEST_DEFAULTS, *args[i:]]


def png_bytes(size, colour=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="JPEG")
    return buf.getvalue()


def b64(size) -> str:
    return base64.b64encode(png_bytes(size)).decode()


def make_vstar(root: Path, corrupt: bool = False) -> Path:
    """Four V* questions; `corrupt`: image 1 is not an image, meta file 2 is cut off, a fifth line names a missing
    image."""
    rows = []
    for i, size in enumerate(SIZES):
        cat = "direct_attributes" if i % 2 == 0 else "relative_position"
        folder = root / cat
        folder.mkdir(parents=True, exist_ok=True)
        name = f"sa_{i}.jpg"
        (folder / name).write_bytes(b"not an image" if corrupt and i == 1 else png_bytes(size))
        if cat == "direct_attributes":
            text = "What is the color of the cup?\n(A) blue\n(B) red\n(C) green\n(D) white\n" \
                   "Answer with the option's letter from the given choices directly."
            meta = {"target_object": ["cup"], "bbox": [[100, 120, 40, 30]],
                    "options": ["The color of the cup is red.", "The color of the cup is blue.",
                                "The color of the cup is green.", "The color of the cup is white."]}
            label = "B"
        else:
            text = "Is the dog on the left or right side of the car?\n(A) right\n(B) left\n" \
                   "Answer with the option's letter from the given choices directly."
            meta = {"target_object": ["dog", "car"], "bbox": [[10, 10, 50, 50], [300, 200, 80, 60]],
                    "options": ["The dog is on the left of the car.", "The dog is on the right of the car."]}
            label = "B"
        meta_text = json.dumps(meta)
        (folder / name.replace(".jpg", ".json")).write_text(meta_text[:20] if corrupt and i == 2 else meta_text)
        rows.append({"image": f"{cat}/{name}", "text": text, "category": cat, "question_id": str(i), "label": label})
    if corrupt:  # a line whose image file is not there
        rows.append({**rows[0], "image": "direct_attributes/missing.jpg", "question_id": "4"})
    with (root / "test_questions.jsonl").open("w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    return root


def hrbench_rows(bad: bool = True):
    rows = []
    for i in range(8):
        q, cyc = i // 4, i % 4
        rows.append({"index": i, "question": f"What is the color of the sign {q}?", "answer": "ABCD"[cyc],
                     "category": "single" if q == 0 else "cross", "A": "red", "B": "blue", "C": "green",
                     "D": "white", "cycle_category": cyc, "image": b64(SIZES[i % 4])})
    if bad:
        rows.append({"index": 8, "question": "Broken?", "answer": "A", "category": "single", "A": "x", "B": "y",
                     "C": "z", "D": "w", "cycle_category": 0, "image": "%%%notbase64%%%"})
        rows.append({"index": 9, "question": "Bad label?", "answer": "Q", "category": "cross", "A": "x", "B": "y",
                     "C": "z", "D": "w", "cycle_category": 1, "image": b64((300, 300))})
        rows.append({"index": 10, "question": "No image?", "answer": "A", "category": "cross", "A": "x", "B": "y",
                     "C": "z", "D": "w", "cycle_category": 2, "image": ""})
    return rows


def write_rows(path: Path, rows: list[dict], **parquet_options) -> Path:
    """Rows as a TSV (VLMEvalKit style, by suffix) or a parquet file (pyarrow, `parquet_options` for its writer)."""
    if path.suffix == ".tsv":
        with path.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t")
            w.writeheader()
            w.writerows(rows)
    else:
        pq.write_table(pa.Table.from_pylist(rows), path, **parquet_options)
    return path


def make_hrbench(path: Path) -> Path:
    return write_rows(path, hrbench_rows())


def make_mme(path: Path) -> Path:
    cats = ["Perception/Monitoring", "Perception/OCR", "Reasoning/Autonomous_Driving", "Reasoning/Diagram and Table"]
    rows = [{"index": i, "question": "Which colour is the vehicle?", "bytes": b64(SIZES[i % 4]),
             "multi-choice options": ["(A) red", "(B) blue", "(C) green", "(D) black", "(E) white"],
             "answer": "ABCDE"[i % 5], "category": cats[i % 4], "l2-category": f"sub{i % 2}"} for i in range(8)]
    rows.append({"index": 8, "question": "No options?", "bytes": b64((200, 200)), "multi-choice options": [],
                 "answer": "A", "category": cats[0], "l2-category": "sub0"})
    if path.suffix == ".tsv":  # the VLMEvalKit-style TSV: `image` and A..E columns
        for r in rows:
            r["image"] = r.pop("bytes")
            r.update({letter: text[4:] for letter, text in zip("ABCDE", r.pop("multi-choice options"))})
    return write_rows(path, rows)


EIGHT_K = (7680, 4320)


def large_jpeg(size=EIGHT_K, seed: int = 0) -> bytes:
    """An 8K-sized JPEG of ~6 MB: coarse noise so it does not compress away (real HR-Bench 8K images are MBs)."""
    coarse = np.random.default_rng(seed).integers(0, 256, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(coarse).resize(size, Image.NEAREST).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def with_comment(jpeg: bytes, text: str) -> bytes:
    """The same picture with a JPEG COM segment after SOI, so every row holds distinct bytes (no parquet dedup)."""
    payload = text.encode()
    return jpeg[:2] + b"\xff\xfe" + (len(payload) + 2).to_bytes(2, "big") + payload + jpeg[2:]


def make_large_hrbench(path: Path, n: int, layout: str = "page_per_row") -> Path:
    """An HR-Bench-8K-shaped file of `n` distinct 8K images.

    layout: "page_per_row" (parquet, one data page per row), "single_page" (parquet, pandas/pyarrow defaults: the
    whole image column is one page); a `.tsv` path writes VLMEvalKit's TSV.
    """
    jpeg = large_jpeg()
    rows = [{"index": i, "question": f"What is the color of the sign {i}?", "answer": "A", "category": "single",
             "A": "red", "B": "blue", "C": "green", "D": "white", "cycle_category": i % 4,
             "image": base64.b64encode(with_comment(jpeg, f"row {i}")).decode()} for i in range(n)]
    kw = {"write_batch_size": 1, "data_page_size": 1 << 20, "use_dictionary": False} if layout == "page_per_row" else {}
    return write_rows(path, rows, **kw)
