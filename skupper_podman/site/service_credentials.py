"""TLS credentials of listeners and connectors (their ``spec.tlsCredentials``).

A name refers to a credential folder of the site, ``certs/<name>/`` with ``ca.crt``,
``tls.crt`` and ``tls.key`` (the router's sslProfile reads it). The folder comes from, in
this order: a ``Secret`` of that name (applied, or stored in the site), a folder already
there (written by hand or imported from a folder of PEM files), or, for a listener only, a
server certificate the site issues from its service CA (``skupper-service-ca``), as
Skupper does; clients trust that CA's ``ca.crt``.
"""

from __future__ import annotations

import re
from pathlib import Path

from skupper_podman import certs
from skupper_podman import resources as res
from skupper_podman.errors import SkupperError
from skupper_podman.site.hosts import server_hosts
from skupper_podman.site.links import RESERVED_CREDENTIALS
from skupper_podman.site.store import SiteStore

SERVICE_CA = "skupper-service-ca"
ServiceResource = res.Listener | res.Connector | res.MultiKeyListener


def needed_files(resource: ServiceResource) -> tuple[str, ...]:
    """What the credential must hold for this listener or connector."""
    if not isinstance(resource, res.Connector):
        return (certs.CERT_FILE, certs.KEY_FILE)
    if resource.spec.presents_client_cert:
        return (certs.CERT_FILE, certs.KEY_FILE)
    return ()  # no ca.crt: the backend is verified against the system's trust


def check(
    resource: ServiceResource,
    store: SiteStore,
    provided: dict[str, set[str]],
    where: str,
) -> None:
    """Raise unless ``resource``'s credential can be found or made: ``provided`` are the
    credentials about to be applied (Secrets, Certificates) and the files each holds."""
    name = resource.spec.tls_credentials
    if name is None:
        return
    if name in RESERVED_CREDENTIALS or name == SERVICE_CA:
        raise SkupperError(f"{where}: spec.tlsCredentials: {name} is reserved for the site")
    if name in provided:
        present = provided[name]
    elif store.has("Secret", name) or store.credential_folder(name).is_dir():
        present = {p.name for p in store.credential_folder(name).glob("*")}
    elif not isinstance(resource, res.Connector):
        return  # generated
    else:
        raise SkupperError(
            f"{where}: spec.tlsCredentials: no Secret or credential folder named {name} "
            f"(give one with ca.crt to verify the backend{_client_hint(resource)})"
        )
    missing = [f for f in needed_files(resource) if f not in present]
    if missing:
        raise SkupperError(
            f"{where}: spec.tlsCredentials: {name} lacks {', '.join(missing)}"
            f"{_client_hint(resource) if isinstance(resource, res.Connector) else ''}"
        )


def _client_hint(connector: res.Connector) -> str:
    return ", and tls.crt/tls.key for useClientCert" if connector.spec.presents_client_cert else ""


def ensure(store: SiteStore, resource: ServiceResource) -> None:
    """Make ``certs/<name>/`` for ``resource`` if it is not there (``check`` first)."""
    name = resource.spec.tls_credentials
    if name is None:
        return
    folder = store.credential_folder(name)
    if folder.is_dir():
        return
    if isinstance(resource, res.Connector):
        raise SkupperError(f"connector {resource.name}: no credential folder {name}")
    signer = service_ca(store)
    hosts = server_hosts(resource.spec.host, [])
    common_name = resource.spec.routing_key if isinstance(resource, res.Listener) else name
    server = certs.issue_server_cert(signer, common_name, hosts)
    certs.write_credential(folder, server.files())


def write_secret(store: SiteStore, secret: res.Secret) -> None:
    """The credential folder of a Secret: its entries among ca.crt, tls.crt, tls.key."""
    files = {key: secret.pem(key) for key in res.TLS_SECRET_KEYS if key in secret.data}
    certs.write_credential(store.credential_folder(secret.name), files)


def service_ca(store: SiteStore) -> certs.Credential:
    folder = store.credential_folder(SERVICE_CA)
    if folder.is_dir():
        return certs.read_credential(folder)
    ca = certs.new_ca(f"{SERVICE_CA}-{store.namespace}")
    certs.write_credential(folder, ca.files())
    return ca


def folder_name(path: Path) -> str:
    """The credential name a folder of PEM files is imported as: its own name."""
    name = re.sub(r"[^a-z0-9-]+", "-", path.resolve().name.lower()).strip("-")[:63] or "tls"
    if name in RESERVED_CREDENTIALS or name == SERVICE_CA:
        raise SkupperError(f"{path}: the name {name} is reserved for the site; rename the folder")
    return name


def import_folder(store: SiteStore, path: Path, name: str) -> bool:
    """Copy a folder of PEM files (ca.crt, tls.crt, tls.key; any of them) into the site as
    the credential ``name``; False if the site has these very files under that name."""
    files = {f: path / f for f in res.TLS_SECRET_KEYS if (path / f).is_file()}
    if not files:
        raise SkupperError(f"{path}: no ca.crt, tls.crt or tls.key in the folder")
    for file_name, source in files.items():
        _check_pem(source, file_name)
    contents = {f: source.read_bytes() for f, source in files.items()}
    target = store.credential_folder(name)
    if target.is_dir():
        there = {p.name: p.read_bytes() for p in target.iterdir() if p.is_file()}
        if there == contents:
            return False
        raise SkupperError(
            f"{path}: the site has another credential named {name}; rename the folder"
        )
    certs.write_credential(target, contents)
    return True


def _check_pem(path: Path, file_name: str) -> None:
    text = path.read_bytes()
    is_key = file_name == certs.KEY_FILE
    if (b"PRIVATE KEY-----" if is_key else b"CERTIFICATE-----") not in text:
        raise SkupperError(f"{path}: not a PEM {'private key' if is_key else 'certificate'}")
