"""A Buildbarn runner client in Python (grpcio), for tests/runner.rs.

Reads a JSON job from stdin: {"target": "unix:///path", "ready": [paths],
"runs": [{RunRequest fields..., "deadline": seconds}]}. Checks readiness for
each path and issues every run at once, each with its own deadline; prints
{"ready": [...], "runs": [...]} as JSON, where each entry is either
{"ok": ...} or {"error": "STATUS_CODE", "details": "..."}.
"""

import json
import sys

import grpc

from buildbarn.resourceusage import resourceusage_pb2
from buildbarn.runner import runner_pb2, runner_pb2_grpc


def failure(e):
    return {"error": e.code().name, "details": e.details()}


def main():
    job = json.load(sys.stdin)
    # Over a UNIX socket gRPC core would send the socket's path as the
    # :authority, which HTTP/2 servers may refuse: name a host instead.
    channel = grpc.insecure_channel(
        job["target"], options=[("grpc.default_authority", "localhost")]
    )
    stub = runner_pb2_grpc.RunnerStub(channel)
    ready = []
    for path in job.get("ready", []):
        try:
            stub.CheckReadiness(runner_pb2.CheckReadinessRequest(path=path))
            ready.append({"ok": True})
        except grpc.RpcError as e:
            ready.append(failure(e))
    calls = []
    for run in job.get("runs", []):
        deadline = run.pop("deadline", None)
        request = runner_pb2.RunRequest(**run)
        calls.append(stub.Run.future(request, timeout=deadline))
    runs = []
    for call in calls:
        try:
            response = call.result()
        except grpc.RpcError as e:
            runs.append(failure(e))
            continue
        usages = []
        for any_message in response.resource_usage:
            usage = resourceusage_pb2.POSIXResourceUsage()
            if not any_message.Unpack(usage):
                usages.append({"type_url": any_message.type_url})
                continue
            usages.append(
                {
                    "user_time": usage.user_time.ToNanoseconds() / 1e9,
                    "system_time": usage.system_time.ToNanoseconds() / 1e9,
                    "maximum_resident_set_size": usage.maximum_resident_set_size,
                    "termination_signal": usage.termination_signal,
                }
            )
        runs.append({"ok": {"exit_code": response.exit_code, "usage": usages}})
    json.dump({"ready": ready, "runs": runs}, sys.stdout)


if __name__ == "__main__":
    main()
