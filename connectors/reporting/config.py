"""Configuration of the `reporting` connector (flat, Kafka Connect style dotted keys)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator, model_validator

from gateway.connect.plugin import FILES_ROOT_CONTEXT, ConnectorConfig


class ReportingConfig(ConnectorConfig):
    """The drop folder, where finished files go, and how often to look."""

    watch_dir: Path = Field(
        alias="watch.dir",
        description="Folder the reporting system exports .csv/.json report files into "
        "(write to a temporary name, e.g. .name.tmp, then rename).",
    )
    processed_dir: Path | None = Field(
        default=None, alias="processed.dir",
        description="Where published files are moved; default <watch.dir>/processed.",
    )
    failed_dir: Path | None = Field(
        default=None, alias="failed.dir",
        description="Where malformed files are moved, each with <file>.reason.txt beside "
        "it; default <watch.dir>/failed.",
    )
    poll_interval_ms: int = Field(
        default=2000, ge=50, le=3_600_000, alias="poll.interval.ms",
        description="Pause between two scans of watch.dir.",
    )
    file_min_age_ms: int = Field(
        default=1000, ge=0, le=3_600_000, alias="file.min.age.ms",
        description="A file is taken only once its last modification is this old: a guard "
        "for writers that copy in place instead of renaming.",
    )
    file_max_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1, le=1024 * 1024 * 1024, alias="file.max.bytes",
        description="Larger files are moved to failed/ unread.",
    )
    retry_backoff_max_ms: int = Field(
        default=60_000, ge=100, le=3_600_000, alias="retry.backoff.max.ms",
        description="Longest pause between scans while Kafka or the folder is unavailable.",
    )

    @field_validator("watch_dir", "processed_dir", "failed_dir")
    @classmethod
    def _inside_root(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        root = (info.context or {}).get(FILES_ROOT_CONTEXT)
        if value is None or root is None:
            return value
        # resolve() follows every symlink already there: a link out of the root is as
        # much outside it as a path with "..".
        if not _within(value.resolve(), root):
            raise ValueError(
                f"must be inside {root} (the gateway's LGSP_CONNECTOR_FILES__ROOT)")
        return value

    @model_validator(mode="after")
    def _folders_distinct(self) -> ReportingConfig:
        watch = self.watch_dir.resolve()
        for key, folder in (("processed.dir", self.processed), ("failed.dir", self.failed)):
            if folder.resolve() == watch:
                raise ValueError(f"{key} must not be watch.dir itself")
        return self

    @property
    def processed(self) -> Path:
        """Resolved processed folder."""
        return self.processed_dir or self.watch_dir / "processed"

    @property
    def failed(self) -> Path:
        """Resolved failed folder."""
        return self.failed_dir or self.watch_dir / "failed"


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents
