"""A local Discord stand-in (REST v10 + Gateway v10 on 127.0.0.1) that the real discord.py can log in to."""

from .faults import FaultRule, Faults, RouteStats
from .gateway import DispatchRecord, GatewayStats
from .interactions import CallbackRecord, InteractionHandle
from .server import DEFAULT_TOKEN, StandIn
from .state import (
    Application,
    DefaultWorld,
    FileRecord,
    MessageRecord,
    Overwrite,
    Perm,
    Pings,
    RequestRecord,
)

__all__ = [
    "DEFAULT_TOKEN",
    "Application",
    "CallbackRecord",
    "DefaultWorld",
    "DispatchRecord",
    "FaultRule",
    "Faults",
    "FileRecord",
    "GatewayStats",
    "InteractionHandle",
    "MessageRecord",
    "Overwrite",
    "Perm",
    "Pings",
    "RequestRecord",
    "RouteStats",
    "StandIn",
]
