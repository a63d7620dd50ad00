"""Peak memory of iterating HR-Bench 8K-sized files (issue 5: images decoded lazily, never all held).

Each probe runs in a fresh interpreter and reports its peak RSS (VmHWM) above the peak after imports. Holding
every row would add at least the file size; holding every decoded 8K image would add n x 99.5 MB.
"""

import json
import os
import subprocess
import sys

import pytest

from fixtures import EIGHT_K, make_large_hrbench
from test_end_to_end import focus_run, records

N_ROWS = 32
DECODED_MB = EIGHT_K[0] * EIGHT_K[1] * 3 / 2 ** 20  # one decoded RGB 8K image: 94.9 MiB

PROBE = """
import json, sys
import pyarrow.parquet, PIL.Image  # imported before the baseline: their code is not data
from focus.data.hrbench import HRBench
from focus.harness.runner import peak_rss_bytes

def rss_mb():
    return peak_rss_bytes() / 2 ** 20

dataset = HRBench(path=sys.argv[1])
decode = sys.argv[2] == "decode"
base, n, sizes = rss_mb(), 0, set()
for sample in dataset:
    n += 1
    if decode:
        image = sample.load_image()
        sizes.add(image.size)
        del image
print(json.dumps({"n": n, "peak_above_base_mb": rss_mb() - base, "sizes": sorted(sizes)}))
"""


def probe(path, mode) -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE, str(path), mode], capture_output=True, text=True,
                          timeout=300, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    print(path.name, mode, out)
    return out


@pytest.fixture(scope="module", params=[".parquet", ".tsv"])
def large_file(request, tmp_path_factory):
    return make_large_hrbench(tmp_path_factory.mktemp("hr8k") / f"hr_bench_8k{request.param}", N_ROWS)


def test_rows_stream_without_holding_the_file(large_file):
    file_mb = large_file.stat().st_size / 2 ** 20
    out = probe(large_file, "rows")
    assert out["n"] == N_ROWS
    # measured: +70 MB for a 250 MB file (and the same +70 MB for a 375 MB one); holding all rows is >= file size
    assert out["peak_above_base_mb"] < 0.4 * file_mb, (out, file_mb)


def test_images_decode_one_at_a_time(large_file):
    out = probe(large_file, "decode")
    assert out["n"] == N_ROWS and out["sizes"] == [list(EIGHT_K)]
    # measured: +205 MB (about two decoded images alive at once); holding all would be N_ROWS x 95 MB = 3 GB
    assert out["peak_above_base_mb"] < 3 * DECODED_MB, out


def test_runner_peak_memory_stays_flat(tmp_path, tiny_cache):
    """`python -m focus.run dataset=hrbench8k` on 8K images: peak RSS after the 2nd sample == after the last."""
    path = make_large_hrbench(tmp_path / "hr_bench_8k.parquet", 5)
    run_dir = tmp_path / "run"
    proc = focus_run("model=tiny_llava15", "dataset=hrbench8k", f"dataset.path={path}", "logger.wandb.mode=disabled",
                     run_dir=run_dir, tiny_cache=tiny_cache, subprocess_=True)  # the peak RSS of its own process
    assert proc.returncode == 0, proc.stderr[-3000:]
    peaks_gb = [r["peak_memory_gb"] for r in records(run_dir)]
    assert len(peaks_gb) == 5 and all(r.get("error") is None for r in records(run_dir))
    # measured: 1.390, 1.4292, 1.4293, 1.4294, 1.4295 GB; keeping each sample's image would add ~0.1 GB per sample
    assert peaks_gb[-1] - peaks_gb[1] < 0.5 * DECODED_MB / 1024, peaks_gb
