"""Local copy or Hugging Face hub download for the benchmark loaders (offline or unreachable hub: one clear error
within seconds, focus/core/hub.py)."""

from __future__ import annotations

from pathlib import Path

from .. import FocusError
from ..core.hub import check_hub


def resolve_local_or_hub(path: str | None, hub_id: str, kind: str, filename: str | None = None) -> Path:
    """`dataset.path` when given (must exist), else the hub dataset (a snapshot folder or one file)."""
    if path:
        p = Path(path).expanduser()
        if not p.exists():
            raise FocusError(f"dataset.path {str(p)!r} does not exist")
        return p
    check_hub(hub_id, "dataset")
    try:
        from huggingface_hub import hf_hub_download, snapshot_download
        if kind == "file":
            return Path(hf_hub_download(hub_id, filename, repo_type="dataset"))
        return Path(snapshot_download(hub_id, repo_type="dataset"))
    except Exception as exc:  # offline, not cached, gated
        raise FocusError(f"cannot get dataset {hub_id!r} from the Hugging Face hub ({type(exc).__name__}); "
                         f"download it where the network is reachable and set dataset.path=<local copy>") from exc
