"""`s3.aws.upbound.io/v1beta1 Bucket`: the bucket named by the external name, its region and tags.

The region is fixed at creation: a bucket found in another region than `forProvider.region` is an
error, not drift. Deleting a bucket that still holds objects fails (BucketNotEmpty) unless
`forProvider.forceDestroy` is true, when every object version is removed first.
"""

from __future__ import annotations

from typing import Any

from ..managed import Creation, Observation, Update, external_name
from .calls import AwsError, default_tags, describe_tag_diff
from .connector import AwsExternal, for_provider
from .crds import BUCKETS

NOT_FOUND = ("NoSuchBucket", "404")
DEFAULT_REGION = "us-east-1"  # where GetBucketLocation's empty LocationConstraint means
DELETE_BATCH = 1000  # DeleteObjects takes at most this many keys


class BucketRegionError(Exception):
    pass


class BucketClient(AwsExternal):
    async def observe(self, mr: dict[str, Any]) -> Observation:
        name = external_name(mr)
        try:
            location = await self.call("get_bucket_location", Bucket=name)
        except AwsError as exc:
            if exc.code in NOT_FOUND:
                return Observation(exists=False)
            raise
        region = _region(location.get("LocationConstraint"))
        if region != self.ctx.region:
            raise BucketRegionError(f"bucket {name!r} is in region {region!r}, not {self.ctx.region!r}")
        have = await self._tags(name)
        want = self._want_tags(mr)
        spec = for_provider(mr)
        at_provider = {
            "id": name, "arn": f"arn:aws:s3:::{name}", "region": region,
            "bucketDomainName": f"{name}.s3.amazonaws.com",
            "bucketRegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
            "forceDestroy": bool(spec.get("forceDestroy")), "objectLockEnabled": bool(spec.get("objectLockEnabled")),
            "tags": dict(spec.get("tags") or {}), "tagsAll": have,
        }
        return Observation(True, have == want, at_provider=at_provider, diff=describe_tag_diff(want, have))

    async def create(self, mr: dict[str, Any]) -> Creation:
        name = external_name(mr)
        params: dict[str, Any] = {"Bucket": name}
        if self.ctx.region != DEFAULT_REGION:
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.ctx.region}
        if for_provider(mr).get("objectLockEnabled"):
            params["ObjectLockEnabledForBucket"] = True
        await self.call("create_bucket", **params)
        await self._put_tags(name, self._want_tags(mr))
        return Creation()

    async def update(self, mr: dict[str, Any]) -> Update:
        await self._put_tags(external_name(mr), self._want_tags(mr))
        return Update()

    async def delete(self, mr: dict[str, Any]) -> None:
        name = external_name(mr)
        try:
            if for_provider(mr).get("forceDestroy"):
                await self._empty(name)
            await self.call("delete_bucket", Bucket=name)
        except AwsError as exc:
            if exc.code not in NOT_FOUND:
                raise

    # ----

    def _want_tags(self, mr: dict[str, Any]) -> dict[str, str]:
        return {**default_tags(mr, BUCKETS.kind, BUCKETS.group), **(for_provider(mr).get("tags") or {})}

    async def _tags(self, name: str) -> dict[str, str]:
        try:
            out = await self.call("get_bucket_tagging", Bucket=name)
        except AwsError as exc:
            if exc.code == "NoSuchTagSet":
                return {}
            raise
        return {t["Key"]: t["Value"] for t in out.get("TagSet") or []}

    async def _put_tags(self, name: str, tags: dict[str, str]) -> None:
        if tags:
            tag_set = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
            await self.call("put_bucket_tagging", Bucket=name, Tagging={"TagSet": tag_set})
        else:
            await self.call("delete_bucket_tagging", Bucket=name)

    async def _empty(self, name: str) -> None:
        """Deletes every object version and delete marker (a plain object is version `null`)."""
        while True:
            page = await self.call("list_object_versions", Bucket=name, MaxKeys=DELETE_BATCH)
            doomed = [{"Key": v["Key"], "VersionId": v.get("VersionId") or "null"}
                      for v in (page.get("Versions") or []) + (page.get("DeleteMarkers") or [])]
            if not doomed:
                return
            result = await self.call("delete_objects", Bucket=name, Delete={"Objects": doomed, "Quiet": True})
            failed = result.get("Errors") or []
            if failed:
                raise AwsError(failed[0].get("Code") or "", f"cannot delete object {failed[0].get('Key')!r}: "
                               f"{failed[0].get('Message') or ''}", operation="DeleteObjects", service="S3")


def _region(constraint: str | None) -> str:
    if not constraint:
        return DEFAULT_REGION
    return "eu-west-1" if constraint == "EU" else constraint  # the legacy name of eu-west-1
