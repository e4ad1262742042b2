"""What management (``agent.py``) and metrics (``metrics.py``) read of the router: its
parts, given read only, so that neither takes the core."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .config import RouterConfig
from .connection import RouterConnection
from .connectors import AmqpConnectors
from .fabric import Fabric
from .service_metrics import ServiceMetrics
from .tcp_adaptor import TcpAdaptor


@dataclass
class DeliveryCounts:
    """Deliveries this router started (ingress), ended (egress) and passed on (transit),
    and the outcomes its flows saw, as skupper-router's routerMetrics counts them."""

    ingress: int = 0
    egress: int = 0
    transit: int = 0
    accepted: int = 0
    released: int = 0
    modified: int = 0
    retried: int = 0  # flows sent to another backend after one could not be reached


@dataclass
class RouterView:
    fabric: Fabric
    connections: dict[int, RouterConnection]
    connectors: AmqpConnectors
    tcp: TcpAdaptor
    deliveries: DeliveryCounts
    instance: int  # this run's (the start time), as the routing protocol announces it
    started_at: float
    clock: Callable[[], float]  # the time of the router's latest event
    services: ServiceMetrics = field(default_factory=ServiceMetrics)
    # facts of the process (memory, host name); the process's entry point sets it
    process_info: Callable[[], dict[str, Any]] = field(default=dict)

    @property
    def config(self) -> RouterConfig:
        return self.fabric.config

    @property
    def router_id(self) -> str:
        return self.fabric.router_id

    @property
    def now(self) -> float:
        return self.clock()
