#!/usr/bin/env python3
"""publish.py - publishing to a ringcast cluster from Python, with nothing but the .proto files.

Reads the ring from a router (Cluster.GetRing), finds the topic's owner with the formula in
proto/ringcast/v1/ring.proto (XXH3-64 of the topic, top log2(Q) bits), and calls
Publisher.Publish on that node. The gRPC code is generated from proto/ at run time into a
temporary directory. Needs (Debian 12): python3-grpcio, python3-protobuf, python3-xxhash, and
protoc with grpc_python_plugin (protobuf-compiler, protobuf-compiler-grpc).

  python3 examples/python/publish.py --router 127.0.0.1:9000 --topic orders/42 --count 3

Prints one event id per line. Every event carries (producer_id, sequence), so the one retry
after a FAILED_PRECONDITION (the ring moved: re-read it) can never append an event twice.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

import grpc
import xxhash

PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto")
PROTOS = ["ringcast/v1/ring.proto", "ringcast/v1/errors.proto", "ringcast/v1/publisher.proto",
          "ringcast/v1/cluster.proto"]


def generate_stubs(out_dir):
    """Compiles the protos into out_dir (messages and gRPC stubs) and makes them importable."""
    plugin = shutil.which("grpc_python_plugin")
    if plugin is None:
        sys.exit("grpc_python_plugin not found (Debian: apt-get install protobuf-compiler-grpc)")
    subprocess.run(["protoc", f"-I{PROTO_DIR}", f"--python_out={out_dir}",
                    f"--grpc_python_out={out_dir}", f"--plugin=protoc-gen-grpc_python={plugin}",
                    *PROTOS], check=True)
    sys.path.insert(0, out_dir)


def owner_of(ring, topic):
    """The member that owns `topic` in a ringcast.v1.RingSnapshot (ring.proto's formula)."""
    digest = xxhash.xxh3_64_intdigest(topic.encode("utf-8"))  # seed 0
    k = ring.partition_count.bit_length() - 1                 # Q is a power of two
    partition = 0 if k == 0 else digest >> (64 - k)
    return ring.members[ring.owners[partition]]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--router", default="127.0.0.1:9000", help="router gRPC host:port")
    parser.add_argument("--topic", default="demo")
    parser.add_argument("--data", default="hello")
    parser.add_argument("--count", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as stubs:
        generate_stubs(stubs)
        from ringcast.v1 import cluster_pb2, cluster_pb2_grpc, publisher_pb2, publisher_pb2_grpc

        cluster = cluster_pb2_grpc.ClusterStub(grpc.insecure_channel(args.router))
        ring = cluster.GetRing(cluster_pb2.GetRingRequest(), timeout=10)
        producer_id = f"py-{uuid.uuid4()}"
        for n in range(1, args.count + 1):
            for attempt in range(2):
                owner = owner_of(ring, args.topic)
                node = publisher_pb2_grpc.PublisherStub(grpc.insecure_channel(owner.grpc_address))
                request = publisher_pb2.PublishRequest(
                    topic=args.topic, data=f"{args.data} #{n}", ring_version=ring.version,
                    producer_id=producer_id, sequence=n)
                try:
                    reply = node.Publish(request, timeout=10)
                    print(reply.event_id, flush=True)
                    break
                except grpc.RpcError as error:
                    if error.code() != grpc.StatusCode.FAILED_PRECONDITION or attempt == 1:
                        sys.exit(f"publish failed: {error.code().name}: {error.details()}")
                    ring = cluster.GetRing(cluster_pb2.GetRingRequest(), timeout=10)


if __name__ == "__main__":
    main()
