"""fetch-model's settings: one dataclass, from flags and the fetching container's environment.

The Secret-backed variables (HF_TOKEN, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_SESSION_TOKEN) belong in the fetching container only. S3 is configured by botocore's own
chain, which reads the standard variables itself: AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3),
AWS_DEFAULT_REGION, AWS_CA_BUNDLE, the credentials above, AWS_PROFILE and a web
identity role (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE). Only what botocore does not read
itself is here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from asr_server.model_sources.errors import ExitCode, FetchError
from asr_server.model_sources.layout import LAYOUTS

PVC_MOUNT = Path("/model-source")
"""Where the operator mounts a pvc:// model's claim (its MODEL_SOURCE_DIR)."""
S3_ADDRESSING_STYLES = ("auto", "path", "virtual")
DEFAULT_HF_ENDPOINT = "https://huggingface.co"


@dataclass(frozen=True)
class FetchSettings:
    engine: str = "faster-whisper"
    """Engine the model is for; picks the files fetched and required (layout.LAYOUTS)."""
    timeout_s: float = 60.0
    """Network timeout for a connection or a read, seconds."""
    max_bytes: int = 20 * 2**30
    """Most bytes a model may have: a download, the files listed at a source, an archive's
    members together (a bound against bombs and mistakes, not the volume's size)."""
    pvc_mount: Path = PVC_MOUNT
    """Where a pvc:// model's claim is mounted."""
    hf_endpoint: str = DEFAULT_HF_ENDPOINT
    """HF_ENDPOINT: the Hugging Face Hub or a mirror of it."""
    hf_token: str | None = field(default=None, repr=False)
    """HF_TOKEN: read access to private and gated repositories (never printed)."""
    s3_region: str | None = None
    """AWS_REGION (or AWS_DEFAULT_REGION, which botocore reads itself): the bucket's region;
    unset, botocore's default (us-east-1, following S3's redirects)."""
    s3_addressing_style: str = "auto"
    """ASR_S3_ADDRESSING_STYLE: auto | path | virtual. auto is virtual-hosted on AWS and path
    style at a custom endpoint; `path` forces it (MinIO, Ceph RGW behind one host name)."""

    def __post_init__(self) -> None:
        if self.engine not in LAYOUTS:
            raise FetchError(
                f"unknown engine {self.engine!r} (one of {', '.join(LAYOUTS)})", ExitCode.USAGE
            )
        if self.s3_addressing_style not in S3_ADDRESSING_STYLES:
            raise FetchError(
                f"ASR_S3_ADDRESSING_STYLE must be one of {', '.join(S3_ADDRESSING_STYLES)}; "
                f"got {self.s3_addressing_style!r}",
                ExitCode.USAGE,
            )
        if not self.timeout_s > 0 or not self.max_bytes > 0:
            raise FetchError("the timeout and the size limit must be positive", ExitCode.USAGE)

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **flags: object) -> FetchSettings:
        """Settings from the environment, with the given flags (not None) on top."""
        values: dict[str, object] = {
            "hf_endpoint": environ.get("HF_ENDPOINT", "").rstrip("/") or DEFAULT_HF_ENDPOINT,
            "hf_token": environ.get("HF_TOKEN") or None,
            "s3_region": environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or None,
            "s3_addressing_style": environ.get("ASR_S3_ADDRESSING_STYLE") or "auto",
        }
        values.update({name: value for name, value in flags.items() if value is not None})
        return cls(**values)  # type: ignore[arg-type]
