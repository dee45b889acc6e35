"""The Glue code shipped from the repository: entry scripts and the `glue.etl` package they import."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pulumi

ROOT = Path(__file__).resolve().parents[2]
GLUE_DIR = ROOT / "glue"
SCRIPTS_PREFIX = "glue-scripts/"
ETL_ARCHIVE_KEY = f"{SCRIPTS_PREFIX}glue_etl.zip"


@dataclass(frozen=True)
class JobScript:
    """A Glue entry script in `glue/jobs/` and the S3 key it is uploaded to."""

    job: str

    @property
    def path(self) -> Path:
        return GLUE_DIR / "jobs" / f"{self.job.replace('-', '_')}.py"

    @property
    def key(self) -> str:
        return f"{SCRIPTS_PREFIX}{self.path.name}"


CUSTOMER_TRANSFORM = JobScript("customer-transform")
SALES_AGGREGATION = JobScript("sales-aggregation")


def etl_package_files() -> dict[str, Path]:
    """Archive member name -> file, keeping the `glue/etl/...` import path the entry scripts use."""
    files = {"glue/__init__.py": GLUE_DIR / "__init__.py"}
    for path in sorted((GLUE_DIR / "etl").glob("*.py")):
        files[f"glue/etl/{path.name}"] = path
    return files


def content_hash(files: dict[str, Path]) -> str:
    """SHA-256 over member names and bytes: changes exactly when the uploaded content changes.

    Objects are SSE-KMS encrypted, so their ETag is not an MD5 of the content and cannot drive
    updates; `source_hash` takes this value instead.
    """
    digest = hashlib.sha256()
    for name, path in sorted(files.items()):
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def etl_archive() -> pulumi.AssetArchive:
    return pulumi.AssetArchive({name: pulumi.FileAsset(str(path)) for name, path in etl_package_files().items()})
