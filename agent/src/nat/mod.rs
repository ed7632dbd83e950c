//! NAT in nsfleet's own nftables table. Nothing here knows gRPC or the proto.
