"""Pure PySpark transforms (DataFrame in, DataFrame out) and the table layouts they produce.

Shipped to Glue as a zip on `--extra-py-files`, keeping the `glue.etl` import path, so the code the
tests run on local Spark is exactly the code the jobs import.
"""
