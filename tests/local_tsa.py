"""An RFC 3161 time-stamping authority served locally over HTTP, for tests: a fresh RSA key and a
certificate for time stamping, and pyHanko's DummyTimeStamper answering each request as a real TSA would
(application/timestamp-query in, application/timestamp-reply out)."""

from __future__ import annotations

import datetime
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def self_signed(key, common_name: str, *, valid_for: datetime.timedelta, extension) -> x509.Certificate:
    """A self-signed certificate for `key`, valid from a minute ago for `valid_for`, with one critical
    extension (its key usage or extended key usage)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + valid_for)
        .add_extension(extension, critical=True)
        .sign(key, hashes.SHA256())
    )


class LocalTsa:
    def __init__(self, folder: Path) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = self_signed(
            key,
            "Local test time-stamping authority",
            valid_for=datetime.timedelta(days=3650),
            extension=x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
        )
        self.cert_path = folder / "tsa-cert.pem"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path = folder / "tsa-key.pem"
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        from pyhanko.keys import load_cert_from_pemder, load_private_key_from_pemder
        from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

        self.stamper = DummyTimeStamper(
            tsa_cert=load_cert_from_pemder(str(self.cert_path)),
            tsa_key=load_private_key_from_pemder(str(key_path), passphrase=None),
        )
        self.requests = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tsa"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _handler(self):
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                from asn1crypto import tsp

                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                request = tsp.TimeStampReq.load(body)
                response = tsa.stamper.request_tsa_response(request)
                tsa.requests += 1
                data = response.dump()
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler

    def __enter__(self) -> LocalTsa:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
