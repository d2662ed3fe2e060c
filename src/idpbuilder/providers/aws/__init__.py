"""provider-aws: S3 `Bucket` and SQS `Queue` (`*.aws.upbound.io`) and `RDSInstance` (`*.aws.crossplane.io`)
managed resources, reconciled with boto3 against AWS or any AWS-compatible endpoint."""

from .component import AwsProvider

__all__ = ["AwsProvider"]
