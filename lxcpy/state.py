"""Container states, as liblxc names them."""

from __future__ import annotations

import enum

__all__ = ["State"]


class State(enum.Enum):
    """The state of a container (liblxc's ``state()``)."""

    STOPPED = "STOPPED"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"
    ABORTING = "ABORTING"
    FREEZING = "FREEZING"
    FROZEN = "FROZEN"
    THAWED = "THAWED"

    def __str__(self) -> str:
        return self.value
