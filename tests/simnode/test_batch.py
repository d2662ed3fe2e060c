"""Jobs and CronJobs on the simulated node, through the API."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from idpbuilder.runtime.simnode.refs import CRONJOBS, JOBS, PODS

from .conftest import Cluster, eventually


def job(name: str = "pi", *, restart: str = "Never", annotations: dict[str, str] | None = None,
        **spec: Any) -> dict[str, Any]:
    template: dict[str, Any] = {"spec": {"restartPolicy": restart, "containers": [
        {"name": "pi", "image": "perl:5.34"}]}}
    if annotations:
        template["metadata"] = {"annotations": annotations}
    return {"metadata": {"name": name}, "spec": {"template": template, **spec}}


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or ()}


async def finished(cluster: Cluster, name: str, kind: str) -> dict[str, Any] | None:
    current = await cluster.get(JOBS, name)
    return current if current and conditions(current).get(kind, {}).get("status") == "True" else None


async def test_job_runs_its_completions_and_completes(cluster: Cluster) -> None:
    await cluster.create(JOBS, job(completions=3, parallelism=2))
    done = await eventually(lambda: finished(cluster, "pi", "Complete"), what="the job to complete")
    status = done["status"]
    assert status["succeeded"] == 3 and "failed" not in status and "active" not in status
    assert status["ready"] == 0 and status["terminating"] == 0 and status["uncountedTerminatedPods"] == {}
    assert status["startTime"] <= status["completionTime"]
    cond = conditions(done)
    assert [c for c in cond] == ["SuccessCriteriaMet", "Complete"]
    assert (cond["Complete"]["reason"], cond["Complete"]["message"]) == (
        "CompletionsReached", "Reached expected number of succeeded pods")
    pods = await cluster.list(PODS, selector="batch.kubernetes.io/job-name=pi")
    assert len(pods) == 3 and {p["status"]["phase"] for p in pods} == {"Succeeded"}
    assert all(not p["metadata"].get("finalizers") for p in pods)  # tracked, then released
    terminated = pods[0]["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["reason"], terminated["exitCode"]) == ("Completed", 0)


async def test_job_with_failing_pods_fails_past_its_backoff_limit(cluster: Cluster) -> None:
    await cluster.create(JOBS, job("bad", backoffLimit=2, annotations={"idpbuilder.io/simulate": "CrashLoopBackOff"}))
    failed = await eventually(lambda: finished(cluster, "bad", "Failed"), what="the job to fail")
    cond = conditions(failed)
    assert list(cond) == ["FailureTarget", "Failed"]
    assert (cond["Failed"]["reason"], cond["Failed"]["message"]) == (
        "BackoffLimitExceeded", "Job has reached the specified backoff limit")
    assert failed["status"]["failed"] == 3 and "completionTime" not in failed["status"]
    pods = await cluster.list(PODS, selector="batch.kubernetes.io/job-name=bad")
    assert len(pods) == 3 and {p["status"]["phase"] for p in pods} == {"Failed"}
    exit_codes = {p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] for p in pods}
    assert exit_codes == {1}


async def test_on_failure_restarts_count_against_the_backoff_limit(cluster: Cluster) -> None:
    await cluster.create(JOBS, job("flaky", restart="OnFailure", backoffLimit=2,
                                   annotations={"idpbuilder.io/simulate": "CrashLoopBackOff"}))
    failed = await eventually(lambda: finished(cluster, "flaky", "Failed"), what="the job to fail")
    assert conditions(failed)["Failed"]["reason"] == "BackoffLimitExceeded"
    await eventually(lambda: _no_pods(cluster, "flaky"), what="the failed job's pods to go")


async def _no_pods(cluster: Cluster, name: str) -> bool:
    return not await cluster.list(PODS, selector=f"batch.kubernetes.io/job-name={name}")


async def test_indexed_job_completes_every_index(cluster: Cluster) -> None:
    await cluster.create(JOBS, job("idx", completions=3, parallelism=3, completionMode="Indexed"))
    done = await eventually(lambda: finished(cluster, "idx", "Complete"), what="the indexed job")
    assert done["status"]["completedIndexes"] == "0-2"
    pods = await cluster.list(PODS, selector="batch.kubernetes.io/job-name=idx")
    assert sorted(p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] for p in pods) == [
        "0", "1", "2"]
    assert all(p["metadata"]["name"].startswith(f"idx-{p['spec']['hostname'][4:]}-") for p in pods)


async def test_suspended_job_starts_nothing_until_resumed(cluster: Cluster) -> None:
    await cluster.create(JOBS, job("later", suspend=True))

    async def suspended() -> bool:
        current = await cluster.get(JOBS, "later")
        return bool(current) and conditions(current).get("Suspended", {}).get("status") == "True"

    await eventually(suspended, what="the Suspended condition")
    assert await cluster.list(PODS) == []
    await cluster.patch(JOBS, "later", {"spec": {"suspend": False}}, "merge")
    done = await eventually(lambda: finished(cluster, "later", "Complete"), what="the resumed job")
    assert conditions(done)["Suspended"]["status"] == "False"


async def test_deleting_a_job_removes_its_pods(cluster: Cluster) -> None:
    await cluster.create(JOBS, job("long", annotations={"idpbuilder.io/simulate-duration": "1h"}))

    async def running() -> bool:
        pods = await cluster.list(PODS, selector="batch.kubernetes.io/job-name=long")
        return bool(pods) and pods[0]["status"]["phase"] == "Running"

    await eventually(running, what="the job's pod to run")
    await cluster.client.delete(JOBS, "long", "default")
    await eventually(lambda: _no_pods(cluster, "long"), what="garbage collection of the pod")


def cronjob(name: str = "tick", schedule: str = "*/5 * * * *", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name},
            "spec": {"schedule": schedule, "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}}, **spec}}


def next_boundary(now: datetime, minutes: int) -> datetime:
    base = now.replace(second=0, microsecond=0)
    return base + timedelta(minutes=minutes - base.minute % minutes)


async def test_cronjob_creates_jobs_on_schedule_with_an_injected_clock(cluster: Cluster) -> None:
    created = await cluster.create(CRONJOBS, cronjob(successfulJobsHistoryLimit=1))
    start = datetime.fromisoformat(created["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    assert await cluster.list(JOBS) == []
    first = next_boundary(cluster.clock(), 5)
    cluster.clock.offset += first - cluster.clock() + timedelta(seconds=1)
    expected = f"tick-{int(first.timestamp()) // 60}"
    ran = await eventually(lambda: finished(cluster, expected, "Complete"), what=f"job {expected}")
    assert ran["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == \
        first.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ran["metadata"]["ownerReferences"][0]["kind"] == "CronJob"

    async def recorded() -> dict[str, Any] | None:
        cj = await cluster.get(CRONJOBS, "tick")
        return cj if cj and cj["status"].get("lastSuccessfulTime") and not cj["status"].get("active") else None

    cj = await eventually(recorded, what="lastSuccessfulTime")
    assert cj["status"]["lastScheduleTime"] == first.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert start < first
    second = first + timedelta(minutes=5)
    cluster.clock.advance(minutes=5)
    expected2 = f"tick-{int(second.timestamp()) // 60}"
    await eventually(lambda: finished(cluster, expected2, "Complete"), what=f"job {expected2}")

    async def only_newest() -> list[str] | None:
        names = sorted(j["metadata"]["name"] for j in await cluster.list(JOBS))
        return names if names == [expected2] else None

    await eventually(only_newest, what="successfulJobsHistoryLimit 1 to delete the first job")


async def test_forbid_skips_runs_while_one_is_active_and_suspend_stops_scheduling(cluster: Cluster) -> None:
    long_running = cronjob("slow", "* * * * *", concurrencyPolicy="Forbid")
    long_running["spec"]["jobTemplate"]["spec"]["template"]["metadata"] = {
        "annotations": {"idpbuilder.io/simulate-duration": "1h"}}
    await cluster.create(CRONJOBS, long_running)
    cluster.clock.advance(minutes=1)

    async def active() -> dict[str, Any] | None:
        cj = await cluster.get(CRONJOBS, "slow")
        return cj if cj and len(cj["status"].get("active") or []) == 1 else None

    cj = await eventually(active, what="an active job")
    ref = cj["status"]["active"][0]
    assert (ref["kind"], ref["apiVersion"]) == ("Job", "batch/v1") and ref["uid"]
    cluster.clock.advance(minutes=2)
    await asyncio.sleep(0.5)  # the controller looks again at least every max_requeue (0.2 s)
    assert len(await cluster.list(JOBS)) == 1  # Forbid: no second job while the first runs
    again = await cluster.get(CRONJOBS, "slow")
    assert again is not None and again["status"]["lastScheduleTime"] == cj["status"]["lastScheduleTime"]
    await cluster.patch(CRONJOBS, "slow", {"spec": {"suspend": True, "concurrencyPolicy": "Allow"}}, "merge")
    cluster.clock.advance(minutes=3)
    await asyncio.sleep(0.5)
    assert len(await cluster.list(JOBS)) == 1


@pytest.mark.parametrize("policy", ["Replace"])
async def test_replace_deletes_the_running_job_for_the_new_one(cluster: Cluster, policy: str) -> None:
    long_running = cronjob("swap", "* * * * *", concurrencyPolicy=policy)
    long_running["spec"]["jobTemplate"]["spec"]["template"]["metadata"] = {
        "annotations": {"idpbuilder.io/simulate-duration": "1h"}}
    await cluster.create(CRONJOBS, long_running)
    now = cluster.clock()
    cluster.clock.advance(minutes=1)
    first = next_boundary(now, 1)

    async def job_named(name: str) -> bool:
        return await cluster.get(JOBS, name) is not None

    await eventually(lambda: job_named(f"swap-{int(first.timestamp()) // 60}"), what="the first job")
    cluster.clock.advance(minutes=1)
    second = f"swap-{int((first + timedelta(minutes=1)).timestamp()) // 60}"

    async def replaced() -> list[str] | None:
        names = [j["metadata"]["name"] for j in await cluster.list(JOBS) if not j["metadata"].get("deletionTimestamp")]
        return names if names == [second] else None

    await eventually(replaced, what="the first job to be replaced")
    cj = await cluster.get(CRONJOBS, "swap")
    assert cj is not None and [r["name"] for r in cj["status"]["active"]] == [second]
    assert datetime.now(UTC) < cluster.clock()  # the schedule ran on the injected clock, not the real one
