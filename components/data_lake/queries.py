"""The lake's standard reports: one `.sql` file each in `sql/data_lake/`.

The file's text is exactly what the component stores as an Athena named query and what the tests
run with DuckDB over the Parquet the Spark jobs wrote. Its first comment line is the description;
`?` placeholders are Athena execution parameters (and DuckDB prepared-statement parameters).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

QUERIES_DIR = Path(__file__).resolve().parents[2] / "sql" / "data_lake"
# Queries over the optional events path (raw_events exists only when the Firehose path is on).
EVENTS_QUERIES_DIR = QUERIES_DIR / "events"
ATHENA_DESCRIPTION_LIMIT = 1024


@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    sql: str

    @property
    def parameter_count(self) -> int:
        return self.sql.count("?")


def load_query(path: Path) -> NamedQuery:
    sql = path.read_text(encoding="utf-8").strip()
    first = sql.splitlines()[0] if sql else ""
    if not first.startswith("-- "):
        raise ValueError(f"{path}: the first line must be a `-- <description>` comment")
    description = first.removeprefix("-- ").strip()
    if len(description) > ATHENA_DESCRIPTION_LIMIT:
        raise ValueError(f"{path}: description longer than Athena's {ATHENA_DESCRIPTION_LIMIT} characters")
    return NamedQuery(name=path.stem, description=description, sql=sql)


def named_queries(directory: Path = QUERIES_DIR) -> list[NamedQuery]:
    """Every report, sorted by name; an empty directory is a packaging error, not zero reports."""
    queries = [load_query(path) for path in sorted(directory.glob("*.sql"))]
    if not queries:
        raise FileNotFoundError(f"no .sql files in {directory}")
    return queries
