"""The run folder (design section 7): one writer at a time, the config its records belong to, and faults of the
machine reported in one line with nothing lost.

- One writer: an exclusive advisory lock (`fcntl.flock`) on `<run>/.lock` — and under torchrun one per rank shard,
  `<run>/shards/rank{r}.lock` — held for the run's lifetime and released by the OS when the process ends, however it
  ends. The lock file names its holder (pid, host, start time) for the one-line refusal a second writer gets.
- Config identity: `<run>/config_identity.json` holds the result-affecting config (`config_identity`: everything
  but `NOT_IN_IDENTITY`) and its hash. Resuming with another hash is refused with the differing keys; a folder that
  holds no record yet takes the new config. Each start is listed under `runs` (time, host, pid, overrides).
- `.hydra/` stays the config of the run that made the records: Hydra writes it only into a folder without records
  (`hydra_output_subdir`, the resolver behind `hydra.output_subdir` in conf/config.yaml).
- Faults of the machine (disk full, read-only folder, permission denied) end in one line naming the path
  (`environment_error`); every record already written stays, and the same command resumes.
- Content identity: each record holds the `fingerprint` of the sample it answered (focus/data/base.py). A resume
  keeps a record only when the dataset still yields its id with the same fingerprint (`resume_plan`); a record whose
  sample changed is redone in place and the run says so in one line. Records without a fingerprint (older versions)
  are kept. `config_identity.json` also holds `dataset_files` (size, mtime, and a content hash of files below
  focus/data/tabular.py HASH_BELOW_BYTES, of every file with `run.verify_data=true`) and `expected_samples`; it is
  informational (the per-record fingerprints decide), so a changed file is reported, not refused.
- A folder holding records but no `config_identity.json` cannot say which config made them: a run refuses it.
- Metrics count only the records of the samples the run takes (a shrunk `dataset.limit` leaves the others in the
  file, unreported) and say whether that is all of them (`complete`, `expected`).
"""

from __future__ import annotations

import copy
import errno
import fcntl
import hashlib
import json
import os
import socket
import tempfile
import time
from pathlib import Path

from .. import FocusError
from .records import RecordWriter, fold_retries, merge_shards, read_records, write_json

IDENTITY_FILE = "config_identity.json"
LOCK_FILE = ".lock"

# Settings that do not change any sample's result: logging, where files go, which device runs it, how many samples.
# Growing `dataset.limit` on a resume is how a run is extended.
NOT_IN_IDENTITY = ("logger", "run", "run_dir", "tiny_cache_dir", "dataset.limit", "dataset.loader.limit",
                   "model.adapter.tiny_cache_dir", "model.adapter.device")
# Paths compared by the file they name (`data/x.tsv` and `/abs/data/x.tsv` are one dataset).
PATH_KEYS = ("dataset.path", "dataset.loader.path", "model.path", "model.adapter.path")

# errno values that are faults of the machine, not of the config: one line naming the path, then resume.
ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}
_HINTS = {errno.ENOSPC: "free disk space", errno.EDQUOT: "free some of the disk quota",
          errno.EROFS: "use a writable run_dir", errno.EACCES: "fix the permissions",
          errno.EPERM: "fix the permissions", errno.EIO: "check the disk"}


def environment_error(exc: OSError) -> str:
    """One line for a fault of the machine: what, which path, and that the same command resumes."""
    name = errno.errorcode.get(exc.errno, "OSError")
    return (f"focus: {exc.strerror or exc} ({name}): {exc.filename or 'unknown path'}; the records already written "
            f"are kept: {_HINTS.get(exc.errno, 'fix it')}, then run the same command to resume")


def writable_problem(folder: str | os.PathLike) -> str | None:
    """A one-line message when `folder` (or the nearest existing folder above it) cannot be written, else None."""
    target = Path(folder).expanduser().absolute()
    while not target.exists() and target != target.parent:
        target = target.parent
    if not target.is_dir():
        return f"focus: run_dir {folder} cannot be created: {target} is a file"
    try:
        tempfile.TemporaryFile(dir=target).close()
    except OSError as exc:
        return environment_error(OSError(exc.errno, exc.strerror, str(target)))
    return None


# ------------------------------------------------------------------------------------------------------------ lock
class FolderLock:
    """An exclusive, non-blocking `flock` on `path`; the file says who holds it."""

    def __init__(self, path: Path, what: str):
        self.path, self.what = Path(path), what
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # no O_TRUNC: the holder's name must survive
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(os.pread(fd, 4096, 0))
            os.close(fd)
            raise FocusError(f"{self.what} is in use by {holder} (lock {self.path}); wait for that run to end, or "
                             f"choose another run_dir=") from None
        except BaseException:
            os.close(fd)
            raise
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)  # a stale name would mislead; the lock itself goes with the descriptor
            except OSError:
                pass
            os.close(self._fd)
            self._fd = None


def _holder(raw: bytes) -> str:
    try:
        info = json.loads(raw)
        return f"pid {info['pid']} on host {info['host']} (since {info['since']})"
    except (ValueError, KeyError, TypeError):
        return "another process (it has not written its name yet)"


# -------------------------------------------------------------------------------------------------------- identity
def _pop(tree: dict, dotted: str) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        tree = tree.get(key) if isinstance(tree, dict) else None
        if tree is None:
            return
    if isinstance(tree, dict):
        tree.pop(leaf, None)


def config_identity(config: dict) -> dict:
    """The result-affecting part of a resolved config (a plain dict): `config` less `NOT_IN_IDENTITY`, with local
    paths made absolute."""
    identity = copy.deepcopy(config)
    for dotted in NOT_IN_IDENTITY:
        _pop(identity, dotted)
    for dotted in PATH_KEYS:
        *parents, leaf = dotted.split(".")
        node = identity
        for key in parents:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        value = node.get(leaf) if isinstance(node, dict) else None
        if isinstance(value, str) and value and Path(value).expanduser().exists():
            node[leaf] = os.path.realpath(Path(value).expanduser())
    return identity


def identity_hash(identity: dict) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _short(value) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def identity_diff(old: dict, new: dict, prefix: str = "") -> list[str]:
    """'key: old -> new' for every differing value, 'key: ...' for keys on one side only; values first."""
    changed, one_side = [], []
    for key in sorted(set(old) | set(new)):
        dotted = f"{prefix}{key}"
        if key not in new:
            one_side.append(f"{dotted}: only in the folder's config")
        elif key not in old:
            one_side.append(f"{dotted}: not in the folder's config")
        elif isinstance(old[key], dict) and isinstance(new[key], dict):
            sub = identity_diff(old[key], new[key], dotted + ".")
            changed += [d for d in sub if " -> " in d]
            one_side += [d for d in sub if " -> " not in d]
        elif old[key] != new[key]:
            changed.append(f"{dotted}: {_short(old[key])} -> {_short(new[key])}")
    return changed + one_side


def hydra_output_subdir(output_dir: str) -> str | None:
    """`.hydra` unless the folder already holds records of a run whose `.hydra/` is there: Hydra rewrites
    `.hydra/` at every start, which would relabel the records with the resuming command's overrides."""
    folder = Path(output_dir)
    if (folder / ".hydra" / "config.yaml").exists() and RunFolder(folder).has_records():
        return None
    return ".hydra"


# ---------------------------------------------------------------------------------------------------------- folder
class RunFolder:
    """A run folder seen by one process: rank `rank` of `world` (1 without torchrun). Use as a context manager: the
    locks are held inside it."""

    def __init__(self, path: str | os.PathLike, rank: int = 0, world: int = 1):
        self.path = Path(path)
        self.rank, self.world = rank, world
        self.merged = self.path / "samples.jsonl"
        self.shards = self.path / "shards"
        self.own = self.merged if world == 1 else self.shards / f"samples.rank{rank}.jsonl"
        self.locks = []
        if rank == 0:  # rank 0 (or the only process) writes samples.jsonl, the identity and metrics.json
            self.locks.append(FolderLock(self.path / LOCK_FILE, f"run folder {self.path}"))
        if world > 1:
            self.locks.append(FolderLock(self.shards / f"rank{rank}.lock", f"shard {rank} of run folder {self.path}"))

    def __enter__(self) -> "RunFolder":
        try:
            for lock in self.locks:
                lock.acquire()
        except BaseException:
            self.release()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def release(self) -> None:
        for lock in self.locks:
            lock.release()

    # --------------------------------------------------------------------------------------------------- records
    def shard_files(self) -> list[Path]:
        return sorted(self.shards.glob("samples.rank*.jsonl"))

    def has_records(self) -> bool:
        return any(p.exists() and p.stat().st_size > 0 for p in [self.merged, *self.shard_files()])

    def kept_records(self, retry_errors: bool) -> list[dict]:
        """Records whose ids this process skips: every record (with `retry_errors`, only those without error)."""
        for path in {self.merged if self.rank == 0 else self.own, self.own}:
            fold_retries(path)  # replacements a killed run left in the side file
        records = read_records(self.merged) + (read_records(self.own) if self.own != self.merged else [])
        return [r for r in records if not (retry_errors and r.get("error"))]

    def done_ids(self, retry_errors: bool) -> set:
        return {r["id"] for r in self.kept_records(retry_errors)}

    def writer(self) -> RecordWriter:
        return RecordWriter(self.own)

    def merge(self) -> None:
        if self.world > 1:
            merge_shards(self.shard_files(), self.merged)

    def records(self) -> list[dict]:
        return read_records(self.merged)

    def resume_plan(self, plan: list[tuple[str, str]], retry_errors: bool) -> tuple[list[dict], list[str]]:
        """The records this process keeps for the samples `plan` (id, fingerprint) lists, and the ids whose record
        answered another version of the sample (redone). With `retry_errors` error records are not kept either."""
        wanted = dict(plan)
        kept, changed = [], []
        for r in self.kept_records(retry_errors):
            if r["id"] not in wanted:
                continue
            if r.get("fingerprint") not in (None, wanted[r["id"]]):
                changed.append(r["id"])
                continue
            kept.append(r)
        return kept, changed

    def records_for(self, plan: list[tuple[str, str]]) -> list[dict]:
        """The merged records of the samples in `plan`, in the plan's order (records outside it stay in the file)."""
        by_id = {r["id"]: r for r in self.records()}
        return [by_id[i] for i, _ in plan if i in by_id]

    def holder(self) -> str | None:
        """Who holds the folder's lock now (a run still writing it), or None."""
        path = self.path / LOCK_FILE
        if not path.exists():
            return None
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        except BlockingIOError:
            return _holder(os.pread(fd, 4096, 0))
        finally:
            os.close(fd)

    # -------------------------------------------------------------------------------------------------- identity
    def stored_identity(self) -> dict | None:
        path = self.path / IDENTITY_FILE
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except ValueError as exc:
            raise FocusError(f"{path} is not valid JSON ({exc}); restore it or start a new run_dir=") from None

    def check_identity(self, config: dict) -> None:
        """Refuse to add records of `config` (resolved, plain) to records of another config."""
        stored = self.stored_identity()
        if not self.has_records():
            return
        if stored is None:
            raise FocusError(f"run folder {self.path} holds records but no {IDENTITY_FILE}: the config that made them "
                             f"is unknown; start a new folder: run_dir=<new folder> (or restore the file)")
        identity = config_identity(config)
        if identity_hash(identity) == stored.get("config_hash"):
            return
        diffs = identity_diff(stored.get("identity", {}), identity) or ["(the stored hash differs)"]
        more = f"; and {len(diffs) - 4} more" if len(diffs) > 4 else ""
        raise FocusError(f"run folder {self.path} holds results of another config ({'; '.join(diffs[:4])}{more}); "
                         f"to run this config start a new folder: run_dir=<new folder> (or leave run_dir unset)")

    def save_identity(self, config: dict, overrides: list[str] | None = None, dataset_files: list | None = None,
                      expected: int | None = None) -> str | None:
        """Record the identity of `config` and this start (rank 0), with the dataset's files (size, mtime, hash) and
        the number of samples this start takes. Returns a one-line note when the files differ from the stored ones."""
        stored = self.stored_identity() if self.has_records() else None
        identity = config_identity(config)
        runs = (stored or {}).get("runs", [])
        runs.append({"started": time.strftime("%Y-%m-%d %H:%M:%S"), "host": socket.gethostname(),
                     "pid": os.getpid(), "world_size": self.world, "overrides": list(overrides or []),
                     "expected_samples": expected})
        content = {"config_hash": identity_hash(identity), "not_in_identity": list(NOT_IN_IDENTITY),
                   "identity": identity, "dataset_files": dataset_files or [], "expected_samples": expected,
                   "runs": runs}
        write_json(self.path / IDENTITY_FILE, content)
        return data_change_note((stored or {}).get("dataset_files"), dataset_files or [])


def data_change_note(old: list | None, new: list) -> str | None:
    """One line naming the dataset files whose content (hash, else size or mtime) differs from the stored ones."""
    if not old:
        return None
    before = {f["file"]: f for f in old}
    changed = []
    for f in new:
        o = before.get(f["file"])
        if o is None:
            continue
        if ("blake2b" in f and "blake2b" in o and f["blake2b"] != o["blake2b"]) or f["size"] != o["size"] or \
                (("blake2b" not in f or "blake2b" not in o) and f["mtime_ns"] != o["mtime_ns"]):
            changed.append(f["file"])
    if not changed:
        return None
    return (f"focus: dataset file {', '.join(changed)} changed since this folder's records were written; records "
            f"whose sample changed are redone, the others kept")

