"""Resources -> the router's config entities (docs/architecture.md, "The router config
contract"): the router's own dataclasses (router/config.py), so the attributes the site
writes are the ones the router reads, checked by the type checker.

A pure function: no files are read or written here. Certificate paths are relative to the
config file's folder (`runtime/`), so the same file works on the host and mounted in a
container. Entity names are stable so that the router's reload (SIGHUP) can match old and
new entities by type and name and leave unchanged ones alone.
"""

from __future__ import annotations

from dataclasses import replace

from skupper_podman import certs
from skupper_podman.resources import (
    Connector,
    Link,
    Listener,
    MultiKeyListener,
    RouterAccess,
    SiteResources,
)
from skupper_podman.router import config as cfg
from skupper_podman.router.config_file import render_config

Entity = cfg.ConfigEntity

CREDENTIALS_FROM_RUNTIME = "../certs"
MANAGEMENT_LISTENER = "skupper-local"
MANAGEMENT_HOST = "127.0.0.1"
# In a container the router binds every address of its own network namespace: the
# engine publishes the ports on the host at the addresses the user asked for.
CONTAINER_PLATFORMS = ("podman", "docker")
CONTAINER_BIND_HOST = "0.0.0.0"
DEFAULT_LOGGING = "info+"
GRANTS_FROM_RUNTIME = "../grants"
TRUST_FILE = "trust.crt"  # the CAs linking sites trust, if more than the site CA
METRICS_SOCKET_FROM_RUNTIME = "../sockets/metrics.sock"
REVOKED_FILE = "../revoked.txt"


def ssl_profile(credential_name: str, *, with_cert: bool = True, name: str = "") -> Entity:
    """An sslProfile reading the credential folder certs/<credential_name>/; without its
    certificate (``with_cert=False``) it only verifies peers."""
    folder = f"{CREDENTIALS_FROM_RUNTIME}/{credential_name}"
    profile = cfg.SslProfile(name=name or credential_name, caCertFile=f"{folder}/{certs.CA_FILE}")
    if not with_cert:
        return profile
    return replace(
        profile, certFile=f"{folder}/{certs.CERT_FILE}", privateKeyFile=f"{folder}/{certs.KEY_FILE}"
    )


VERIFY_ONLY_SUFFIX = "-profile"  # Skupper's name for a connector's CA-only profile


def _listener_entities(listener: Listener, host: str) -> list[Entity]:
    spec = listener.spec
    tcp = cfg.TcpListener(
        name=listener.name,
        host=host,
        port=spec.port,
        address=spec.routing_key,
        observer=spec.observer or "",
    )
    if not spec.tls_credentials:
        return [tcp]
    authenticate = spec.settings.get("authenticatePeer") == "true"
    tcp = replace(tcp, sslProfile=spec.tls_credentials, authenticatePeer=authenticate)
    return [ssl_profile(spec.tls_credentials), tcp]


def _multi_key_entities(listener: MultiKeyListener, host: str) -> list[Entity]:
    spec = listener.spec
    strategy = "priority" if spec.strategy.priority is not None else "weighted"
    entities: list[Entity] = []
    if spec.tls_credentials:
        entities.append(ssl_profile(spec.tls_credentials))
    tcp = cfg.TcpListener(
        name=listener.name,
        host=host,
        port=spec.port,
        address="",
        multiAddressStrategy=strategy,
        sslProfile=spec.tls_credentials or "",
        observer=spec.observer or "",
    )
    entities.append(tcp)
    for key, value in spec.strategy.keys_and_values():
        entities.append(
            cfg.ListenerAddress(
                name=f"{listener.name}-{key}", listener=listener.name, address=key, value=value
            )
        )
    return entities


def _connector_entities(connector: Connector) -> list[Entity]:
    spec = connector.spec
    tcp = cfg.TcpConnector(
        name=connector.name, host=spec.host, port=spec.port, address=spec.routing_key
    )
    if not spec.tls_credentials:
        return [tcp]
    profile = spec.tls_credentials
    if not spec.presents_client_cert:
        profile += VERIFY_ONLY_SUFFIX
    tcp = replace(tcp, sslProfile=profile, verifyHostname=spec.verifies_hostname)
    credential = ssl_profile(
        spec.tls_credentials, with_cert=spec.presents_client_cert, name=profile
    )
    return [credential, tcp]


def _unique(entities: list[Entity]) -> list[Entity]:
    """Each sslProfile once (listeners and connectors may share a credential)."""
    seen: set[str] = set()
    result = []
    for entity in entities:
        if isinstance(entity, cfg.SslProfile):
            if entity.name in seen:
                continue
            seen.add(entity.name)
        result.append(entity)
    return result


def _management_entities(management_port: int, host: str = MANAGEMENT_HOST) -> list[Entity]:
    return [
        ssl_profile(certs.LOCAL_SERVER),
        cfg.AmqpListener(
            name=MANAGEMENT_LISTENER,
            host=host,
            port=management_port,
            role="normal",
            sslProfile=certs.LOCAL_SERVER,
            saslMechanisms="EXTERNAL",
            authenticatePeer=True,
            requireSsl=True,
        ),
    ]


def _router_access_entities(access: RouterAccess, bind_host: str | None = None) -> list[Entity]:
    credential = access.spec.tls_credentials
    entities = [ssl_profile(credential)]
    for role in access.spec.roles:
        entities.append(
            cfg.AmqpListener(
                name=f"{access.name}-{role.name}",
                host=bind_host or access.spec.bind_host or "0.0.0.0",
                port=role.port,
                role=role.name,
                cost=1,
                sslProfile=credential,
                saslMechanisms="EXTERNAL",
                authenticatePeer=True,
                requireSsl=True,
            )
        )
    return entities


def _grant_entities(
    access: RouterAccess,
    grant_server_port: int | None,
    bind_host: str | None = None,
    *,
    brought_certificate: bool = False,
    ca_rotating: bool = False,
) -> list[Entity]:
    """The grant server (token redemption, on its own port, with the link access server
    certificate) and the list of revoked client certificates, both files of the site."""
    entities: list[Entity] = [cfg.Revocation(name="revoked", file=REVOKED_FILE)]
    if grant_server_port is None:
        return entities
    site_ca = f"{CREDENTIALS_FROM_RUNTIME}/{certs.SITE_CA}"
    trust = ""
    if brought_certificate:  # linking sites trust its CA too (site/router_access.py)
        trust = f"{CREDENTIALS_FROM_RUNTIME}/{access.spec.tls_credentials}/{TRUST_FILE}"
    elif ca_rotating:  # linking sites trust the new and the previous site CA
        trust = f"{site_ca}/{TRUST_FILE}"
    grant_server = cfg.GrantServerSettings(
        host=bind_host or access.spec.bind_host or "",
        port=grant_server_port,
        sslProfile=access.spec.tls_credentials,
        grantsDir=GRANTS_FROM_RUNTIME,
        caCertFile=f"{site_ca}/{certs.CERT_FILE}",
        caKeyFile=f"{site_ca}/{certs.KEY_FILE}",
        trustFile=trust,
    )
    return [*entities, grant_server]


# A Link's setting (ours): the HTTP proxy its router dials through, http://[user:pw@]host:port
LINK_PROXY_SETTING = "proxy"


def link_role(edge_site: bool) -> cfg.Role:
    """The role a link's connector has: an edge site links as an edge."""
    return "edge" if edge_site else "inter-router"


def _link_entities(link: Link, edge_site: bool) -> list[Entity]:
    role = link_role(edge_site)
    endpoint = link.spec.endpoint_for_role(role) or link.spec.endpoints[0]
    credential = link.spec.tls_credentials
    return [
        ssl_profile(credential),
        cfg.AmqpConnector(
            name=link.name,
            host=endpoint.host,
            port=endpoint.port,
            role=role,
            cost=link.spec.cost,
            sslProfile=credential,
            saslMechanisms="EXTERNAL",
            verifyHostname=True,
            proxy=link.spec.settings.get(LINK_PROXY_SETTING, ""),
        ),
    ]


def build_router_config(
    resources: SiteResources,
    *,
    namespace: str,
    platform: str,
    management_port: int,
    grant_server_port: int | None = None,
    metrics_port: int | None = None,
    ca_rotating: bool = False,
) -> list[Entity]:
    """The skrouterd.json entities for a site (``ca_rotating``: the site CA folder holds
    the new and previous CA in its trust file, site/rotation.py)."""
    site = resources.site
    edge = site.spec.edge
    entities: list[Entity] = [
        cfg.RouterSettings(id=site.name, mode="edge" if edge else "interior"),
        cfg.SiteInfo(name=site.name, namespace=namespace, platform=platform),
        cfg.LogSettings(
            module="DEFAULT", enable=site.spec.settings.get("router-logging", DEFAULT_LOGGING)
        ),
    ]
    in_container = platform in CONTAINER_PLATFORMS
    container_host = CONTAINER_BIND_HOST if in_container else None
    entities += _management_entities(management_port, container_host or MANAGEMENT_HOST)
    # Loopback or a unix socket only: the counters are not for the network to read. In a
    # container, loopback is the container's own: the host reads a socket in the site folder.
    if in_container:
        entities.append(cfg.MetricsSettings(path=METRICS_SOCKET_FROM_RUNTIME))
    elif metrics_port is not None:
        entities.append(cfg.MetricsSettings(host=MANAGEMENT_HOST, port=metrics_port))
    access = resources.router_access
    if access is not None and site.spec.has_link_access and not edge:
        entities += _router_access_entities(access, container_host)
        brought = not access.spec.generate_tls_credentials and any(
            secret.name == access.spec.tls_credentials for secret in resources.secrets
        )
        entities += _grant_entities(
            access,
            grant_server_port,
            container_host,
            brought_certificate=brought,
            ca_rotating=ca_rotating,
        )
    for link in resources.links:
        entities += _link_entities(link, edge)
    for listener in resources.listeners:
        entities += _listener_entities(listener, container_host or listener.spec.host)
    for multi in resources.multi_key_listeners:
        entities += _multi_key_entities(multi, container_host or multi.spec.host)
    for connector in resources.connectors:
        entities += _connector_entities(connector)
    return _unique(entities)


def render(entities: list[Entity]) -> str:
    """The file text: a JSON array of [entityType, attributes] pairs."""
    return render_config(entities)
