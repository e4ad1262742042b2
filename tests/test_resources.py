"""Resources: Skupper v2 shape in and out, and user input refused with readable errors."""

from __future__ import annotations

import pytest

from skupper_podman import resources as res
from skupper_podman.errors import SkupperError

LINK_YAML = """\
apiVersion: skupper.io/v2alpha1
kind: Link
metadata:
  name: link-east
spec:
  endpoints:
  - name: inter-router
    host: east.example.com
    port: "55671"
  tlsCredentials: link-east
  cost: 3
status:
  status: Ready
---
apiVersion: v1
kind: Secret
metadata:
  name: link-east
type: kubernetes.io/tls
data:
  ca.crt: Y2E=
  tls.crt: Y2VydA==
  tls.key: a2V5
"""


def test_link_file_round_trips_in_skupper_shape() -> None:
    link, secret = res.load_yaml(LINK_YAML, "link.yaml")
    assert isinstance(link, res.Link) and isinstance(secret, res.Secret)
    assert link.spec.endpoints[0].port == 55671
    assert link.spec.cost == 3
    assert secret.pem("ca.crt") == b"ca"
    document = res.to_document(link)
    assert list(document) == ["apiVersion", "kind", "metadata", "spec"]
    assert document["spec"] == {
        "endpoints": [{"name": "inter-router", "host": "east.example.com", "port": "55671"}],
        "tlsCredentials": "link-east",
        "cost": 3,
    }
    assert res.load_yaml(res.dump_yaml([link, secret]), "again") == [link, secret]


def test_listener_defaults_and_camel_case_keys() -> None:
    listener = res.Listener(
        metadata=res.Metadata(name="backend"),
        spec=res.ListenerSpec(routing_key="backend", port=8080),
    )
    assert res.to_document(listener) == {
        "apiVersion": "skupper.io/v2alpha1",
        "kind": "Listener",
        "metadata": {"name": "backend"},
        "spec": {"routingKey": "backend", "host": "127.0.0.1", "port": 8080, "type": "tcp"},
    }


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("{routingKey: k, port: 0}", "spec.port: Input should be greater than or equal to 1"),
        ("{routingKey: k, port: 65536}", "spec.port: Input should be less than or equal to 65535"),
        ("{port: 80}", "spec.routingKey: Field required"),
        ("{routingKey: '', port: 80}", "spec.routingKey: must be a non-empty string"),
        ("{routingKey: k, port: 80, bogus: 1}", "spec.bogus: Extra inputs are not permitted"),
    ],
)
def test_invalid_listener_names_document_field_and_problem(spec: str, expected: str) -> None:
    text = f"apiVersion: skupper.io/v2alpha1\nkind: Listener\nmetadata: {{name: l}}\nspec: {spec}\n"
    with pytest.raises(SkupperError) as caught:
        res.load_yaml(text, "in.yaml")
    assert str(caught.value).startswith(f"in.yaml document 1 (Listener): {expected}")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", ["Upper", "under_score", "-dash", "dash-", "", "a" * 64])
def test_resource_names_are_dns_1123(name: str) -> None:
    with pytest.raises(SkupperError, match=r"metadata\.name"):
        res.parse_resource(
            {"apiVersion": "skupper.io/v2alpha1", "kind": "Site", "metadata": {"name": name}}, "x"
        )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kind: Link\n  bad: [", "not valid YAML"),
        ("", "no resources in the file"),
        ("- a\n- b\n", "expected a mapping"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "unsupported kind 'ConfigMap'"),
        (
            "apiVersion: skupper.io/v1alpha1\nkind: Site\nmetadata: {name: x}\n",
            "apiVersion: Input should be 'skupper.io/v2alpha1'",
        ),
    ],
)
def test_malformed_documents_give_one_line(text: str, expected: str) -> None:
    with pytest.raises(SkupperError) as caught:
        res.load_yaml(text, "f.yaml")
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_secret_data_must_be_base64() -> None:
    with pytest.raises(SkupperError, match=r"data\.tls\.crt: is not valid base64"):
        res.parse_resource(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "s"},
                "data": {"tls.crt": "%%%"},
            },
            "x",
        )


def test_site_resources_need_exactly_one_site() -> None:
    with pytest.raises(SkupperError, match="expected exactly one Site, found 0"):
        res.SiteResources.from_resources([], "namespace n")
    site = res.Site(metadata=res.Metadata(name="east"), spec=res.SiteSpec(link_access="default"))
    grouped = res.SiteResources.from_resources([site], "namespace n")
    assert grouped.site.spec.has_link_access
