"""TLS between the parts: a service behind `https://host:port/base-path` is called there, its
certificate checked, by the one client every part uses (glastonbury.service_client).

On the landed main both service clients turned `https://inventory.example.com/api` into plain
HTTP on port 80, and the catalogue client dropped `/api` too: a deployment behind TLS sent its
tokens in the clear. Here the inventory service runs as production runs it (granian), with a
certificate made by a certificate authority of the test's own (trustme).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

trustme = pytest.importorskip("trustme")

from cryptography.hazmat.primitives import serialization  # noqa: E402

from devtools.devstack import binaries  # noqa: E402
from glastonbury.auth import LOCAL_DEFAULTS  # noqa: E402
from glastonbury.service_client import ServiceHttp, Unreachable  # noqa: E402
from order_service.adapters.catalogue import HttpCatalogue  # noqa: E402
from orchestrator.adapters.services import InventoryClient  # noqa: E402
from orchestrator.domain.exceptions import ServiceUnavailable  # noqa: E402
from orchestrator.domain.model import OrderLine  # noqa: E402

DAY_ONE = uuid.UUID("3852cb18-9c19-4326-ac77-a1a0264bd98c")
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class TlsInventory:
    url: str           # https://localhost:<port>/api
    ca_bundle: Path    # the test's own certificate authority, PEM


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsInventory]:
    """The inventory service under granian, over TLS only, mounted at /api."""
    folder = tmp_path_factory.mktemp("tls")
    authority = trustme.CA()
    leaf = authority.issue_cert("localhost", "127.0.0.1")
    certificate, key, bundle = folder / "cert.pem", folder / "key.pem", folder / "ca.pem"
    certificate.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    # granian reads PKCS#8 keys only.
    private = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    authority.cert_pem.write_to_path(str(bundle))
    port = binaries.free_port()
    environ = {**os.environ, **LOCAL_DEFAULTS, "GLASTONBURY_LOCAL_STACK": "1",
               "INVENTORY_DATABASE_URL": f"sqlite:///{folder / 'inventory.db'}"}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "granian"), "--interface", "wsgi",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--blocking-threads", "2", "--ssl-certificate", str(certificate),
         "--ssl-keyfile", str(key), "--url-path-prefix", "/api",
         "--factory", "inventory_service.entrypoints.flask_app:serve"],
        cwd=ROOT, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        binaries.wait_for_port(port)
        yield TlsInventory(f"https://localhost:{port}/api", bundle)
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_catalogue_is_read_over_tls_at_the_urls_own_path(inventory: TlsInventory) -> None:
    catalogue = HttpCatalogue(inventory.url, ca_bundle=str(inventory.ca_bundle))
    listings = catalogue.listings([DAY_ONE])
    assert listings is not None and listings[DAY_ONE].name == "day-one"


def test_the_orchestrator_reserves_over_tls_with_its_credential(inventory: TlsInventory,
                                                                monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    monkeypatch.setenv("SERVICE_CA_BUNDLE", str(inventory.ca_bundle))
    monkeypatch.setenv("GLASTONBURY_LOCAL_STACK", "1")
    monkeypatch.setenv("ORCHESTRATOR_TOKEN", LOCAL_DEFAULTS["ORCHESTRATOR_TOKEN"])
    order = str(uuid.uuid4())
    inventory_client = InventoryClient(inventory.url)
    refusal = inventory_client.reserve(order, str(uuid.uuid4()),
                                       (OrderLine(str(DAY_ONE), 1, Decimal("200.00")),))
    assert refusal is None
    inventory_client.release(order)


def test_a_certificate_no_trusted_authority_signed_is_refused(inventory: TlsInventory) -> None:
    """Without the test's authority the server is not believed: nothing is sent to it (the
    system's authorities never signed the test's certificate)."""
    with pytest.raises(Unreachable, match="CERTIFICATE_VERIFY_FAILED"):
        ServiceHttp(inventory.url, 2.0, ca_bundle="").request("GET", "/tickets")
    assert HttpCatalogue(inventory.url, ca_bundle="").listings([DAY_ONE]) is None
    with pytest.raises(ServiceUnavailable):
        InventoryClient(inventory.url).reserve(
            str(uuid.uuid4()), str(uuid.uuid4()), ())


def test_a_plain_http_client_does_not_reach_a_tls_service(inventory: TlsInventory) -> None:
    plain = inventory.url.replace("https://", "http://")
    with pytest.raises(Unreachable):
        ServiceHttp(plain, 2.0).request("GET", "/tickets")


@pytest.mark.parametrize("url, secure, host, port, prefix", [
    ("https://inventory.example.com/api", True, "inventory.example.com", 443, "/api"),
    ("https://inventory.example.com:8443/api/", True, "inventory.example.com", 8443, "/api"),
    ("http://inventory:8081", False, "inventory", 8081, ""),
    ("http://127.0.0.1", False, "127.0.0.1", 80, ""),
])
def test_a_service_url_is_used_as_given(url: str, secure: bool, host: str, port: int,
                                         prefix: str) -> None:
    client = ServiceHttp(url, 1.0, ca_bundle="")
    assert (client.secure, client.host, client.port, client.prefix) == (secure, host, port,
                                                                        prefix)


@pytest.mark.parametrize("url", ["ftp://inventory/api", "inventory:8081", "https://", ""])
def test_a_url_that_names_no_service_is_refused_when_the_client_is_made(url: str) -> None:
    with pytest.raises(ValueError, match="no service URL"):
        ServiceHttp(url, 1.0)
