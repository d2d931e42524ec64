"""A Buildbarn runner client in Python (grpcio), for tests/runner.rs.

Reads a JSON job from stdin: {"target": "unix:///path", "ready": [paths],
"runs": [{RunRequest fields..., "deadline": seconds}], "raw_runs":
[{RunRequest fields..., "grpc_timeout": "2S"}]}. Checks readiness for
each path and issues every run at once, each with its own deadline; prints
{"ready": [...], "runs": [...], "raw_runs": [...]} as JSON, where each
entry of "ready" and "runs" is either {"ok": ...} or {"error":
"STATUS_CODE", "details": "..."}.

A raw run is one Run call made over HTTP/2 by hand (the h2 package), with
the grpc-timeout header but no timer of the client's own: what the server
answers when the deadline passes, which grpcio's own timer would hide. Its
entry is {"grpc-status": "4", "grpc-message": "...", "seconds": s}.
"""

import json
import socket
import sys
import time

import grpc

from buildbarn.resourceusage import resourceusage_pb2
from buildbarn.runner import runner_pb2, runner_pb2_grpc


def failure(e):
    return {"error": e.code().name, "details": e.details()}


def raw_run(path, run):
    import h2.config
    import h2.connection
    import h2.events

    timeout = run.pop("grpc_timeout")
    body = runner_pb2.RunRequest(**run).SerializeToString()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(120)
    sock.connect(path)
    conn = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    )
    conn.initiate_connection()
    stream = conn.get_next_available_stream_id()
    conn.send_headers(
        stream,
        [
            (":method", "POST"),
            (":scheme", "http"),
            (":authority", "localhost"),
            (":path", "/buildbarn.runner.Runner/Run"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
            ("grpc-timeout", timeout),
        ],
    )
    conn.send_data(stream, b"\0" + len(body).to_bytes(4, "big") + body, end_stream=True)
    start = time.monotonic()
    sock.sendall(conn.data_to_send())
    answer = {}
    ended = False
    while not ended:
        data = sock.recv(65536)
        if not data:
            answer["closed"] = True
            break
        for event in conn.receive_data(data):
            if isinstance(event, (h2.events.ResponseReceived, h2.events.TrailersReceived)):
                for name, value in event.headers:
                    if name.startswith("grpc-"):
                        answer[name] = value
            elif isinstance(event, h2.events.DataReceived):
                conn.acknowledge_received_data(event.flow_controlled_length, stream)
            elif isinstance(event, h2.events.StreamReset):
                answer["reset"] = event.error_code
                ended = True
            elif isinstance(event, h2.events.StreamEnded):
                ended = True
        sock.sendall(conn.data_to_send())
    answer["seconds"] = time.monotonic() - start
    sock.close()
    return answer


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
    path = job["target"].removeprefix("unix://")
    raw = [raw_run(path, run) for run in job.get("raw_runs", [])]
    json.dump({"ready": ready, "runs": runs, "raw_runs": raw}, sys.stdout)


if __name__ == "__main__":
    main()
