#!/usr/bin/env python3
"""A registry client in Python, built from the published schema only.

It compiles ``registry/protocol/proto/registry.proto`` and ``transaction.proto`` with
grpcio-tools at start-up, builds a transaction ``Body``, signs it by the portable rule of
``transaction.proto``::

    len(TAG) || TAG || registry_id (32) || sender (32) || nonce (8, big-endian) || body
    TAG = "omni/registry/tx/portable/v1"

with the sender's Ed25519 key (``cryptography``), and submits it as
``SubmitRequest.transaction``. No Omnilateral code is used.

    omni_registry.py --registry http://127.0.0.1:7400 --key admin.key \\
        admit --member HEX --role member
    omni_registry.py --registry ... --key member.key \\
        conformance --document FILE --statement TEXT

Prints one JSON object: the transaction hash, height and events, or the registry's
refusal (gRPC code and message, exit status 1). ``--nonce`` and ``--registry-id``
override what the registry says (a replay, another registry); ``--corrupt-signature``
flips a bit of the signature, to see the registry refuse it.
"""

import argparse
import hashlib
import importlib
import json
import os
import sys
import tempfile

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from grpc_tools import protoc

TAG = b"omni/registry/tx/portable/v1"
HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA = os.path.join(HERE, "..", "..", "registry", "protocol", "proto")


def compile_schema(schema=SCHEMA):
    """Generates the Python modules of the registry's schema; returns (registry, tx, rpc)."""
    out = tempfile.mkdtemp(prefix="omni-schema-")
    import grpc_tools

    includes = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    status = protoc.main(
        [
            "protoc",
            f"-I{schema}",
            f"-I{includes}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            os.path.join(schema, "registry.proto"),
            os.path.join(schema, "transaction.proto"),
        ]
    )
    if status != 0:
        raise SystemExit(f"cannot compile the schema in {schema}")
    sys.path.insert(0, out)
    return (
        importlib.import_module("registry_pb2"),
        importlib.import_module("transaction_pb2"),
        importlib.import_module("registry_pb2_grpc"),
    )


registry_pb2, transaction_pb2, registry_pb2_grpc = compile_schema()


def read_key(path):
    """A key file of `omni keys generate`: the 32-byte Ed25519 seed in hex."""
    with open(path) as f:
        seed = bytes.fromhex(f.read().strip())
    if len(seed) != 32:
        raise SystemExit(f"{path}: not a 32-byte key")
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key(key):
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def signed_message(registry_id, sender, nonce, body):
    return bytes([len(TAG)]) + TAG + registry_id + sender + nonce.to_bytes(8, "big") + body


class Registry:
    def __init__(self, endpoint):
        target = endpoint.split("://", 1)[-1]
        self.stub = registry_pb2_grpc.RegistryStub(grpc.insecure_channel(target))

    def registry_id(self):
        return self.stub.GetStatus(registry_pb2.GetStatusRequest()).registry_id

    def next_nonce(self, party):
        return self.stub.GetMember(registry_pb2.GetMemberRequest(party=party)).next_nonce

    def submit(self, key, body, nonce=None, registry_id=None, corrupt_signature=False):
        """Signs `body` (a transaction_pb2.Body) as `key` and submits it."""
        sender = public_key(key)
        if registry_id is None:
            registry_id = self.registry_id()
        if nonce is None:
            nonce = self.next_nonce(sender)
        body_bytes = body.SerializeToString()
        signature = bytearray(key.sign(signed_message(registry_id, sender, nonce, body_bytes)))
        if corrupt_signature:
            signature[0] ^= 1
        tx = transaction_pb2.Transaction(
            sender=sender, nonce=nonce, body=body_bytes, signature=bytes(signature)
        )
        return self.stub.Submit(registry_pb2.SubmitRequest(transaction=tx))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--registry", default="http://127.0.0.1:7400")
    p.add_argument("--key", required=True, help="the sender's key file (hex seed)")
    p.add_argument("--nonce", type=int, help="sign with this nonce instead of the next one")
    p.add_argument("--registry-id", help="sign for this registry id (hex) instead of the registry's")
    p.add_argument("--corrupt-signature", action="store_true", help="flip a signature bit (tests)")
    sub = p.add_subparsers(dest="command", required=True)
    admit = sub.add_parser("admit", help="admit a member (the membership administrator)")
    admit.add_argument("--member", required=True)
    admit.add_argument("--role", default="member")
    conf = sub.add_parser("conformance", help="publish this member's conformance declaration")
    conf.add_argument("--document", required=True)
    conf.add_argument("--statement", required=True)
    args = p.parse_args()

    body = transaction_pb2.Body()
    if args.command == "admit":
        body.admit_member.member = bytes.fromhex(args.member)
        body.admit_member.role = args.role
    else:
        with open(args.document, "rb") as f:
            body.publish_conformance.document_hash = hashlib.sha256(f.read()).digest()
        body.publish_conformance.statement = args.statement

    registry = Registry(args.registry)
    key = read_key(args.key)
    registry_id = bytes.fromhex(args.registry_id) if args.registry_id else None
    try:
        answer = registry.submit(key, body, args.nonce, registry_id, args.corrupt_signature)
    except grpc.RpcError as e:
        print(json.dumps({"error": e.code().name, "message": e.details()}))
        sys.exit(1)
    print(
        json.dumps(
            {
                "tx_hash": answer.tx_hash.hex(),
                "height": answer.at.height,
                "events": [{"kind": e.kind, "json": e.json} for e in answer.events],
            }
        )
    )


if __name__ == "__main__":
    main()
