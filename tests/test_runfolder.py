"""The run folder never lies (focus/harness/runfolder.py, focus/harness/records.py): one writer at a time, records of one config,
faults of the machine in one line with nothing lost, and the same command resumes."""

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

from test_end_to_end import FOCUS_ENV, ROOT, focus_args, focus_run, one_line, records

from focus.harness.records import RecordWriter, read_records
from focus.harness.runfolder import RunFolder, config_identity, identity_diff, identity_hash

VANILLA = ("method=vanilla", "logger.wandb.mode=disabled")  # one forward pass per sample: the cheapest real run
IDS = [f"synthetic-{i}" for i in range(8)]


def can_unshare(*flags) -> bool:
    try:
        return subprocess.run(["unshare", *flags, "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="module")
def base_run(tmp_path_factory, tiny_cache):
    """A finished vanilla run of the first 2 synthetic samples; tests copy it."""
    run = tmp_path_factory.mktemp("base") / "run"
    proc = focus_run(*VANILLA, "dataset.limit=2", run_dir=run, tiny_cache=tiny_cache)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run


def copy_of(run, tmp_path):
    shutil.copytree(run, tmp_path / "run", symlinks=True)
    return tmp_path / "run"


# ---------------------------------------------------------------------------------------------------------- locks
def test_two_commands_on_one_folder_one_writer(tmp_path, tiny_cache):
    """Two `python -m focus.run run_dir=X` started at once: one runs, the other exits 2 naming the holder."""
    run = tmp_path / "run"
    args = focus_args(*VANILLA, "dataset.limit=4", run_dir=run, tiny_cache=tiny_cache)
    env = {**os.environ, **FOCUS_ENV}
    procs = [subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 2], [o[1][-2000:] for o in outs]
    winner, loser = (0, 1) if procs[0].returncode == 0 else (1, 0)
    line = one_line(subprocess.CompletedProcess(args, 2, *outs[loser]))
    import socket
    assert f"run folder {run} is in use by pid {procs[winner].pid} on host {socket.gethostname()}" in line
    assert [r["id"] for r in records(run)] == IDS[:4]  # each sample once
    assert json.loads((run / "metrics.json").read_text())["n"] == 4


LOCK_PROBE = textwrap.dedent("""
    import sys
    from focus import FocusError
    from focus.harness.runfolder import RunFolder
    try:
        with RunFolder(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])):
            print("acquired")
    except FocusError as exc:
        print(exc)
""")


def probe_lock(run, rank, world) -> str:
    proc = subprocess.run([sys.executable, "-c", LOCK_PROBE, str(run), str(rank), str(world)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_one_lock_per_rank_shard(tmp_path):
    """torchrun ranks share a folder (a lock per shard, rank 0 also holds the folder's); a second process for the
    same rank, or a single-process run of the same folder, is refused; the OS frees the locks when a holder exits."""
    run = tmp_path / "run"
    with RunFolder(run, 0, 2), RunFolder(run, 1, 2):  # this process plays both ranks of a running torchrun
        assert probe_lock(run, 1, 2).startswith(f"shard 1 of run folder {run} is in use by pid {os.getpid()} ")
        assert probe_lock(run, 0, 1).startswith(f"run folder {run} is in use by pid {os.getpid()} ")
        with RunFolder(tmp_path / "other", 1, 2):  # another folder (another SLURM job): its own locks
            pass
    assert probe_lock(run, 1, 2) == "acquired" and probe_lock(run, 0, 1) == "acquired"


# -------------------------------------------------------------------------------------------------------- records
def test_record_file_repair_and_replacement(tmp_path):
    path = tmp_path / "samples.jsonl"
    good = [{"id": "a", "error": None}, {"id": "b", "error": "ValueError: x"}, {"id": "c", "error": None}]
    path.write_text("".join(json.dumps(r) + "\n" for r in good) + '{"id": "d", "err')  # a kill mid-line
    writer = RecordWriter(path)  # opening for a resume drops the torn line
    assert path.read_text() == "".join(json.dumps(r) + "\n" for r in good)
    writer.put({"id": "b", "error": None, "retried": True})  # a retry: in place, through a rename
    writer.put({"id": "d", "error": None})  # a new id: appended
    writer.close()
    assert [(r["id"], r.get("retried")) for r in read_records(path)] == [("a", None), ("b", True), ("c", None),
                                                                        ("d", None)]
    assert not list(tmp_path.glob(".*.tmp"))
    # an older version appended retried records after their error records: one record per id, the successful one
    path.write_text("".join(json.dumps(r) + "\n" for r in good + [{"id": "b", "error": None}]))
    RecordWriter(path).close()
    assert [(r["id"], r["error"]) for r in read_records(path)] == [("a", None), ("b", None), ("c", None)]


# ------------------------------------------------------------------------------------------------------- identity
def test_identity_ignores_logging_places_and_limit(tmp_path):
    (tmp_path / "data.tsv").write_text("x")
    cfg = {"seed": 0, "method": {"name": "focus", "k": 3}, "logger": {"wandb": {"mode": "offline"}},
           "run_dir": "a", "tiny_cache_dir": None, "run": {"retry_errors": False},
           "dataset": {"name": "hr", "limit": 2, "path": str(tmp_path / "data.tsv"),
                       "loader": {"limit": 2, "path": str(tmp_path / "data.tsv")}},
           "model": {"adapter": {"device": "cpu", "tiny_cache_dir": "x", "torch_dtype": "float32"}}}
    same = json.loads(json.dumps(cfg))
    same.update(run_dir="b", logger={"wandb": {"mode": "disabled"}}, run={"retry_errors": True})
    same["dataset"].update(limit=5, path="data.tsv")  # relative to the current folder: the same file
    same["dataset"]["loader"]["limit"] = 5
    same["model"]["adapter"].update(device="cuda", tiny_cache_dir="y")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert identity_hash(config_identity(cfg)) == identity_hash(config_identity(same))
    finally:
        os.chdir(cwd)
    other = json.loads(json.dumps(cfg))
    other["method"] = {"name": "vanilla"}
    other["model"]["adapter"]["torch_dtype"] = "bfloat16"
    assert identity_diff(config_identity(cfg), config_identity(other)) == [
        'method.name: "focus" -> "vanilla"', 'model.adapter.torch_dtype: "float32" -> "bfloat16"',
        "method.k: only in the folder's config"]


def test_resume_with_another_config_is_refused(base_run, tmp_path, tiny_cache):
    run = copy_of(base_run, tmp_path)
    before = {p: (run / p).read_text() for p in ("samples.jsonl", ".hydra/overrides.yaml", ".hydra/config.yaml")}
    proc = focus_run("logger.wandb.mode=disabled", "dataset.limit=2", run_dir=run, tiny_cache=tiny_cache)  # FOCUS
    assert proc.returncode == 2
    line = one_line(proc)
    assert line.startswith(f"focus: error: run folder {run} holds results of another config (method._target_: "
                           f'"focus.methods.vanilla.Vanilla" -> "focus.methods.focus.Focus"; method.name: "vanilla" -> "focus"; ')
    assert line.endswith("to run this config start a new folder: run_dir=<new folder> (or leave run_dir unset)")
    proc = focus_run(*VANILLA, "inference_scheme.max_new_tokens=8", run_dir=run, tiny_cache=tiny_cache)
    assert proc.returncode == 2 and "(inference_scheme.max_new_tokens: 16 -> 8; " in one_line(proc)
    assert {p: (run / p).read_text() for p in before} == before  # nothing relabelled, .hydra/ untouched

    # growing dataset.limit (and changing logging) is a resume: 1 more sample, .hydra/ keeps the first run's command
    proc = focus_run("method=vanilla", "dataset.limit=3", "logger.wandb.mode=disabled", run_dir=run,
                     tiny_cache=tiny_cache)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [r["id"] for r in records(run)] == IDS[:3]
    assert (run / "samples.jsonl").read_text().startswith(before["samples.jsonl"])
    assert (run / ".hydra" / "overrides.yaml").read_text() == before[".hydra/overrides.yaml"]
    identity = json.loads((run / "config_identity.json").read_text())
    assert [[o for o in r["overrides"] if "limit" in o] for r in identity["runs"]] == [["dataset.limit=2"],
                                                                                     ["dataset.limit=3"]]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["method"] == "vanilla" and metrics["n"] == 3


def test_a_folder_without_records_takes_a_new_config(tmp_path):
    folder = RunFolder(tmp_path)
    folder.save_identity({"method": {"name": "focus"}})
    folder.check_identity({"method": {"name": "vanilla"}})  # nothing to relabel: allowed
    (tmp_path / "samples.jsonl").write_text('{"id": "a"}\n')
    folder.check_identity({"method": {"name": "focus"}})
    with pytest.raises(Exception, match='method.name: "focus" -> "vanilla"'):
        folder.check_identity({"method": {"name": "vanilla"}})


# --------------------------------------------------------------------------------------------- faults of the machine
def assert_resumes(run, before: str, tiny_cache, limit=3):
    """The same command, once the fault is gone: the earlier records unchanged, each id once."""
    proc = focus_run(*VANILLA, f"dataset.limit={limit}", run_dir=run, tiny_cache=tiny_cache)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (run / "samples.jsonl").read_text().startswith(before)
    assert [r["id"] for r in records(run)] == IDS[:limit]


@pytest.mark.skipif(not can_unshare("--user", "--map-root-user", "--mount"), reason="needs a mount namespace")
def test_read_only_run_folder(base_run, tmp_path, tiny_cache):
    run = copy_of(base_run, tmp_path)
    before = (run / "samples.jsonl").read_text()
    script = f'mount --bind "{run}" "{run}" && mount -o remount,ro,bind "{run}" "{run}" && exec "$@"'
    proc = focus_run(*VANILLA, "dataset.limit=3", run_dir=run, tiny_cache=tiny_cache,
                     prefix=("unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh"))
    assert proc.returncode == 2
    assert one_line(proc) == (f"focus: Read-only file system (EROFS): {run}; the records already written are kept: "
                              f"use a writable run_dir, then run the same command to resume")
    assert (run / "samples.jsonl").read_text() == before
    assert_resumes(run, before, tiny_cache)


def test_permission_denied(base_run, tmp_path, tiny_cache):
    """samples.jsonl cannot be written (root: run without root's override of file permissions)."""
    prefix = ()
    if os.geteuid() == 0:
        if not can_unshare("--user"):
            pytest.skip("root, and no user namespace to drop the permission override")
        prefix = ("unshare", "--user")
    run = copy_of(base_run, tmp_path)
    before = (run / "samples.jsonl").read_text()
    (run / "samples.jsonl").chmod(0o444)
    proc = focus_run(*VANILLA, "dataset.limit=3", run_dir=run, tiny_cache=tiny_cache, prefix=prefix)
    assert proc.returncode == 2
    assert one_line(proc) == (f"focus: Permission denied (EACCES): {run / 'samples.jsonl'}; the records already "
                              f"written are kept: fix the permissions, then run the same command to resume")
    (run / "samples.jsonl").chmod(0o644)
    assert_resumes(run, before, tiny_cache)


# The disk fills up during the run: on a small tmpfs (a mount namespace) a watcher fills the disk once the run has
# added a record (the next records fit in the file's last page for a while: at most 4 KB); without namespaces
# os.fsync of samples.jsonl reports ENOSPC at the run's second record instead.
TMPFS_SCRIPT = """
mount -t tmpfs -o size=32m tmpfs "$DISK" || exit 97
mkdir "$DISK/run" && cp -a "$BASE/." "$DISK/run/"
( while [ "$(wc -l < "$DISK/run/samples.jsonl")" -lt 3 ]; do sleep 0.02; done
  dd if=/dev/zero of="$DISK/filler" bs=1M 2>/dev/null; true ) &
WATCHER=$!
"$@" > "$OUT/stdout" 2> "$OUT/stderr"; echo $? > "$OUT/rc"
kill $WATCHER 2>/dev/null; wait
cp "$DISK/run/samples.jsonl" "$OUT/samples.jsonl"
"""
ENOSPC_SHIM = """
import errno, os, runpy, sys
fsync, seen = os.fsync, []
def full_disk_fsync(fd):
    if os.readlink(f"/proc/self/fd/{fd}").endswith("samples.jsonl"):
        seen.append(fd)
        if len(seen) >= 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return fsync(fd)
os.fsync = full_disk_fsync
sys.argv = ["focus.run", *sys.argv[1:]]
runpy.run_module("focus.run", run_name="__main__")
"""


def test_disk_full(base_run, tmp_path, tiny_cache):
    run = copy_of(base_run, tmp_path)
    before = (run / "samples.jsonl").read_text()
    args = focus_args(*VANILLA, "dataset.limit=8", run_dir=run, tiny_cache=tiny_cache)
    env = {**os.environ, **FOCUS_ENV}
    if can_unshare("--user", "--map-root-user", "--mount") and not os.environ.get("FOCUS_TEST_ENOSPC_SHIM"):
        disk, out = tmp_path / "disk", tmp_path / "out"
        disk.mkdir(), out.mkdir()
        args = focus_args(*VANILLA, "dataset.limit=8", run_dir=disk / "run", tiny_cache=tiny_cache)
        subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", TMPFS_SCRIPT, "sh", *args],
                       cwd=ROOT, env={**env, "DISK": str(disk), "BASE": str(run), "OUT": str(out)}, timeout=600)
        proc = subprocess.CompletedProcess(args, int((out / "rc").read_text()), (out / "stdout").read_text(),
                                           (out / "stderr").read_text())
        shutil.copy(out / "samples.jsonl", run / "samples.jsonl")  # what the full disk held, back on this disk
        path = disk / "run" / "samples.jsonl"
    else:
        proc = subprocess.run([sys.executable, "-c", ENOSPC_SHIM, *args[3:]], cwd=ROOT, capture_output=True,
                              text=True, timeout=600, env=env)
        path = run / "samples.jsonl"
    # the progress bar was on screen (stderr) when the disk filled: the message is the one line after it
    lines = [ln for ln in proc.stderr.splitlines() if not re.match(r"focus: +\d+%\|", ln)]  # bar refreshes
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "Logging error" not in proc.stderr
    assert [ln for ln in lines if ln.startswith("focus:")] == lines[-1:] == [
        f"focus: No space left on device (ENOSPC): {path}; the records already written are kept: free disk space, "
        f"then run the same command to resume"], proc.stderr[-3000:]
    left = (run / "samples.jsonl").read_text()
    assert left.startswith(before) and 3 <= len(read_records(run / "samples.jsonl")) <= 7
    assert_resumes(run, before, tiny_cache, limit=8)


# ---------------------------------------------------------------------------------------------------------- review
def test_visualize_a_killed_run_and_a_folder_that_is_not_a_run(base_run, tmp_path, capsys):
    from focus.review.visualize import main
    run = copy_of(base_run, tmp_path)
    (run / "metrics.json").unlink()  # killed before the end: the config identity names the dataset
    assert main([str(run), "--limit", "1"]) == 0
    assert [p.name for p in (run / "viz").glob("*.png")] == ["synthetic-0.png"]
    capsys.readouterr()
    assert main([str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err == f"focus.visualize: {tmp_path / 'nothing'} has no samples.jsonl: not a run folder, or no sample " \
                  f"has finished yet\n"
