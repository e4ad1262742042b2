"""Resources -> skrouterd.json entities, exactly as the contract in docs/architecture.md."""

from __future__ import annotations

import json

from skupper_podman import resources as res
from skupper_podman.router.config_file import entity_pair
from skupper_podman.routerconfig import build_router_config, render

SITE = res.Site(metadata=res.Metadata(name="west"), spec=res.SiteSpec(link_access="default"))
ACCESS = res.RouterAccess(
    metadata=res.Metadata(name="skupper-router"),
    spec=res.RouterAccessSpec(
        roles=[res.RouterAccessRole(name="inter-router", port=55671)],
        tls_credentials="skupper-site-server",
        bind_host="127.0.0.1",
    ),
)
LINK = res.Link(
    metadata=res.Metadata(name="to-east"),
    spec=res.LinkSpec(
        endpoints=[
            res.Endpoint(name="inter-router", host="east", port=55671),
            res.Endpoint(name="edge", host="east", port=45671),
        ],
        tls_credentials="to-east",
        cost=4,
    ),
)
LISTENER = res.Listener(
    metadata=res.Metadata(name="db"), spec=res.ListenerSpec(routing_key="db", port=5432)
)
CONNECTOR = res.Connector(
    metadata=res.Metadata(name="web"),
    spec=res.ConnectorSpec(routing_key="web", host="10.1.1.1", port=8080),
)


def _config(resources: res.SiteResources) -> dict[tuple[str, str], dict[str, object]]:
    entities = build_router_config(resources, namespace="ns", platform="linux", management_port=7)
    pairs = map(entity_pair, entities)
    return {(kind, str(attrs.get("name", attrs.get("module", "")))): attrs for kind, attrs in pairs}


def test_full_site_config() -> None:
    config = _config(
        res.SiteResources(
            site=SITE,
            router_access=ACCESS,
            links=(LINK,),
            listeners=(LISTENER,),
            connectors=(CONNECTOR,),
        )
    )
    assert config[("router", "")] == {"id": "west"}  # mode: interior, the default
    assert config[("site", "west")] == {"name": "west", "namespace": "ns", "platform": "linux"}
    assert config[("listener", "skupper-local")] == {
        "name": "skupper-local",
        "host": "127.0.0.1",
        "port": 7,
        "sslProfile": "skupper-local-server",
        "saslMechanisms": "EXTERNAL",
        "authenticatePeer": True,
    }
    assert config[("sslProfile", "skupper-local-server")] == {
        "name": "skupper-local-server",
        "caCertFile": "../certs/skupper-local-server/ca.crt",
        "certFile": "../certs/skupper-local-server/tls.crt",
        "privateKeyFile": "../certs/skupper-local-server/tls.key",
    }
    assert config[("listener", "skupper-router-inter-router")] == {
        "name": "skupper-router-inter-router",
        "host": "127.0.0.1",
        "port": 55671,
        "role": "inter-router",
        "sslProfile": "skupper-site-server",
        "saslMechanisms": "EXTERNAL",
        "authenticatePeer": True,
    }
    assert config[("connector", "to-east")] == {
        "name": "to-east",
        "host": "east",
        "port": 55671,
        "cost": 4,
        "sslProfile": "to-east",
        "saslMechanisms": "EXTERNAL",
    }
    assert config[("sslProfile", "to-east")]["caCertFile"] == "../certs/to-east/ca.crt"
    assert config[("tcpListener", "db")] == {
        "name": "db",
        "host": "127.0.0.1",
        "port": 5432,
        "address": "db",
    }
    assert config[("tcpConnector", "web")] == {
        "name": "web",
        "host": "10.1.1.1",
        "port": 8080,
        "address": "web",
    }
    assert config[("log", "DEFAULT")] == {"module": "DEFAULT"}  # enable: info+, the default


def test_site_without_link_access_has_no_inter_router_listener() -> None:
    plain = res.Site(metadata=res.Metadata(name="east"))
    config = _config(res.SiteResources(site=plain, router_access=ACCESS))
    assert [key for key in config if key[0] == "listener"] == [("listener", "skupper-local")]


def test_edge_site_links_with_the_edge_endpoint() -> None:
    edge = res.Site(metadata=res.Metadata(name="e"), spec=res.SiteSpec(edge=True))
    config = _config(res.SiteResources(site=edge, links=(LINK,)))
    assert config[("router", "")]["mode"] == "edge"
    assert config[("connector", "to-east")]["role"] == "edge"
    assert config[("connector", "to-east")]["port"] == 45671


def test_render_is_a_json_array_of_pairs() -> None:
    entities = build_router_config(
        res.SiteResources(site=SITE), namespace="ns", platform="linux", management_port=7
    )
    decoded = json.loads(render(entities))
    assert decoded[0] == ["router", {"id": "west"}]
    assert all(isinstance(kind, str) and isinstance(attrs, dict) for kind, attrs in decoded)


def test_metrics_stay_off_the_network_on_every_platform() -> None:
    """Loopback on the host; in a container (whose loopback the host cannot reach) a unix
    socket in the site folder, next to the config."""
    resources = res.SiteResources(site=SITE)
    for platform, expected in (
        ("linux", {"port": 9}),  # host: 127.0.0.1, the default
        ("podman", {"path": "../sockets/metrics.sock"}),
        ("docker", {"path": "../sockets/metrics.sock"}),
    ):
        entities = build_router_config(
            resources, namespace="ns", platform=platform, management_port=7, metrics_port=9
        )
        pairs = map(entity_pair, entities)
        assert [attrs for kind, attrs in pairs if kind == "metrics"] == [expected], platform
