"""What `site generate` writes is valid for Skupper's v2alpha1 CRDs (``crd_facts.py``):
a site with every kind skupper-podman keeps, written back and checked document by
document; and the check itself refuses what a CRD refuses."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.cli_helpers import init_linkable_site, ok
from tests.ports import free_port

from .crd_facts import problems

EVERY_KIND = """\
apiVersion: skupper.io/v2alpha1
kind: Certificate
metadata:
  name: team-ca
spec:
  subject: Team CA
  signing: true
---
apiVersion: skupper.io/v2alpha1
kind: Certificate
metadata:
  name: web-cert
spec:
  ca: team-ca
  subject: web
  hosts: [localhost]
  server: true
---
apiVersion: skupper.io/v2alpha1
kind: SecuredAccess
metadata:
  name: console
spec:
  selector: {{app: console}}
  ports: [{{name: https, port: 8443}}]
---
apiVersion: skupper.io/v2alpha1
kind: Listener
metadata:
  name: web
spec:
  routingKey: web
  host: 127.0.0.1
  port: {listener}
  tlsCredentials: web-cert
---
apiVersion: skupper.io/v2alpha1
kind: Connector
metadata:
  name: web
spec:
  routingKey: web
  host: localhost
  port: 8443
  tlsCredentials: team-ca
  verifyHostname: false
---
apiVersion: skupper.io/v2alpha1
kind: MultiKeyListener
metadata:
  name: db
spec:
  host: 127.0.0.1
  port: {multi}
  strategy:
    weighted:
      weightsByRoutingKey: {{db-a: 2, db-b: 1}}
"""


def test_site_generate_is_valid_for_skupper_crds(router_available: None, tmp_path: Path) -> None:
    init_linkable_site("east")
    init_linkable_site("west")
    link = tmp_path / "link.yaml"
    link.write_text(ok("link", "generate", "--host", "127.0.0.1", "-n", "east").stdout)
    ok("link", "create", str(link), "-n", "west")
    kinds = tmp_path / "kinds.yaml"
    kinds.write_text(EVERY_KIND.format(listener=free_port(), multi=free_port()))
    ok("apply", "-f", str(kinds), "-n", "west")
    documents = list(yaml.safe_load_all(ok("site", "generate", "-n", "west").stdout))
    written = {d["kind"] for d in documents}
    assert written == {
        "Site", "RouterAccess", "Link", "Secret", "Listener", "Connector",
        "MultiKeyListener", "Certificate", "SecuredAccess",
    }  # fmt: skip
    assert [p for d in documents for p in problems(d)] == []


def test_the_check_refuses_what_a_crd_refuses() -> None:
    listener = {
        "apiVersion": "skupper.io/v2alpha1",
        "kind": "Listener",
        "metadata": {"name": "web"},
        "spec": {"routingKey": "web", "port": "8080", "colour": "blue"},
    }
    assert problems(listener) == [
        "Listener: spec.host is required",
        "Listener: spec.port: expected integer, found str",
        "Listener: spec.colour: not in the CRD",
    ]
