"""Reaching the Hugging Face hub: one short probe, then the local cache (design section 6: "loaders take a hub id
or a local path"; section 7: config errors before any model loads).

Without a network, huggingface_hub waits for each file of a checkpoint in turn (a 10 s metadata timeout, then a
60 s retry with back-off), so loading a model took minutes before failing. `check_hub` sends one HEAD request to the
hub's endpoint with a `PROBE_TIMEOUT_S` timeout (plain urllib: huggingface_hub's first request also fetches a
registry of its own, with its own timeout); when the hub cannot be reached, the process switches to offline mode
and every later load reads the local cache at once — or fails at once with the message of `unavailable`. When the
hub answers, it is asked whether the repository exists. `HF_HUB_OFFLINE=1` skips the probe.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

from .. import FocusError

PROBE_TIMEOUT_S = 2.0  # is the hub there at all
REPO_TIMEOUT_S = 10.0  # the hub answered: does it have the repository


def is_local(path: str) -> bool:
    return Path(path).expanduser().exists()


def offline() -> bool:
    from huggingface_hub import constants
    return bool(constants.HF_HUB_OFFLINE)


def go_offline(reason: str) -> None:
    """Offline mode for the rest of this process (and its children): read the local cache, never wait on the hub.

    huggingface_hub reads HF_HUB_OFFLINE once, at import, into `constants.HF_HUB_OFFLINE`, which its
    `is_offline_mode()` (and transformers) consult on every call; both are set."""
    from huggingface_hub import constants
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants.HF_HUB_OFFLINE = True
    print(f"focus: the Hugging Face hub cannot be reached ({reason}); using the local cache only", flush=True)


def check_hub(repo_id: str, repo_type: str = "model") -> None:
    """Probe the hub once for `repo_id`. Unreachable: switch to offline mode (the cache decides). A repository that
    the hub says does not exist (or is gated): a FocusError naming it."""
    if offline():
        return
    from huggingface_hub import HfApi, constants
    from huggingface_hub.errors import GatedRepoError, HFValidationError, RepositoryNotFoundError

    try:
        urllib.request.urlopen(urllib.request.Request(constants.ENDPOINT, method="HEAD"), timeout=PROBE_TIMEOUT_S)
    except urllib.error.HTTPError:
        pass  # the hub answered (an error status is still an answer)
    except (OSError, ValueError) as exc:  # no route, DNS, refused, timed out: the hub is not usable from here
        go_offline(str(getattr(exc, "reason", None) or exc) or type(exc).__name__)
        return
    try:
        HfApi().repo_info(repo_id, repo_type=repo_type, timeout=REPO_TIMEOUT_S)
    except GatedRepoError as exc:
        raise FocusError(f"{repo_type} {repo_id!r} is gated on the Hugging Face hub: accept its terms on the hub "
                         f"page and log in (`hf auth login`), or use a local copy") from exc
    except RepositoryNotFoundError as exc:
        raise FocusError(f"{repo_type} {repo_id!r} is neither a local folder nor a repository on the Hugging Face "
                         f"hub (or it is private: log in with `hf auth login`)") from exc
    except HFValidationError as exc:
        raise FocusError(f"{repo_type} {repo_id!r} is neither a local path nor a valid Hugging Face hub id") from exc
    except Exception as exc:  # timed out, 5xx: the hub is not usable from here
        go_offline(type(exc).__name__)


def cache_location() -> str:
    return os.environ.get("HF_HUB_CACHE") or os.environ.get("HF_HOME") or "~/.cache/huggingface"


def unavailable(path: str) -> str:
    """The one line for a model that is neither a local folder nor loadable from the hub or its cache."""
    return (f"cannot load model {path!r}: it is neither a local folder nor in the Hugging Face cache "
            f"({cache_location()}). Download it where the network is reachable (`hf download {path}`) and copy the "
            f"cache, or set model.path=/path/to/local/folder")


def load_failure(path: str, exc: Exception) -> str:
    """The one line for a checkpoint that could not be loaded: not there (`unavailable`), or there but of a model
    type this transformers has no class for (a repository that ships its own modelling code, which focus never runs:
    transformers would otherwise ask on the terminal whether to run it)."""
    text = str(exc)
    if "custom code" in text or "does not recognize this architecture" in text:
        import transformers

        return (f"cannot load model {path!r}: its config.json names a model type that transformers "
                f"{transformers.__version__} has no class for (the repository ships its own code, which focus does "
                f"not run); use a checkpoint converted to the transformers class of its family (see the comments of "
                f"conf/model/<family>.yaml) or a transformers version that has it")
    return unavailable(path)


def model_config(path: str):
    """The transformers config of a checkpoint (config.json only, no weights): a local folder, or a hub id probed
    once (`check_hub`) and then read from the hub or the local cache."""
    from transformers import AutoConfig

    if not is_local(path):
        check_hub(path, "model")
    try:
        return AutoConfig.from_pretrained(path, trust_remote_code=False)
    except (OSError, ValueError) as exc:  # not cached / offline / not a checkpoint folder / not a native class
        raise FocusError(load_failure(path, exc)) from exc
