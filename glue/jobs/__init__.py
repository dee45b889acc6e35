"""Glue job entry scripts: read job arguments, wire GlueContext sources and sinks, commit."""
