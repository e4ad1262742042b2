"""A small AMQP management client for the site's router (docs/architecture.md, "Management").

It connects to the router's `normal` listener on 127.0.0.1 with the site's local client
certificate (mutual TLS, SASL EXTERNAL), sends QUERY requests to `$management` and reads
the replies on a dynamic reply address. Every failure becomes one SkupperError line.
"""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

from proton import Message, ProtonException, SSLDomain
from proton.utils import BlockingConnection

from skupper_podman import certs
from skupper_podman.errors import SkupperError

MANAGEMENT_ADDRESS = "$management"
ENTITY_TYPE_PREFIX = "io.skupper.router."
DEFAULT_TIMEOUT_SECONDS = 5.0


def client_ssl_domain(credential_folder: Path) -> SSLDomain:
    domain = SSLDomain(SSLDomain.MODE_CLIENT)
    domain.set_credentials(
        str(credential_folder / certs.CERT_FILE), str(credential_folder / certs.KEY_FILE), None
    )
    domain.set_trusted_ca_db(str(credential_folder / certs.CA_FILE))
    domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME)
    return domain


class ManagementClient:
    """One management connection; use as a context manager."""

    def __init__(
        self,
        port: int,
        client_credential: Path,
        *,
        host: str = "127.0.0.1",
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._where = f"{host}:{port}"
        self._timeout = timeout
        try:
            self._connection = BlockingConnection(
                f"amqps://{host}:{port}",
                timeout=timeout,
                ssl_domain=client_ssl_domain(client_credential),
                sasl_enabled=True,
                allowed_mechs="EXTERNAL",
            )
            self._replies = self._connection.create_receiver(None, dynamic=True)
            self._sender = self._connection.create_sender(MANAGEMENT_ADDRESS)
        except (ProtonException, OSError) as error:
            raise self._error(error) from None
        reply_to = self._replies.link.remote_source.address
        if not reply_to:
            self.close()
            raise SkupperError(f"router at {self._where} gave no dynamic reply address")
        self._reply_to: str = reply_to

    def __enter__(self) -> ManagementClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        # If the router went away there is nothing left to close.
        with contextlib.suppress(ProtonException, OSError):
            self._connection.close()

    def query(
        self,
        entity_type: str,
        attribute_names: tuple[str, ...] = (),
        *,
        agent: str | None = None,
    ) -> list[dict[str, Any]]:
        """All entities of `entity_type` (short name, e.g. "connector") as dicts.

        `agent` is the management address of another router of the network (see
        `agent_address`); by default the site's own router answers.
        """
        request_id = str(uuid.uuid4())
        request = Message(
            id=request_id,
            # skupper-router's agent answers with the request's correlation-id, ours with
            # its message-id (AMQP management): set both
            correlation_id=request_id,
            address=agent,
            reply_to=self._reply_to,
            properties={
                "operation": "QUERY",
                "type": "org.amqp.management",
                "entityType": ENTITY_TYPE_PREFIX + entity_type,
            },
            body={"attributeNames": list(attribute_names)},
        )
        try:
            self._sender.send(request, timeout=self._timeout)
            reply = self._receive_reply(request_id)
        except (ProtonException, OSError) as error:
            raise self._error(error) from None
        return _results(reply, entity_type)

    def _receive_reply(self, request_id: str) -> Message:
        while True:
            reply = self._replies.receive(timeout=self._timeout)
            # Replies may arrive pre-settled; only an unsettled one needs accepting.
            fetcher = self._replies.fetcher
            if fetcher is not None and fetcher.unsettled:
                self._replies.accept()
            if reply.correlation_id == request_id:
                return reply

    def _error(self, error: BaseException) -> SkupperError:
        detail = str(error).strip().replace("\n", " ") or type(error).__name__
        return SkupperError(f"router not answering at {self._where}: {detail}")


def _results(reply: Message, entity_type: str) -> list[dict[str, Any]]:
    properties: dict[str, Any] = reply.properties or {}
    status = properties.get("statusCode")
    if status != 200:
        description = properties.get("statusDescription", "no description")
        raise SkupperError(f"router refused the query of {entity_type}: {status} {description}")
    body = reply.body
    if not isinstance(body, dict):
        raise SkupperError(f"router sent a malformed reply to the query of {entity_type}")
    names = list(body.get("attributeNames", []))
    return [dict(zip(names, row, strict=False)) for row in body.get("results", [])]


def agent_address(router_id: str, *, edge: bool) -> str:
    """The management address of any router of the network, routed by the local router."""
    if edge:
        return f"_edge/{router_id}/{MANAGEMENT_ADDRESS}"
    return f"_topo/0/{router_id}/{MANAGEMENT_ADDRESS}"


def query(
    port: int, client_credential: Path, entity_type: str, attribute_names: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """Open a connection, run one query, close."""
    with ManagementClient(port, client_credential) as client:
        return client.query(entity_type, attribute_names)
