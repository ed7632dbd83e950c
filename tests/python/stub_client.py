"""Drives an nsfleet agent with nothing but Python stubs generated from proto/nsfleet/v1/*.proto.

Usage: stub_client.py STUB_DIR TARGET   (TARGET is a gRPC target such as unix:/tmp/x/agent.sock)

Creates a namespace, a veth pair whose peer is created inside it, and an address on the peer; reads them
back through the API and asserts what it reads; then lists the services over server reflection v1 (the
protocol grpcio-reflection speaks). Prints one JSON object with what it found, for the Rust side.
"""

import json
import sys

sys.path.insert(0, sys.argv[1])

import grpc  # noqa: E402
from nsfleet.v1 import address_pb2, address_pb2_grpc  # noqa: E402
from nsfleet.v1 import link_pb2, link_pb2_grpc  # noqa: E402
from nsfleet.v1 import namespace_pb2, namespace_pb2_grpc  # noqa: E402

NAMESPACE = "pyns"
HOST_END = "pyveth0"
PEER_END = "pyceth0"
ADDRESS = "172.20.5.2"


def build_and_read(channel):
    namespaces = namespace_pb2_grpc.NamespaceServiceStub(channel)
    links = link_pb2_grpc.LinkServiceStub(channel)
    addresses = address_pb2_grpc.AddressServiceStub(channel)

    created = namespaces.CreateNamespace(namespace_pb2.CreateNamespaceRequest(name=NAMESPACE), timeout=30)
    assert created.changed, created
    veth = link_pb2.VethSpec(peer_name=PEER_END, peer_namespace=NAMESPACE)
    made = links.CreateLink(link_pb2.CreateLinkRequest(name=HOST_END, veth=veth), timeout=30)
    assert made.changed, made
    added = addresses.AddAddress(
        address_pb2.AddAddressRequest(namespace=NAMESPACE, link=PEER_END, address=ADDRESS, prefix_len=24),
        timeout=30,
    )
    assert added.changed, added

    listed = namespaces.ListNamespaces(namespace_pb2.ListNamespacesRequest(), timeout=30)
    names = [ns.name for ns in listed.namespaces]
    assert NAMESPACE in names, names
    host_end = links.GetLink(link_pb2.GetLinkRequest(name=HOST_END), timeout=30).link
    assert host_end.kind == "veth", host_end
    assert host_end.peer.name == PEER_END and host_end.peer.namespace == NAMESPACE, host_end.peer
    peer_end = links.GetLink(link_pb2.GetLinkRequest(namespace=NAMESPACE, name=PEER_END), timeout=30).link
    assert peer_end.peer.name == HOST_END and peer_end.peer.namespace == "", peer_end.peer
    found = addresses.ListAddresses(
        address_pb2.ListAddressesRequest(namespace=NAMESPACE, link=PEER_END), timeout=30
    ).addresses
    assert [(a.address, a.prefix_len) for a in found if a.address == ADDRESS] == [(ADDRESS, 24)], found
    return {
        "namespaces": names,
        "host_end": {"name": host_end.name, "kind": host_end.kind, "index": host_end.index},
        "peer_end": {"name": peer_end.name, "peer": peer_end.peer.name},
        "addresses": [f"{a.address}/{a.prefix_len}" for a in found],
    }


def reflection_v1_services(channel):
    """Service names as server reflection v1 lists them, with the stubs grpcio-reflection ships."""
    from grpc_reflection.v1alpha import reflection_pb2  # the messages are the same in v1
    from grpc_reflection.v1alpha import reflection_pb2_grpc

    # grpcio-reflection ships stubs for v1alpha only; the v1 service has the same messages under another
    # service name, so the call is made by its v1 path with those messages.
    info = channel.stream_stream(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    del reflection_pb2_grpc
    answers = info(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=30)
    return sorted(service.name for answer in answers for service in answer.list_services_response.service)


def main():
    # No grpc.default_authority: for a unix: target grpc-core sends the socket path as :authority, and
    # the agent must accept that as every grpcio user will send it.
    with grpc.insecure_channel(sys.argv[2]) as channel:
        result = build_and_read(channel)
        result["reflection_v1"] = reflection_v1_services(channel)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
