"""Grant files and redemption without sockets: the rules the grant server applies
(router/grant_records.py) and its request handling (router/grants.py answer_request)."""

from __future__ import annotations

import base64
import datetime
import json
import logging
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from skupper_podman import certs
from skupper_podman import resources as res
from skupper_podman.errors import SkupperError
from skupper_podman.router.config import GrantServerSettings
from skupper_podman.router.grant_records import (
    Endpoint,
    GrantRecord,
    GrantRefused,
    SigningCa,
    check_redemption,
    grant_path,
    read_grant,
    read_grants,
    redeem,
    write_grant,
)
from skupper_podman.router.grants import Request, answer_request
from skupper_podman.site.tokens import parse_duration

NOW = datetime.datetime(2030, 1, 1, 12, 0, tzinfo=datetime.UTC)
UID = "0123abcd-0000-4000-8000-000000000001"
CODE = "s3cret-code-of-24-chars"


def record(**changes: object) -> GrantRecord:
    values: dict[str, object] = {
        "uid": UID,
        "name": "east-grant",
        "code": CODE,
        "url": f"https://127.0.0.1:9090/{UID}",
        "created": NOW - datetime.timedelta(minutes=1),
        "expiration": NOW + datetime.timedelta(minutes=14),
        "redemptions_allowed": 2,
        "link_cost": 3,
        "endpoints": (Endpoint("inter-router", "127.0.0.1", 55671),),
    }
    values.update(changes)
    return GrantRecord(**values)  # type: ignore[arg-type]


@pytest.fixture
def ca() -> SigningCa:
    site_ca = certs.new_ca("east site CA")
    return SigningCa(site_ca.cert, site_ca.key)


@pytest.fixture
def grants_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "grants"
    path = grant_path(folder, UID)
    assert path is not None
    write_grant(path, record())
    return folder


def refusal(error: pytest.ExceptionInfo[GrantRefused]) -> tuple[int, str]:
    return error.value.status, error.value.reason


def test_record_round_trips_through_its_file(tmp_path: Path) -> None:
    path = tmp_path / f"{UID}.json"
    write_grant(path, record())
    assert read_grant(path) == record()
    assert path.stat().st_mode & 0o077 == 0  # it holds the code
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left


def test_a_broken_file_does_not_hide_the_others(grants_dir: Path) -> None:
    (grants_dir / "broken.json").write_text("{not json")
    assert [r.name for r in read_grants(grants_dir)] == ["east-grant"]


def test_the_right_code_within_time_and_uses_passes() -> None:
    check_redemption(record(), CODE, NOW)


@pytest.mark.parametrize(
    ("grant", "code", "expected"),
    [
        (record(), CODE[:-1] + "X", "the token's code does not match its grant (altered token?)"),
        (record(), "", "the token's code does not match its grant (altered token?)"),
        (record(expiration=NOW), CODE, "the token expired at 2030-01-01T12:00:00Z"),
        (record(redemptions=2), CODE, "the token was already redeemed 2 of 2 times"),
        # Without the code nothing about the grant is told, not even that it expired.
        (
            record(expiration=NOW, redemptions=2),
            "wrong",
            "the token's code does not match its grant (altered token?)",
        ),
    ],
)
def test_refusals(grant: GrantRecord, code: str, expected: str) -> None:
    with pytest.raises(GrantRefused) as error:
        check_redemption(grant, code, NOW)
    assert refusal(error) == (403, expected)


@pytest.mark.parametrize("uid", ["ffffffff-0000-4000-8000-000000000000", "../../etc/passwd", ""])
def test_unknown_grants_are_404(grants_dir: Path, ca: SigningCa, uid: str) -> None:
    with pytest.raises(GrantRefused) as error:
        redeem(
            grants_dir, uid, CODE, requested_name="", subject="west", load_ca=lambda: ca, now=NOW
        )
    assert refusal(error) == (404, "no such access grant (unknown or deleted token)")


def test_redeem_counts_records_and_answers_a_link(grants_dir: Path, ca: SigningCa) -> None:
    first = redeem(
        grants_dir, UID, CODE, requested_name="", subject="west", load_ca=lambda: ca, now=NOW
    )
    second = redeem(
        grants_dir,
        UID,
        CODE,
        requested_name="to-east",
        subject="north",
        load_ca=lambda: ca,
        now=NOW,
    )
    path = grant_path(grants_dir, UID)
    assert path is not None
    stored = read_grant(path)
    assert stored.redemptions == 2 and stored.remaining == 0
    assert [(i.name, i.link) for i in stored.identities] == [
        ("west", "east-grant"),
        ("north", "to-east"),
    ]
    assert stored.identities == (first.identity, second.identity)
    with pytest.raises(GrantRefused) as error:
        redeem(
            grants_dir, UID, CODE, requested_name="", subject="south", load_ca=lambda: ca, now=NOW
        )
    assert refusal(error) == (403, "the token was already redeemed 2 of 2 times")
    assert read_grant(path).redemptions == 2

    link, secret = res.load_yaml(second.link_yaml, "answer")
    assert isinstance(link, res.Link) and isinstance(secret, res.Secret)
    assert link.name == secret.name == link.spec.tls_credentials == "to-east"
    assert link.spec.cost == 3
    assert link.spec.endpoints == [res.Endpoint(name="inter-router", host="127.0.0.1", port=55671)]
    certs.verify_client_credential(
        secret.pem("ca.crt"), secret.pem("tls.crt"), secret.pem("tls.key"), now=NOW
    )
    cert = x509.load_pem_x509_certificate(secret.pem("tls.crt"))
    assert cert.fingerprint(hashes.SHA256()).hex() == second.identity.fingerprint
    assert cert.subject.rfc4514_string() == "CN=north"
    # The YAML reads the same as what `link generate` prints.
    documents = list(yaml.safe_load_all(second.link_yaml))
    assert documents[0]["spec"]["endpoints"][0]["port"] == "55671"
    assert base64.b64decode(documents[1]["data"]["ca.crt"]) == ca.cert_pem


def test_a_wrong_code_spends_no_use(grants_dir: Path, ca: SigningCa) -> None:
    with pytest.raises(GrantRefused):
        redeem(
            grants_dir, UID, "nope", requested_name="", subject="west", load_ca=lambda: ca, now=NOW
        )
    path = grant_path(grants_dir, UID)
    assert path is not None and read_grant(path).redemptions == 0


def test_an_invalid_link_name_is_refused(grants_dir: Path, ca: SigningCa) -> None:
    with pytest.raises(GrantRefused) as error:
        redeem(
            grants_dir,
            UID,
            CODE,
            requested_name="Bad Name",
            subject="w",
            load_ca=lambda: ca,
            now=NOW,
        )
    assert refusal(error) == (400, "invalid link name 'Bad Name'")


def _settings(grants_dir: Path, tmp_path: Path) -> GrantServerSettings:
    site_ca = certs.new_ca("east site CA")
    certs.write_credential(tmp_path / "ca", site_ca.files())
    return GrantServerSettings(
        port=1,
        grantsDir=str(grants_dir),
        caCertFile=str(tmp_path / "ca" / "tls.crt"),
        caKeyFile=str(tmp_path / "ca" / "tls.key"),
    )


def test_answers_to_requests(grants_dir: Path, tmp_path: Path) -> None:
    settings = _settings(grants_dir, tmp_path)
    log = logging.getLogger("test")
    get = Request("GET", f"/{UID}", {}, b"")
    assert answer_request(get, settings, log, "peer").status == 405
    wrong = Request("POST", f"/{UID}", {}, b"wrong\n")
    assert answer_request(wrong, settings, log, "peer").status == 403
    good = Request("POST", f"/{UID}", {"subject": "west"}, CODE.encode() + b"\n")
    answer = answer_request(good, settings, log, "peer")
    assert answer.status == 200 and answer.content_type == "application/yaml"
    assert answer.encode().startswith(b"HTTP/1.1 200 OK\r\n")
    assert "kind: Link" in answer.body


def test_a_missing_ca_is_a_500_not_a_crash(grants_dir: Path, tmp_path: Path) -> None:
    settings = GrantServerSettings(port=1, grantsDir=str(grants_dir), caCertFile="/nonexistent")
    log = logging.getLogger("test")
    good = Request("POST", f"/{UID}", {}, CODE.encode())
    assert answer_request(good, settings, log, "peer").status == 500
    path = grant_path(grants_dir, UID)
    assert path is not None and read_grant(path).redemptions == 0
    unknown = Request("POST", "/0123abcd-ffff", {}, CODE.encode())
    assert answer_request(unknown, settings, log, "peer").status == 404


@pytest.mark.parametrize(
    ("text", "seconds"), [("1s", 1), ("15m", 900), ("1h30m", 5400), ("2d", 172800)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == datetime.timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "15", "m", "0s", "1w", "-1m", "1.5h"])
def test_invalid_durations(text: str) -> None:
    with pytest.raises(SkupperError):
        parse_duration(text)


def test_site_config_names_the_grant_server_and_the_revocation_list(tmp_path: Path) -> None:
    from skupper_podman.router.config import Revocation
    from skupper_podman.router.config_file import parse_config
    from skupper_podman.routerconfig import build_router_config, render
    from tests.test_routerconfig import ACCESS, SITE

    resources = res.SiteResources(site=SITE, router_access=ACCESS)
    entities = build_router_config(
        resources, namespace="ns", platform="linux", management_port=7, grant_server_port=9090
    )
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    (tmp_path / "revoked.txt").write_text("AB:CD\nef01\n")
    config = parse_config(json.loads(render(entities)), base_dir=runtime)
    assert config.grant_server == GrantServerSettings(
        port=9090,
        host="127.0.0.1",
        sslProfile="skupper-site-server",
        grantsDir=str(runtime / "../grants"),
        caCertFile=str(runtime / "../certs/skupper-site-ca/tls.crt"),
        caKeyFile=str(runtime / "../certs/skupper-site-ca/tls.key"),
    )
    assert config.revoked == {"abcd", "ef01"}
    # Without a grant server port (a site made before tokens) only the revocation list.
    older = build_router_config(resources, namespace="ns", platform="linux", management_port=7)
    assert not any(isinstance(entity, GrantServerSettings) for entity in older)
    assert Revocation(name="revoked", file="../revoked.txt") in older
