"""The server certificate of a site's link access (its RouterAccess), issued or brought.

Skupper's RouterAccess names its server certificate in ``tlsCredentials``. The site
issues it from its site CA (``generateTlsCredentials: true``, or unset with no Secret of
that name), or a ``Secret`` of that name brings it (``generateTlsCredentials: false``,
as Skupper's public-link example: a certificate from the user's own CA). Either way
linking sites present client certificates from the site CA, so the folder's ``ca.crt``
is the site CA; with a brought certificate they must also trust its CA: ``trust.crt``
holds both, and link files and tokens carry it.

While the site CA is rotated (site/rotation.py) the previous CA stays in
``certs/skupper-site-ca-previous/``: the server certificate is still the previous CA's,
client certificates of either CA are accepted, and peers are given both CAs to trust.
"""

from __future__ import annotations

from skupper_podman import certs
from skupper_podman import resources as res
from skupper_podman.errors import SkupperError
from skupper_podman.routerconfig import TRUST_FILE
from skupper_podman.site.hosts import server_hosts
from skupper_podman.site.store import SiteStore


def brought_secret(access: res.RouterAccess, secrets: dict[str, res.Secret]) -> res.Secret | None:
    """The Secret that brings the server certificate, if the access takes one."""
    if access.spec.generate_tls_credentials:
        return None
    return secrets.get(access.spec.tls_credentials)


def check(label: str, access: res.RouterAccess, secret: res.Secret | None) -> None:
    name = access.spec.tls_credentials
    if secret is None:
        if access.spec.generate_tls_credentials is False:
            raise SkupperError(
                f"{label}: spec.tlsCredentials: generateTlsCredentials is false but there is "
                f"no Secret named {name} (tls.crt, tls.key, ca.crt) in the file or namespace"
            )
        return
    missing = [key for key in res.TLS_SECRET_KEYS if key not in secret.data]
    if missing:
        raise SkupperError(f"{label}: Secret {name} lacks {', '.join(missing)}")
    try:
        certs.check_server_credential(
            secret.pem(certs.CA_FILE), secret.pem(certs.CERT_FILE), secret.pem(certs.KEY_FILE)
        )
    except SkupperError as error:
        raise SkupperError(f"{label}: Secret {name}: {error}") from None


def write_credentials(
    store: SiteStore,
    site: res.Site,
    access: res.RouterAccess,
    secret: res.Secret | None,
    before: res.RouterAccess | None,
) -> None:
    """``certs/<tlsCredentials>/``: the brought certificate, or one issued if the names
    it must carry changed."""
    folder = store.credential_folder(access.spec.tls_credentials)
    if secret is not None:
        site_cas = site_ca_trust(store)
        trust = site_cas + b"\n" + secret.pem(certs.CA_FILE)
        certs.write_credential(
            folder,
            {
                certs.CA_FILE: site_cas,
                certs.CERT_FILE: secret.pem(certs.CERT_FILE),
                certs.KEY_FILE: secret.pem(certs.KEY_FILE),
                TRUST_FILE: trust,
            },
        )
        return
    same_names = before is not None and (
        before.spec.tls_credentials == access.spec.tls_credentials
        and before.spec.bind_host == access.spec.bind_host
        and before.spec.subject_alternative_names == access.spec.subject_alternative_names
    )
    brought_before = (folder / TRUST_FILE).exists()
    if not same_names or not folder.is_dir() or brought_before:
        if brought_before:
            (folder / TRUST_FILE).unlink()
        issue_server_credential(store, site.name, access)


def issue_server_credential(store: SiteStore, site_name: str, access: res.RouterAccess) -> None:
    """A new key and server certificate for the link access, with the names it must carry,
    from the CA that peers already trust; ``ca.crt`` is every CA whose clients it accepts."""
    hosts = server_hosts(access.spec.bind_host, access.spec.subject_alternative_names)
    server = certs.issue_server_cert(server_issuer(store), site_name, hosts)
    files = server.files() | {certs.CA_FILE: site_ca_trust(store)}
    certs.write_credential(store.credential_folder(access.spec.tls_credentials), files)


def ca_rotating(store: SiteStore) -> bool:
    return store.credential_folder(certs.PREVIOUS_SITE_CA).is_dir()


def server_issuer(store: SiteStore) -> certs.Credential:
    """The previous CA while a rotation runs (peers may trust only it), else the site CA."""
    name = certs.PREVIOUS_SITE_CA if ca_rotating(store) else certs.SITE_CA
    return certs.read_credential(store.credential_folder(name))


def site_ca_trust(store: SiteStore) -> bytes:
    """The site CA's certificate (PEM), and the previous one's while a rotation runs."""
    current = certs.read_credential(store.credential_folder(certs.SITE_CA)).cert_pem()
    if not ca_rotating(store):
        return current
    previous = certs.read_credential(store.credential_folder(certs.PREVIOUS_SITE_CA))
    return current + previous.cert_pem()


def peer_trust(store: SiteStore, access: res.RouterAccess) -> bytes:
    """The CA certificates (PEM) a site linking here must trust."""
    trust = store.credential_folder(access.spec.tls_credentials) / TRUST_FILE
    if trust.is_file():
        return trust.read_bytes()
    return site_ca_trust(store)
