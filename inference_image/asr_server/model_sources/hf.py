"""`hf://ORG/REPO[@REVISION][/SUBDIR]`: a model repository on the Hugging Face Hub (or the
mirror at HF_ENDPOINT), through huggingface_hub.

The revision (a branch, tag or commit; a `/` in it written %2F; the default branch when
absent) is resolved to its commit once, and everything after uses that commit, so the files
and their checksums come from one snapshot even if the branch moves meanwhile. Only the
engine's files under SUBDIR are downloaded (`snapshot_download(allow_patterns=...)`), after
their presence and total size are checked from the repository's listing; then every file is
checked against the Hub's own hashes (sha256 for LFS files, the git blob id for the others).
The token comes from HF_TOKEN only (no token file on disk is consulted).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import httpx2
from huggingface_hub import HfApi, snapshot_download
from huggingface_hub.errors import (
    FileMetadataError,
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import validate_repo_id  # type: ignore[attr-defined]  # lazy export
from tqdm.auto import tqdm

from asr_server.model_sources.base import Download, Fetched
from asr_server.model_sources.errors import ExitCode, FetchError
from asr_server.model_sources.layout import LAYOUTS
from asr_server.model_sources.settings import FetchSettings
from asr_server.model_sources.uri import ModelUri

DOWNLOAD_WORKERS = 4
"""Files downloaded at once (a model is a few files; model.bin dominates)."""


class TerminalProgress(tqdm):  # type: ignore[misc]  # tqdm has no type stubs
    """snapshot_download's progress bars, shown on a terminal only: in a Job's log they would
    be noise around the one-line error."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("disable") is not True:
            kwargs["disable"] = None  # tqdm: off unless stderr is a terminal
        super().__init__(*args, **kwargs)


@dataclass(frozen=True)
class HfRepo:
    repo_id: str
    """ORG/REPO."""
    revision: str | None
    """As written in the URI; None is the default branch."""
    subdir: str
    """Folder of the repository holding the model ('' for its top level)."""

    @property
    def shown(self) -> str:
        revision = f"@{self.revision}" if self.revision else ""
        subdir = f"/{self.subdir}" if self.subdir else ""
        return f"hf://{self.repo_id}{revision}{subdir}"


def parse(uri: ModelUri) -> HfRepo:
    if uri.sha256:
        raise FetchError(
            "#sha256= applies to a file or an archive; hf:// files are checked against the "
            "Hub's own hashes",
            ExitCode.USAGE,
        )
    name, _, subdir = uri.path.lstrip("/").partition("/")
    name, at, revision = name.partition("@")
    repo_id = f"{uri.authority}/{name}"
    if not uri.authority or not name or (at and not revision):
        raise FetchError(
            f"hf:// URI needs ORG/REPO (and a revision after @): {uri.shown}", ExitCode.USAGE
        )
    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        raise FetchError(
            f"not a Hugging Face repository: {uri.shown} (expected hf://ORG/REPO[@REVISION]"
            "[/SUBDIR])",
            ExitCode.USAGE,
        ) from None
    folder = PurePosixPath(urllib.parse.unquote(subdir))
    if folder.is_absolute() or ".." in folder.parts:
        raise FetchError(f"SUBDIR must stay inside the repository: {uri.shown}", ExitCode.USAGE)
    subdir = "" if folder == PurePosixPath() else folder.as_posix()
    return HfRepo(repo_id, urllib.parse.unquote(revision) or None, subdir)


def fetch(repo: HfRepo, work: Path, settings: FetchSettings) -> Fetched:
    api = HfApi(endpoint=settings.hf_endpoint, token=settings.hf_token or False)
    layout = LAYOUTS[settings.engine]
    prefix = f"{repo.subdir}/" if repo.subdir else ""
    try:
        info = api.model_info(
            repo.repo_id,
            revision=repo.revision,
            files_metadata=True,
            timeout=settings.timeout_s,
        )
        if not info.sha:
            raise FetchError(f"{settings.hf_endpoint} named no commit for {repo.shown}")
        commit = info.sha
        where = f"{repo.shown} (commit {commit[:12]})"
        sizes = {
            s.rfilename.removeprefix(prefix): s.size or 0
            for s in info.siblings or []
            if s.rfilename.startswith(prefix)
        }
        wanted = layout.plan(sizes, where, settings.max_bytes)
        download = work / "hf"
        snapshot_download(
            repo.repo_id,
            revision=commit,
            local_dir=download,
            cache_dir=work / "hf-cache",  # keeps the library's own writes inside the work dir
            allow_patterns=[prefix + pattern for pattern in layout.patterns],
            token=settings.hf_token or False,
            endpoint=settings.hf_endpoint,
            etag_timeout=settings.timeout_s,
            max_workers=DOWNLOAD_WORKERS,
            tqdm_class=TerminalProgress,
        )
        verification = api.verify_repo_checksums(repo.repo_id, revision=commit, local_dir=download)
    except FetchError:
        raise
    except Exception as exc:
        error = _hub_error(exc, repo, settings)
        if error is None:
            raise  # the local disk (DEST not writable, full): the command reports it
        raise error from None
    if verification.mismatches:
        bad = verification.mismatches[0]
        raise FetchError(
            f"{where}: checksum mismatch for {bad['path']} ({bad['algorithm']}): expected "
            f"{bad['expected']}, got {bad['actual']}",
            ExitCode.INVALID,
        )
    absent = [name for name in wanted if not (download / prefix / name).is_file()]
    if absent:
        raise FetchError(f"{where}: {', '.join(absent)} missing after download", ExitCode.INVALID)
    return Fetched(download / repo.subdir if repo.subdir else download, True, commit)


def _hub_error(exc: BaseException, repo: HfRepo, settings: FetchSettings) -> FetchError | None:
    """One line for what huggingface_hub or its HTTP client raised (never the token); None for
    a local OSError."""
    endpoint = settings.hf_endpoint
    token_hint = "" if settings.hf_token else " (HF_TOKEN is not set)"
    if isinstance(exc, LocalEntryNotFoundError) and exc.__cause__ is not None:
        return _hub_error(exc.__cause__, repo, settings)  # the download lost the Hub: why
    if isinstance(exc, RevisionNotFoundError):
        return FetchError(
            f"revision {repo.revision!r} not found in {repo.repo_id}", ExitCode.UNAVAILABLE
        )
    if isinstance(exc, GatedRepoError):
        return FetchError(
            f"{repo.repo_id} is gated: HF_TOKEN must belong to an account granted access"
            f"{token_hint}",
            ExitCode.DENIED,
        )
    if isinstance(exc, RepositoryNotFoundError):
        access = (
            "or the account of HF_TOKEN cannot read it"
            if settings.hf_token
            else "or it is private or gated and HF_TOKEN is not set"
        )
        return FetchError(
            f"repository {repo.repo_id} not found at {endpoint}, {access}", ExitCode.UNAVAILABLE
        )
    if isinstance(exc, RemoteEntryNotFoundError):
        return FetchError(f"a file of {repo.shown} vanished from the Hub", ExitCode.UNAVAILABLE)
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        status = exc.response.status_code
        if status in (401, 403):
            return FetchError(
                f"the Hub at {endpoint} refused the token in HF_TOKEN (HTTP {status}) for "
                f"{repo.repo_id}"
                if settings.hf_token
                else f"the Hub at {endpoint} wants a token for {repo.repo_id}{token_hint}",
                ExitCode.DENIED,
            )
        return FetchError(
            f"the Hub at {endpoint} answered HTTP {status} for {repo.shown}", ExitCode.UNAVAILABLE
        )
    if isinstance(exc, httpx2.TimeoutException):
        return FetchError(
            f"timed out after {settings.timeout_s:g} s talking to the Hub at {endpoint}",
            ExitCode.UNAVAILABLE,
        )
    if isinstance(exc, httpx2.TransportError):
        return FetchError(
            f"cannot reach the Hub at {endpoint} ({type(exc).__name__}: {exc})",
            ExitCode.UNAVAILABLE,
        )
    if isinstance(exc, FileMetadataError):
        return FetchError(
            f"{endpoint} does not answer like a Hugging Face Hub (check HF_ENDPOINT)",
            ExitCode.UNAVAILABLE,
        )
    if isinstance(exc, OfflineModeIsEnabled):
        return FetchError("HF_HUB_OFFLINE is set: the Hub cannot be reached", ExitCode.USAGE)
    if isinstance(exc, OSError):
        return None
    return FetchError(
        f"fetching {repo.shown} from {endpoint} failed ({type(exc).__name__})",
        ExitCode.UNAVAILABLE,
    )


SOURCE = Download(parse, fetch)
