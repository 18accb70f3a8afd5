"""Signed statements: a JWS signature attachment whose payload must match the statement
(xAPI 1.0.3 Data 2.6)."""
from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import json

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.lrs.conftest import XAPIClient, statement

SIGNATURE = "http://adlnet.gov/expapi/attachments/signature"


def _key_and_cert() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "signer")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return key, base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def _signed_request(body: dict, token: bytes) -> tuple[bytes, dict]:
    sha2 = hashlib.sha256(token).hexdigest()
    signed = copy.deepcopy(body)
    signed["attachments"] = [{"usageType": SIGNATURE, "display": {"en-US": "signature"},
                              "contentType": "application/octet-stream", "length": len(token), "sha2": sha2}]
    data = (b"--sig\r\nContent-Type: application/json\r\n\r\n" + json.dumps(signed).encode() + b"\r\n"
            b"--sig\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n"
            b"X-Experience-API-Hash: " + sha2.encode() + b"\r\n\r\n" + token + b"\r\n--sig--\r\n")
    return data, signed


def test_a_correctly_signed_statement_is_stored_data_2_6(xapi: XAPIClient) -> None:
    key, cert = _key_and_cert()
    body = statement()
    token = jwt.encode(body, key, algorithm="RS256", headers={"x5c": [cert]}).encode()
    data, signed = _signed_request(body, token)
    response = xapi.post("/statements", data=data, content_type="multipart/mixed; boundary=sig")
    assert response.status_code == 200, response.json


def test_a_signature_whose_payload_differs_is_rejected_data_2_6(xapi: XAPIClient) -> None:
    key, cert = _key_and_cert()
    body = statement()
    token = jwt.encode({**body, "verb": {"id": "http://example.org/other"}}, key, algorithm="RS256").encode()
    data, _ = _signed_request(body, token)
    response = xapi.post("/statements", data=data, content_type="multipart/mixed; boundary=sig")
    assert response.status_code == 400 and "payload" in response.json["message"]


def test_a_signature_with_a_non_rsa_algorithm_is_rejected_data_2_6(xapi: XAPIClient) -> None:
    body = statement()
    token = jwt.encode(body, "shared-secret-long-enough-for-hs256-checks", algorithm="HS256").encode()
    data, _ = _signed_request(body, token)
    assert xapi.post("/statements", data=data,
                     content_type="multipart/mixed; boundary=sig").status_code == 400


def test_a_signature_that_does_not_verify_with_its_certificate_is_rejected_data_2_6(xapi: XAPIClient) -> None:
    key, _ = _key_and_cert()
    _, other_cert = _key_and_cert()
    body = statement()
    token = jwt.encode(body, key, algorithm="RS256", headers={"x5c": [other_cert]}).encode()
    data, _ = _signed_request(body, token)
    assert xapi.post("/statements", data=data,
                     content_type="multipart/mixed; boundary=sig").status_code == 400
