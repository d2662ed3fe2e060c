"""The aws provider's pure parts: credentials INI, endpoints, AWS error text, log redaction, RDS readiness."""

from __future__ import annotations

import logging

import pytest
from botocore.exceptions import ClientError

from idpbuilder.providers.aws import rds
from idpbuilder.providers.aws.calls import AwsError, default_tags, from_client_error, tag_changes
from idpbuilder.providers.aws.config import Credentials, Endpoint, parse_credentials
from idpbuilder.providers.aws.redact import MASK, SecretRedactor


def test_credentials_from_the_default_profile() -> None:
    creds = parse_credentials("[other]\naws_access_key_id = X\naws_secret_access_key = Y\n"
                              "[default]\naws_access_key_id = AKIA123\naws_secret_access_key = s3cr%t=\n"
                              "aws_session_token = tok\n")
    assert (creds.access_key_id, creds.secret_access_key, creds.session_token) == ("AKIA123", "s3cr%t=", "tok")
    assert "s3cr" not in repr(creds) and "tok" not in repr(creds)


@pytest.mark.parametrize(("text", "message"), [
    ("aws_access_key_id = A\naws_secret_access_key = hunter22\n",
     "the credentials are not in the INI format of an AWS credentials file"),
    ("[prod]\naws_access_key_id = A\naws_secret_access_key = hunter22\n", "the credentials have no [default] profile"),
    ("[default]\naws_secret_access_key = hunter22\n", "the [default] profile has no aws_access_key_id"),
    ("[default]\naws_access_key_id = A\n", "the [default] profile has no aws_secret_access_key"),
])
def test_bad_credentials_are_explained_without_quoting_them(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_credentials(text)
    assert str(info.value) == message
    assert "hunter22" not in str(info.value)


def test_credential_fingerprints_differ_by_secret() -> None:
    assert Credentials("A", "x").fingerprint() != Credentials("A", "y").fingerprint()
    assert Credentials("A", "x").fingerprint() == Credentials("A", "x").fingerprint()


def test_endpoint_urls() -> None:
    static = Endpoint("Static", static="http://localhost:4566")
    assert static.url_for("sqs", "eu-west-1") == "http://localhost:4566"
    dynamic = Endpoint("Dynamic", protocol="http", host="example.test", services=("s3", "sqs"))
    assert dynamic.url_for("s3", "eu-west-1") == "http://s3.eu-west-1.example.test"
    assert dynamic.url_for("rds", "eu-west-1") is None  # not listed: AWS's own endpoint


def _client_error(error: dict[str, str], status: int, operation: str) -> ClientError:
    return ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


def test_aws_error_text() -> None:
    err = from_client_error(_client_error({"Code": "AccessDenied", "Message": "Access Denied"}, 403,
                                          "CreateBucket"), "S3")
    assert str(err) == "S3 CreateBucket: AccessDenied: Access Denied"
    assert (err.code, err.status) == ("AccessDenied", 403)


def test_aws_error_from_an_xml_body_where_json_was_expected() -> None:
    body = ('<?xml version="1.0" encoding="utf-8"?>\n<ErrorResponse><Errors><Error><Code>InvalidClientTokenId</Code>'
            '<Message>The security token included in the request is invalid.</Message></Error></Errors></ErrorResponse>')
    err = from_client_error(_client_error({"Code": "403", "Message": body}, 403, "ListQueues"), "SQS")
    assert str(err) == "SQS ListQueues: InvalidClientTokenId: The security token included in the request is invalid."


def test_aws_error_without_a_body() -> None:
    err = from_client_error(_client_error({"Code": "403", "Message": ""}, 403, "HeadBucket"), "S3")
    assert str(err) == "S3 HeadBucket: 403: HTTP status 403"
    assert str(AwsError("", "plain")) == "plain"


def test_tags() -> None:
    mr = {"metadata": {"name": "b"}, "spec": {"providerConfigRef": {"name": "prod"}}}
    assert default_tags(mr, "Bucket", "s3.aws.upbound.io") == {
        "crossplane-kind": "bucket.s3.aws.upbound.io", "crossplane-name": "b", "crossplane-providerconfig": "prod"}
    assert tag_changes({"a": "1", "b": "2"}, {"b": "3", "c": "4"}) == ({"a": "1", "b": "2"}, ["c"])


def test_redactor_masks_secrets_in_every_encoding() -> None:
    redactor = SecretRedactor()
    redactor.add("p@ss w/rd+1")
    redactor.add("abc")  # too short to mask safely
    logger = logging.getLogger("test.aws.redact")
    record = logger.makeRecord(logger.name, logging.DEBUG, __file__, 1, "body %s / %s / %s / %r",
                               ("p@ss w/rd+1", "p%40ss+w%2Frd%2B1", "p%40ss%20w%2Frd%2B1", {"pw": "p@ss w/rd+1"}),
                               None)
    assert redactor.filter(record)
    assert record.getMessage() == f"body {MASK} / {MASK} / {MASK} / {{'pw': '{MASK}'}}"
    plain = logger.makeRecord(logger.name, logging.DEBUG, __file__, 1, "abc %s", ("def",), None)
    redactor.filter(plain)
    assert plain.getMessage() == "abc def"


def test_redactor_forgets_the_oldest_secrets_beyond_its_bound() -> None:
    redactor = SecretRedactor(max_secrets=8)
    for i in range(10):
        redactor.add(f"secret-number-{i}")
    assert redactor.redact("secret-number-9") == MASK
    assert redactor.redact("secret-number-0") == "secret-number-0"


@pytest.mark.parametrize(("status", "ready", "reason"), [
    ("available", True, ""), ("modifying", True, ""), ("backing-up", True, ""),
    ("creating", False, "Creating"), ("deleting", False, "Deleting"), ("stopped", False, "Unavailable"),
    ("failed", False, "Unavailable"),
])
def test_rds_readiness(status: str, ready: bool, reason: str) -> None:
    is_ready, why, message = rds.readiness(status)
    assert (is_ready, why) == (ready, reason)
    assert (status in message) == (reason == "Unavailable")


def test_rds_parameter_names() -> None:
    assert [rds._param(f) for f in ("dbInstanceClass", "caCertificateIdentifier", "multiAZ", "iops", "dbName",
                                    "performanceInsightsKMSKeyId", "allocatedStorage")] == [
        "DBInstanceClass", "CACertificateIdentifier", "MultiAZ", "Iops", "DBName", "PerformanceInsightsKMSKeyId",
        "AllocatedStorage"]


@pytest.mark.parametrize(("want", "have", "satisfied"), [
    ("16", "16.3", True), ("16.3", "16.3", True), ("16.3", "16.4", True), ("16", "15.7", False),
    ("16.4", "16.3", False), ("8.0", "8.0.35", True), ("custom-a", "custom-b", False),
])
def test_rds_engine_versions(want: str, have: str, satisfied: bool) -> None:
    assert rds._version_satisfied(want, have) is satisfied
