"""Results stay true when the data changes (focus/data/base.py, focus/harness/runfolder.py): content fingerprints in
records, content-derived and duplicate-free ids, options that keep their letters, bounded and correctly converted
images, one bad TSV row an error record, a shrunk limit reported right. Runs are in-process (tiny LLaVA-1.5,
method=vanilla: one forward pass per sample) on small generated files."""

import base64
import csv
import io
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from test_configs import compose_cfg

from focus import FocusError
from focus.data import base as data_base
from focus.data.base import open_image_bytes
from focus.data.hrbench import HRBench
from focus.data.vstar import VStarBench
from focus.harness.records import RecordWriter, read_records, retries_path

VANILLA = ("method=vanilla", "logger.wandb.mode=disabled")


def image_bytes(im: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


def b64(im, fmt="PNG") -> str:
    return base64.b64encode(image_bytes(im, fmt)).decode()


def grey16(value: int = 32896, size=(64, 48)) -> Image.Image:
    return Image.fromarray(np.full((size[1], size[0]), value, dtype=np.uint16))


def hr_row(index, question, answer="A", image=None, **options):
    opts = {"A": "red", "B": "blue", "C": "green", "D": "white", **options}
    return {"index": index, "question": question, "answer": answer, "category": "single", **opts,
            "cycle_category": 0, "image": image or b64(Image.new("RGB", (96, 64), (200, 30, 30)))}


def write_tsv(path, rows, bad_row: int | None = None):
    """A VLMEvalKit-style TSV; `bad_row` (1-based) gets a byte that is not UTF-8 in its question."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    lines = buf.getvalue().encode().split(b"\n")
    if bad_row is not None:
        lines[bad_row] = lines[bad_row].replace(b"Q", b"Q\xff", 1)
    path.write_bytes(b"\n".join(lines))
    return path


def messy_rows():
    palette = Image.new("RGB", (80, 60), (0, 0, 255)).convert("P")
    return [hr_row("", "Q0 colour?"),                                    # no id: derived from the content
            hr_row("", "Q1 colour?", image=b64(grey16())),                 # no id; 16-bit greyscale
            hr_row(5, "Q2 colour?", B=""),                                 # blank B between filled options
            hr_row(6, "Q3 colour?", image=b64(Image.new("RGB", (20000, 50)))),  # over the per-sample bound
            hr_row(7, "Q4 colour?"),                                       # not UTF-8 (written by write_tsv)
            hr_row(8, "Q5 colour?", answer="B", image=b64(palette))]


def run_inprocess(tiny_cache, run_dir, *overrides):
    from focus.harness.runner import run
    cfg = compose_cfg([*VANILLA, f"tiny_cache_dir={tiny_cache}", *overrides])
    return run(cfg, run_dir)


def by_id(run):
    return {r["id"]: r for r in read_records(run / "samples.jsonl")}


@pytest.fixture(scope="module")
def messy_run(tmp_path_factory, tiny_cache):
    root = tmp_path_factory.mktemp("messy")
    data = write_tsv(root / "data.tsv", messy_rows(), bad_row=5)
    status = run_inprocess(tiny_cache, root / "run", "dataset=hrbench4k", f"dataset.path={data}")
    return root, data, status


def test_bad_rows_are_error_records_naming_the_row(messy_run):
    """Bugs caught: options moved up a letter over a blank cell, a non-UTF-8 byte ending the run, a 20000x50 image
    decoded (and padded), ids from row numbers or empty cells overwriting each other."""
    root, data, status = messy_run
    recs = read_records(root / "run" / "samples.jsonl")
    assert status == 1 and len(recs) == 6 and len({r["id"] for r in recs}) == 6
    errors = {r["id"]: r["error"] for r in recs if r["error"]}
    assert set(errors) == {"5", "6", "7"}
    assert "row 3 of data.tsv: option B is blank between filled options (A, C, D are filled)" in errors["5"]
    assert "row 4 of data.tsv is 20000x50 pixels, over the per-sample limit" in errors["6"]
    assert "row 5 of data.tsv: column 'question' is not valid UTF-8 (byte 0xff" in errors["7"]
    ok = [r for r in recs if not r["error"]]
    assert [r["question"] for r in ok] == ["Q0 colour?", "Q1 colour?", "Q5 colour?"]
    assert all(r["id"].startswith("h") for r in ok[:2]) and ok[2]["id"] == "8"
    assert all(len(r["fingerprint"]) == 16 for r in recs)
    identity = json.loads((root / "run" / "config_identity.json").read_text())
    assert identity["expected_samples"] == 6 and identity["dataset_files"][0]["size"] == data.stat().st_size
    assert "blake2b" in identity["dataset_files"][0]


def test_changed_sample_is_redone_and_a_shrunk_limit_reports_its_own_n(messy_run, tmp_path, tiny_cache, capsys):
    """An answer letter edited under the same id: the record is redone with the new label (bug caught: a resume
    that keys on ids only keeps the stale label); untouched records are not redone. Then `dataset.limit=3` on the
    same folder reports n=3 (bug caught: metrics over every record in the file)."""
    root, data, _ = messy_run
    run = tmp_path / "run"
    shutil.copytree(root / "run", run)
    before = by_id(run)
    rows = messy_rows()
    rows[5]["answer"] = "C"
    write_tsv(data.parent / "edited.tsv", rows, bad_row=5)
    shutil.copy(data.parent / "edited.tsv", data)
    capsys.readouterr()
    assert run_inprocess(tiny_cache, run, "dataset=hrbench4k", f"dataset.path={data}") == 1
    err = capsys.readouterr().err
    assert f"focus: dataset file {data.resolve()} changed since this folder's records were written" in err
    assert "focus: 1 record(s) answered a sample that has changed since (ids 8); redoing them" in err
    after = by_id(run)
    assert after["8"]["label"] == "C" and after["8"]["fingerprint"] != before["8"]["fingerprint"]
    untouched = [i for i in before if i != "8"]
    assert all(after[i]["seconds"] == before[i]["seconds"] for i in untouched)
    assert not retries_path(run / "samples.jsonl").exists()
    assert run_inprocess(tiny_cache, run, "dataset=hrbench4k", f"dataset.path={data}", "dataset.limit=3") == 1
    metrics = json.loads((run / "metrics.json").read_text())
    assert (metrics["n"], metrics["expected"], metrics["complete"], metrics["errors"]) == (3, 3, True, 1)
    assert len(read_records(run / "samples.jsonl")) == 6  # nothing already written is lost


def vstar_line(image, text, label="A", **extra):
    return json.dumps({"image": image, "text": text, "category": "direct_attributes", "label": label, **extra})


def make_vstar_folder(root, lines, n_images=3):
    (root / "direct_attributes").mkdir(parents=True, exist_ok=True)
    for i in range(n_images):
        (root / "direct_attributes" / f"{i}.jpg").write_bytes(
            image_bytes(Image.new("RGB", (120, 90), (40 * i, 80, 200)), "JPEG"))
    (root / "test_questions.jsonl").write_text("\n".join(lines) + "\n")
    return root


def test_ids_without_an_id_column_survive_an_inserted_row(tmp_path, tiny_cache):
    """V* lines without question_id: inserting a line asks the new question and keeps the others' records (bug
    caught: ids from line numbers, which score one question twice and never ask the new one)."""
    lines = [vstar_line(f"direct_attributes/{i}.jpg", f"What colour is thing {i}?\n(A) red\n(B) blue") for i in range(2)]
    data = make_vstar_folder(tmp_path / "vstar", lines)
    run = tmp_path / "run"
    assert run_inprocess(tiny_cache, run, "dataset=vstar", f"dataset.path={data}") == 0
    first = by_id(run)
    assert len(first) == 2 and all(i.startswith("h") for i in first)
    new = vstar_line("direct_attributes/2.jpg", "What colour is thing 2?\n(A) red\n(B) blue")
    (data / "test_questions.jsonl").write_text("\n".join([new, *lines]) + "\n")
    assert run_inprocess(tiny_cache, run, "dataset=vstar", f"dataset.path={data}") == 0
    second = by_id(run)
    assert len(second) == 3 and {r["question"] for r in second.values()} == {f"What colour is thing {i}?"
                                                                              for i in range(3)}
    assert all(second[i]["seconds"] == first[i]["seconds"] for i in first)


def test_duplicate_ids_after_normalising_are_refused(tmp_path):
    """`7` and `"7"` (and `7.0`) are one id: refused when the dataset is opened, naming the lines (bug caught: two
    records overwriting each other, 13 rows giving 11 records)."""
    lines = [vstar_line("direct_attributes/0.jpg", "Q a?\n(A) x\n(B) y", question_id=7),
             vstar_line("direct_attributes/1.jpg", "Q b?\n(A) x\n(B) y", question_id="7"),
             vstar_line("direct_attributes/2.jpg", "Q c?\n(A) x\n(B) y", question_id=7.0)]
    data = make_vstar_folder(tmp_path / "vstar", lines)
    with pytest.raises(FocusError) as info:
        VStarBench(path=str(data)).scan()
    assert str(info.value) == ("dataset vstar: 1 duplicate id(s) (id '7' in line 1 of test_questions.jsonl, line 2 "
                               "of test_questions.jsonl, line 3 of test_questions.jsonl); each question needs its "
                               "own id: fix the id column (or clear it to derive ids from the content)")


def test_duplicate_ids_exit_2_before_the_model_loads(tmp_path, tiny_cache):
    """The command line: one line, exit 2, no record (a real process: the exit status is what is tested)."""
    from test_end_to_end import focus_run, one_line
    rows = [hr_row(3, "Q a?"), hr_row("3.0", "Q b?"), hr_row("", "Q c?"), hr_row("", "Q c?")]
    data = write_tsv(tmp_path / "dup.tsv", rows)
    proc = focus_run(*VANILLA, "dataset=hrbench4k", f"dataset.path={data}", "model.path=/nonexistent",
                     run_dir=tmp_path / "run", tiny_cache=tiny_cache)
    assert proc.returncode == 2
    line = one_line(proc)
    assert line.startswith("focus: error: dataset hrbench: 2 duplicate id(s) (id '3' in row 1 of dup.tsv, row 2 of "
                           "dup.tsv; id 'h"), line
    assert "in row 3 of dup.tsv, row 4 of dup.tsv)" in line
    assert not (tmp_path / "run" / "samples.jsonl").exists()


def test_options_keep_their_letters(tmp_path):
    """Trailing blanks shorten the list; a blank between filled cells is the row's error (bug caught: C, D moved up
    to B, C while the answer letter stays)."""
    rows = [hr_row(0, "Q?", answer="B", C="", D=""), hr_row(1, "Q?", answer="C", B="")]
    samples = list(HRBench(path=str(write_tsv(tmp_path / "o.tsv", rows))))
    assert (samples[0].options, samples[0].error) == (["red", "blue"], None)
    assert samples[1].error == "row 2 of o.tsv: option B is blank between filled options (A, C, D are filled)"


def test_image_modes_and_bounds(monkeypatch):
    """16-bit grey is scaled (bug caught: convert('RGB') clips it to white), palette and CMYK keep their colours, and
    the size is refused from the header (bug caught: the check after load() decodes the bomb first)."""
    assert open_image_bytes(image_bytes(grey16(32896))).getpixel((3, 3)) == (128, 128, 128)
    assert open_image_bytes(image_bytes(grey16(65535))).getpixel((0, 0)) == (255, 255, 255)
    pal = Image.new("RGB", (40, 30), (0, 0, 255)).convert("P")
    assert open_image_bytes(image_bytes(pal)).getpixel((5, 5)) == (0, 0, 255)
    cmyk = open_image_bytes(image_bytes(Image.new("RGB", (40, 30), (220, 30, 30)).convert("CMYK"), "JPEG"))
    assert np.allclose(cmyk.getpixel((5, 5)), (220, 30, 30), atol=12)
    with pytest.raises(ValueError, match=r"image row 9 is 20000x50 pixels, over the per-sample limit"):
        open_image_bytes(image_bytes(Image.new("L", (20000, 50))), "row 9")
    monkeypatch.setattr(data_base, "MAX_IMAGE_PIXELS", 100 * 100)
    raw = image_bytes(Image.new("RGB", (101, 100)))
    loads = []
    monkeypatch.setattr(Image.Image, "load", lambda self: loads.append(1))
    with pytest.raises(ValueError, match=r"is 101x100 pixels"):
        open_image_bytes(raw, "x")
    assert loads == []  # refused from the header


def test_retries_cost_one_rewrite(tmp_path, monkeypatch):
    """Each retried record is appended to a side file and folded in once (bug caught: a rewrite of the whole file
    per retry, quadratic); a kill before the fold is repaired by the next writer, each id once."""
    from focus.harness import records as records_module
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps({"id": str(i), "error": "x"}) + "\n" for i in range(50)))
    rewrites = []
    real = records_module.rewrite_records
    monkeypatch.setattr(records_module, "rewrite_records", lambda p, r: (rewrites.append(p), real(p, r)))
    writer = RecordWriter(path)
    for i in range(50):
        writer.put({"id": str(i), "error": None, "n": i})
    assert rewrites == [] and len(read_records(path)) == 50  # readers see each id once meanwhile
    writer.close()
    assert len(rewrites) == 1 and [r["n"] for r in read_records(path)] == list(range(50))
    writer = RecordWriter(path)
    writer.put({"id": "3", "error": None, "n": "again"})
    writer._side.close()  # killed before close(): the side file stays
    RecordWriter(path).close()
    recs = read_records(path)
    assert len(recs) == 50 and recs[3]["n"] == "again" and not retries_path(path).exists()


def test_cpu_peak_memory_is_per_sample():
    """VmHWM is reset between samples (bug caught: every record after a big one reports the big one's peak)."""
    from focus.harness.resume import reset_peak_rss
    from focus.harness.runner import peak_rss_bytes
    if not reset_peak_rss():
        pytest.skip("the kernel does not allow resetting VmHWM here")
    blob = bytearray(96 << 20)
    blob[::4096] = b"x" * len(blob[::4096])
    high = peak_rss_bytes()
    del blob
    assert reset_peak_rss()
    assert peak_rss_bytes() < high - (64 << 20)


def test_id_normalisation():
    """One id for 7, 7.0, "7", " 7.0 "; none for blank cells; leading zeros and non-integers kept (bug caught:
    `str(value)` giving "7" and "7.0" two ids, or a NaN cell the id "nan" shared by every empty row)."""
    from focus.data.base import normalise_id
    assert {normalise_id(v) for v in (7, 7.0, "7", " 7.0 ")} == {"7"}
    assert [normalise_id(v) for v in (None, float("nan"), "", " ", "nan")] == [None] * 5
    assert [normalise_id(v) for v in ("007", "3.5", "q-1")] == ["007", "3.5", "q-1"]
