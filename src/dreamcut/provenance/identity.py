"""Who signs: the project's own certificate (made on first use) or the user's (environment).

Signing uses a per-project key and certificate made on first use (ES256: a small CA that
issues one end-entity certificate, the shape c2pa-rs accepts), kept with 0600 permissions
under `.dreamcut/keys/`, or a user's own certificate and key (`DREAMCUT_C2PA_CERT`,
`DREAMCUT_C2PA_KEY`). The private key is never written anywhere else, nor named in a message.
"""

from __future__ import annotations

import datetime
import fcntl
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from dreamcut.errors import BadInput

CERT_ENV, KEY_ENV = "DREAMCUT_C2PA_CERT", "DREAMCUT_C2PA_KEY"


@dataclass(frozen=True)
class SigningIdentity:
    """The certificate chain (PEM, public) and the private key (PEM, never written anywhere else)."""

    chain_pem: bytes
    key_pem: bytes = field(repr=False)
    alg: str  # es256 | es384 | es512 | ps256 | ed25519
    origin: str  # "project" | "user"

    @property
    def serial(self) -> str:
        from cryptography import x509

        return str(x509.load_pem_x509_certificates(self.chain_pem)[0].serial_number)


def keys_dir(project) -> Path:
    return project.state_dir / "keys"


def signing_identity(project) -> SigningIdentity:
    """The user's certificate (env) if given, else the project's own, made on first use."""
    cert_env, key_env = os.environ.get(CERT_ENV), os.environ.get(KEY_ENV)
    if cert_env or key_env:
        if not (cert_env and key_env):
            raise BadInput(f"{CERT_ENV} and {KEY_ENV} must be set together", where="environment",
                           fix="set both to the PEM files of your signing certificate chain and its private key")
        chain, key = _read_secret_file(Path(cert_env), CERT_ENV), _read_secret_file(Path(key_env), KEY_ENV)
        return SigningIdentity(chain_pem=chain, key_pem=key, alg=_alg_for_key(key, CERT_ENV), origin="user")
    d = keys_dir(project)
    cert_path, key_path = d / "signer-chain.pem", d / "signer.key"
    if not (cert_path.is_file() and key_path.is_file()):
        with _keys_lock(d):
            if not (cert_path.is_file() and key_path.is_file()):
                chain, key = make_project_certificate(project.spec.title)
                _write_private(key_path, key)
                _write_private(cert_path, chain)
    return SigningIdentity(chain_pem=cert_path.read_bytes(), key_pem=key_path.read_bytes(), alg="es256",
                           origin="project")


def _read_secret_file(path: Path, env: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        # Name the variable, not the path: the path may be inside the home folder.
        raise BadInput(f"cannot read the file named by {env} ({e.strerror})", where="environment",
                       fix=f"point {env} at a readable PEM file") from None


def _alg_for_key(key_pem: bytes, env: str) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise BadInput(f"the key named by {KEY_ENV} is not an unencrypted PEM private key", where="environment",
                       fix="export the key as PKCS#8 PEM without a password") from None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {256: "es256", 384: "es384", 521: "es512"}.get(key.curve.key_size, "es256")
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    raise BadInput("unsupported signing key type", where="environment", fix="use an EC P-256, Ed25519 or RSA key")


@contextmanager
def _keys_lock(d: Path) -> Iterator[None]:
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    fd = os.open(d / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _write_private(path: Path, data: bytes) -> None:
    """Write with 0600 from the first byte (no window where the key is world-readable), then rename."""
    tmp = path.with_name(f".{path.name}.part")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def make_project_certificate(title: str) -> tuple[bytes, bytes]:
    """A fresh ES256 CA + end-entity chain (PEM) and the end entity's private key (PEM).

    c2pa-rs's certificate profile: the signing certificate is X.509 v3, not a CA, has the
    digitalSignature key usage and an allowed extended key usage (emailProtection /
    documentSigning), carries authority and subject key identifiers, and is not self-signed;
    so a one-off CA issues it. The CA key is thrown away after issuing: nothing else can be
    signed with it later.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    safe_title = re.sub(r"[^\w .,'-]", "", title)[:48].strip() or "dreamcut project"

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dreamcut project certificate")])

    def usage(sign: bool, ca: bool) -> x509.KeyUsage:
        return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                             encipher_only=False, decipher_only=False)

    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=3650)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name(f"{safe_title} (dreamcut CA)")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(usage(False, True), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    ee_key = ec.generate_private_key(ec.SECP256R1())
    ee = (x509.CertificateBuilder().subject_name(name(f"{safe_title} (dreamcut signer)")).issuer_name(ca_name)
          .public_key(ee_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
          .add_extension(usage(True, False), critical=True)
          .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ee_key.public_key()), critical=False)
          .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    chain = ee.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    key = ee_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())
    return chain, key


def signer(identity: SigningIdentity):
    import c2pa

    info = c2pa.C2paSignerInfo(identity.alg, identity.chain_pem, identity.key_pem, None)
    return c2pa.Signer.from_info(info)


def sign_bytes(identity: SigningIdentity, payload: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = serialization.load_pem_private_key(identity.key_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise BadInput("JSON sidecars are signed with EC keys only", where="environment",
                       fix=f"use an EC P-256 key in {KEY_ENV}")
    return key.sign(payload, ec.ECDSA(hashes.SHA256()))
