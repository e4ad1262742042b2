"""Skupper YAML as Skupper's CLI and controller write it (``site/documents.py``): what only
Kubernetes uses is warned about and ignored, Kubernetes metadata is tolerated, and an
unknown field is an error naming its document, line and field."""

from __future__ import annotations

import pytest

from skupper_podman import resources as res
from skupper_podman.errors import SkupperError
from skupper_podman.site.documents import parse_documents

FROM_KUBERNETES = """\
apiVersion: skupper.io/v2alpha1
kind: Connector
metadata:
  name: backend
  namespace: east
  uid: 6f1c1d2e-0000-4000-8000-000000000001
  resourceVersion: "4711"
  creationTimestamp: "2026-11-02T10:00:00Z"
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: "{}"
spec:
  routingKey: backend
  host: 10.0.0.7
  port: 8080
  selector: app=backend
  includeNotReadyPods: false
status:
  status: Ready
---
apiVersion: skupper.io/v2alpha1
kind: Site
metadata:
  name: east
spec:
  linkAccess: default
  serviceAccount: skupper-router
  ha: true
"""


def test_kubernetes_fields_are_warned_about_and_ignored() -> None:
    documents = parse_documents(FROM_KUBERNETES, "east.yaml")
    connector = documents[0].resource
    assert isinstance(connector, res.Connector)
    assert (connector.spec.host, connector.spec.port) == ("10.0.0.7", 8080)
    assert documents[0].warnings == (
        "east.yaml: document 1 (Connector): spec.selector: Kubernetes only, ignored",
        "east.yaml: document 1 (Connector): spec.includeNotReadyPods: Kubernetes only, ignored",
    )
    assert documents[1].warnings == (
        "east.yaml: document 2 (Site): spec.serviceAccount: Kubernetes only, ignored",
        "east.yaml: document 2 (Site): spec.ha: Kubernetes only, ignored",
    )


def test_an_unknown_field_names_document_line_and_field() -> None:
    text = FROM_KUBERNETES.replace("  port: 8080\n", "  port: 8080\n  colour: blue\n")
    with pytest.raises(SkupperError) as raised:
        parse_documents(text, "east.yaml")
    assert str(raised.value) == (
        "east.yaml: document 1 (Connector backend): line 15: spec.colour: unknown field"
    )


def test_router_access_with_an_empty_spec_is_every_role_on_its_usual_port() -> None:
    text = "apiVersion: skupper.io/v2alpha1\nkind: RouterAccess\nmetadata:\n  name: public\nspec:\n"
    access = parse_documents(text, "ra.yaml")[0].resource
    assert isinstance(access, res.RouterAccess)
    assert [(r.name, r.port) for r in access.spec.roles] == [
        ("inter-router", 55671),
        ("edge", 45671),
    ]
    assert access.spec.tls_credentials == "public"
    assert access.spec.generate_tls_credentials is None


def test_connector_tls_fields_round_trip() -> None:
    text = """\
apiVersion: skupper.io/v2alpha1
kind: Connector
metadata:
  name: db
spec:
  routingKey: db
  host: db.internal
  port: 5432
  tlsCredentials: db-tls
  useClientCert: true
  verifyHostname: false
"""
    connector = parse_documents(text, "db.yaml")[0].resource
    assert isinstance(connector, res.Connector)
    assert connector.spec.presents_client_cert and not connector.spec.verifies_hostname
    document = res.to_document(connector)
    assert document["spec"] == {
        "routingKey": "db",
        "host": "db.internal",
        "port": 5432,
        "tlsCredentials": "db-tls",
        "useClientCert": True,
        "verifyHostname": False,
        "type": "tcp",
    }
