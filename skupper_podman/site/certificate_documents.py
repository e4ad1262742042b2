"""Certificate and SecuredAccess documents: credentials the site issues.

A ``Certificate`` becomes the credential folder ``certs/<name>/`` (ca.crt, tls.crt,
tls.key), signed by ``spec.ca`` (a CA of the site: ``skupper-site-ca``,
``skupper-service-ca``, or a signing Certificate), for ``spec.hosts``; with ``signing``
it is a CA of its own. A listener or connector then names it in ``tlsCredentials``. A
``SecuredAccess`` off Kubernetes is its server certificate (``spec.certificate``, by
``spec.issuer``) for this host's names. An existing credential is left as it is:
applying again does not re-issue it.
"""

from __future__ import annotations

from skupper_podman import certs
from skupper_podman import resources as res
from skupper_podman.errors import SkupperError
from skupper_podman.site import service_credentials
from skupper_podman.site.documents import Document
from skupper_podman.site.hosts import server_hosts
from skupper_podman.site.links import RESERVED_CREDENTIALS
from skupper_podman.site.outcome import Outcome, key
from skupper_podman.site.store import SiteStore

ISSUED_FILES = {certs.CA_FILE, certs.CERT_FILE, certs.KEY_FILE}
_SIGNERS = (certs.SITE_CA, service_credentials.SERVICE_CA)


def provided(documents: list[Document]) -> dict[str, set[str]]:
    """The credentials the file's Certificates and SecuredAccesses will make."""
    names: dict[str, set[str]] = {}
    for document in documents:
        resource = document.resource
        if isinstance(resource, res.Certificate):
            names[resource.name] = set(ISSUED_FILES)
        elif isinstance(resource, res.SecuredAccess):
            names[resource.certificate_name] = set(ISSUED_FILES)
    return names


def check(documents: list[Document], store: SiteStore) -> None:
    signing = {
        d.resource.name
        for d in documents
        if isinstance(d.resource, res.Certificate) and d.resource.spec.signing
    }
    for document in documents:
        resource = document.resource
        if isinstance(resource, res.Certificate):
            name, spec = resource.name, resource.spec
            if spec.signing and spec.ca not in ("", name):
                raise SkupperError(
                    f"{document.label}: spec.ca: a signing Certificate is a root CA of its own "
                    "here; leave spec.ca empty"
                )
            if not (spec.client or spec.server or spec.signing):
                raise SkupperError(
                    f"{document.label}: spec: say what it is for: client, server or signing"
                )
            if not spec.signing:
                _check_signer(document.label, "spec.ca", spec.ca, store, signing)
            _check_name(document.label, name)
        elif isinstance(resource, res.SecuredAccess):
            _check_name(document.label, resource.certificate_name)
            _check_signer(
                document.label, "spec.issuer", resource.spec.issuer or certs.SITE_CA, store, signing
            )


def _check_name(label: str, name: str) -> None:
    if name in RESERVED_CREDENTIALS or name == service_credentials.SERVICE_CA:
        raise SkupperError(f"{label}: {name} is reserved for the site")


def _check_signer(label: str, field: str, signer: str, store: SiteStore, signing: set[str]) -> None:
    if not signer:
        raise SkupperError(f"{label}: {field}: name the CA that signs it (e.g. skupper-site-ca)")
    if signer in signing or signer in _SIGNERS:
        return
    if not (store.credential_folder(signer) / certs.KEY_FILE).is_file():
        raise SkupperError(f"{label}: {field}: no CA named {signer} with its key in the site")


def write(store: SiteStore, documents: list[Document], outcome: Outcome) -> None:
    """Issue what the file's Certificates and SecuredAccesses name (signing ones first)."""
    ordered = sorted(
        documents,
        key=lambda d: not (isinstance(d.resource, res.Certificate) and d.resource.spec.signing),
    )
    for document in ordered:
        resource = document.resource
        if not isinstance(resource, res.Certificate | res.SecuredAccess):
            continue
        if resource == store.read(resource.kind, resource.name):
            outcome.unchanged.append(key(resource))
            continue
        if isinstance(resource, res.Certificate):
            _issue_certificate(store, resource)
        else:
            signer = _signer(store, resource.spec.issuer or certs.SITE_CA)
            server = certs.issue_cert(
                signer, resource.name, server_hosts(None, []), client=False, server=True
            )
            certs.write_credential(
                store.credential_folder(resource.certificate_name), server.files()
            )
        created = not store.has(resource.kind, resource.name)
        store.write(resource)
        (outcome.created if created else outcome.updated).append(key(resource))


def _issue_certificate(store: SiteStore, certificate: res.Certificate) -> None:
    spec = certificate.spec
    subject = spec.subject or certificate.name
    if spec.signing:
        credential = certs.new_ca(subject)
    else:
        credential = certs.issue_cert(
            _signer(store, spec.ca), subject, spec.hosts, client=spec.client, server=spec.server
        )
    certs.write_credential(store.credential_folder(certificate.name), credential.files())


def _signer(store: SiteStore, name: str) -> certs.Credential:
    if name == service_credentials.SERVICE_CA:
        return service_credentials.service_ca(store)
    return certs.read_credential(store.credential_folder(name))
