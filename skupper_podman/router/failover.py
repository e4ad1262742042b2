"""Failover of new flows whose backend cannot be reached.

skupper-router ends the client's connection when the connector it picked cannot reach
its backend. Here nothing has reached any backend yet at that point, so the flow moves:

- the connector's router redials at another of its connectors for the key, and once it
  has none left settles the request RELEASED (AMQP: not processed, may go elsewhere);
- the listener's router, on RELEASED, sends the flow again, with the bytes the client
  sent so far (at most ``tcp.REPLAY_LIMIT``), to another destination of the key;
- a connector whose backend failed leaves the rotation (``backend_health``) and is
  probed with back-off; while none of a router's connectors for a key is up, the router
  stops offering the key, so listeners everywhere stop choosing it.

The client's connection is closed cleanly only when no destination is left.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import commands as cmd
from .addressing import Destination
from .message import encode_stream_header
from .sockets import OUT_OF_FILES
from .tcp import TcpCounters, TcpFlow

if TYPE_CHECKING:
    from .core import RouterCore

MAX_RETRIES = 4  # destinations a flow tries after the first


def retry_released(core: RouterCore, flow: TcpFlow) -> bool:
    """Listener side: the flow's request was released; send it to another destination."""
    if flow.replay is None or flow.retries >= MAX_RETRIES or not flow.address:
        return False
    old = flow.route_key
    if isinstance(old, Destination):
        if old.kind != "uplink":  # an edge's only way out: the hub chooses anew each time
            flow.tried.add(old)
        core.addresses.flow_ended(old)
        flow.route_key = None
    destination = core.choose_destination(flow.address, avoid=flow.tried)
    if destination is None:
        return False
    flow.retries += 1
    flow.route_key = destination
    core.addresses.flow_started(destination)
    core.deliveries.retried += 1
    if destination.kind == "local":
        core.start_local_flow(flow, destination.name)
    else:
        header = encode_stream_header(to=flow.address, reply_to=flow.reply_address)
        core.reply_flows[flow.reply_address] = flow
        outbound = core.open_stream(destination, header, flow)
        if outbound is None:
            return False
        flow.outbound = outbound
    assert flow.outbound is not None
    for data in flow.replay:
        flow.outbound.write(data)
    if flow.read_closed:
        flow.outbound.finish()
    return True


def connector_failed(core: RouterCore, flow: TcpFlow, error: str, now: float) -> None:
    """Connector side: the dial to the backend failed before any byte reached it."""
    name = flow.route_key.name if isinstance(flow.route_key, Destination) else ""
    if name and error != OUT_OF_FILES and core.health.failed(name, error, now):
        core.log("warning", "tcp", f"connector {name}: backend out of rotation: {error}")
        core.backends_changed(now)
    flow.tried.add(name)
    connector = core.config.tcp_connectors.get(name)
    others = [
        other
        for other in core.addresses.local.get(connector.address if connector else "", ())
        if other not in flow.tried
    ]
    if not others:
        flow.release()
        return
    redial = others[0]
    core.addresses.flow_ended(Destination("local", name))
    flow.route_key = Destination("local", redial)
    core.addresses.flow_started(flow.route_key)
    flow.move_to(core.tcp_counters.setdefault(("connector", redial), TcpCounters()))
    core.deliveries.retried += 1
    core.dial_backend(flow, redial)


def backend_answered(core: RouterCore, name: str, now: float) -> None:
    if core.health.answered(name):
        core.log("info", "tcp", f"connector {name}: backend answers, back in rotation")
        core.backends_changed(now)


def start_probes(core: RouterCore, now: float) -> None:
    for name in core.health.due_probes(now):
        connector = core.config.tcp_connectors.get(name)
        if connector is not None:
            core.emit(cmd.ProbeTcp(name, connector.host, connector.port))


def probe_result(core: RouterCore, name: str, error: str, now: float) -> None:
    if error:
        core.health.probe_failed(name, error, now)
    else:
        backend_answered(core, name, now)
