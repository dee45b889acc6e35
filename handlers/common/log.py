"""Structured JSON logging with the Lambda request id on every line."""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None)))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "timestamp": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def get_logger(name: str) -> logging.Logger:
    """A logger that writes one JSON object per line; level from LOG_LEVEL (default INFO).

    Inside Lambda with the JSON log format (`AWS_LAMBDA_LOG_FORMAT=JSON`, which our functions set),
    records go to the runtime's own handler, which adds the request id and keeps `extra` fields.
    Elsewhere (tests, local runs) our formatter writes the same shape to stdout.
    """
    logger = logging.getLogger(name)
    in_lambda_json = os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"
    if not in_lambda_json and not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(os.environ.get("LOG_LEVEL", "INFO"))
    return logger
