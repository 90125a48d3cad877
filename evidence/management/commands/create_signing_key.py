"""Make a development signing key and self-signed certificate for handover bundles."""

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Create an EC P-256 key and a self-signed certificate (digitalSignature + nonRepudiation) at "
        "PORTAL_SIGNING_KEY_PATH / PORTAL_SIGNING_CERT_PATH. For development and the demo: production uses "
        "the force's own key and certificate."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", default="Accredited Volunteer Portal (development) bundle signing")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Replace an existing key. The old certificate is kept, so bundles it signed still verify.",
        )

    def handle(self, *args, name: str, force: bool, **options) -> None:
        key_path, cert_path = Path(settings.PORTAL_SIGNING_KEY_PATH), Path(settings.PORTAL_SIGNING_CERT_PATH)
        if key_path.exists() and not force:
            self.stdout.write(f"A signing key already exists at {key_path}; use --force to replace it.")
            return
        if not settings.DEBUG and not force:
            raise CommandError("Refusing to create a self-signed key in production: install the force's key.")
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        usage = x509.KeyUsage(
            digital_signature=True,
            content_commitment=True,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .sign(key, hashes.SHA256())
        )
        key_path.parent.mkdir(parents=True, exist_ok=True)
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        key_path.chmod(0o600)
        if cert_path.is_file():
            from evidence.signing import keep_earlier

            kept = keep_earlier(cert_path)
            self.stdout.write(
                f"The previous certificate (SHA-256 {kept}) is kept in {settings.PORTAL_SIGNING_EARLIER_DIR}: "
                "bundles it signed still verify."
            )
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.stdout.write(self.style.SUCCESS(f"Key: {key_path}\nCertificate (give this to verifiers): {cert_path}"))
