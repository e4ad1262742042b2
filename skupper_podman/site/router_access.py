"""The server certificate of a site's link access (its RouterAccess), issued or brought.

Skupper's RouterAccess names its server certificate in ``tlsCredentials``. The site
issues it from its site CA (``generateTlsCredentials: true``, or unset with no Secret of
that name), or a ``Secret`` of that name brings it (``generateTlsCredentials: false``,
as Skupper's public-link example: a certificate from the user's own CA). Either way
linking sites present client certificates from the site CA, so the folder's ``ca.crt``
is the site CA; with a brought certificate they must also trust its CA: ``trust.crt``
holds both, and link files and tokens carry it.
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
    site_ca = certs.read_credential(store.credential_folder(certs.SITE_CA))
    if secret is not None:
        trust = site_ca.cert_pem() + b"\n" + secret.pem(certs.CA_FILE)
        certs.write_credential(
            folder,
            {
                certs.CA_FILE: site_ca.cert_pem(),
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
        hosts = server_hosts(access.spec.bind_host, access.spec.subject_alternative_names)
        server = certs.issue_server_cert(site_ca, site.name, hosts)
        certs.write_credential(folder, server.files())


def peer_trust(store: SiteStore, access: res.RouterAccess) -> bytes:
    """The CA certificates (PEM) a site linking here must trust."""
    trust = store.credential_folder(access.spec.tls_credentials) / TRUST_FILE
    if trust.is_file():
        return trust.read_bytes()
    return certs.read_credential(store.credential_folder(certs.SITE_CA)).cert_pem()
