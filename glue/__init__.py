"""Glue ETL of the DataLake: thin job entry scripts (`jobs/`) over pure PySpark transforms (`etl/`)."""
