"""Reading a raw CSV feed in a Glue job: the source object and its time on every row.

Takes the job's GlueContext as a parameter (no `awsglue` import), so this module ships in the
`glue.etl` package and the entry scripts stay thin.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame

from glue.etl.output import bucket_uri
from glue.etl.quality import missing_fields
from glue.etl.tables import SOURCE_FILE, SOURCE_MODIFIED, RawEntity

CSV_FORMAT_OPTIONS = {"withHeader": True, "separator": ",", "quoteChar": '"'}


def feed_options(bucket: str, entity: RawEntity) -> dict[str, Any]:
    """S3 connection options: every object under `raw/<feed>/`, tagged with its name and time."""
    return {
        "paths": [f"{bucket_uri(bucket)}/{entity.prefix}"],
        "recurse": True,
        "attachFilename": SOURCE_FILE,
        "attachTimestamp": SOURCE_MODIFIED,
    }


def read_feed(glue_context: Any, bucket: str, entity: RawEntity, *, bookmark: str | None) -> DataFrame | None:
    """The feed's rows as strings; None when there is nothing to read.

    With a `bookmark` (the transformation_ctx) Glue returns only objects that no committed run has
    read; without one, the whole feed (small dimensions such as products).
    """
    source = glue_context.create_dynamic_frame.from_options(
        connection_type="s3",
        format="csv",
        connection_options=feed_options(bucket, entity),
        format_options=CSV_FORMAT_OPTIONS,
        **({"transformation_ctx": bookmark} if bookmark else {}),
    )
    # A column whose cells parse as different types becomes a ChoiceType (a struct after toDF);
    # strings keep every cell, and the transforms cast each column themselves.
    frame = source.resolveChoice(choice="cast:string").toDF()
    if not set(entity.fields) & set(frame.columns):
        return None
    missing = missing_fields(frame, (*entity.fields, SOURCE_FILE, SOURCE_MODIFIED))
    if missing:
        raise ValueError(f"{entity.name} files lack the columns {missing}; expected {list(entity.fields)}")
    return frame
