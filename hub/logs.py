"""How every process of the hub logs: one line per record, with time, level and logger.

The same configuration goes to the ``hub`` command and to uvicorn, which applies it again in
each worker process it starts (a new interpreter, configured by nothing else). uvicorn's own
default names the level only, and before this the workers' records from the hub's loggers came
out with neither time nor level.
"""

from __future__ import annotations

import logging
import logging.config
from typing import Any

LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_config(level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` configuration: every record to stderr, as one line."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": {"format": LINE_FORMAT}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "line",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            # uvicorn's loggers pass their records up to the root's handler, with its format.
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": True},
            # Narrations of routine: the embedded server's library tells every command it runs,
            # Alembic every plugin it sets up; only their problems matter.
            "pgserver": {"level": _at_least_warning(level)},
            "alembic.runtime.plugins": {"level": _at_least_warning(level)},
        },
    }


def configure_logging(level: str) -> None:
    logging.config.dictConfig(log_config(level))


def _at_least_warning(level: str) -> str:
    return level if logging.getLevelNamesMapping().get(level, 0) > logging.WARNING else "WARNING"
