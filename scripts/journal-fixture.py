#!/usr/bin/env python3
"""Writes a small journal with every command kind, for the journal-compatibility test.

Usage: scripts/journal-fixture.py RINGEX_BINARY OUT_DIR

Starts `RINGEX_BINARY serve` on a free loopback port with a fresh data directory, drives it
over HTTP with Backpack-signed requests (deposits, limit orders that rest and cross, a batch,
IOC, FOK, post-only, market orders by quantity and by quote quantity, cancels by id and by
client id, cancel-all, user and administrator withdrawals, freeze and unfreeze), stops it with
SIGTERM, then runs `RINGEX_BINARY replay` and writes OUT_DIR/journal/ (the segment files) and
OUT_DIR/expected.txt (replay's output: records, last sequence, state hash).

`tests/journal_compat.rs` replays the committed fixture with today's code and compares. The
fixture in tests/fixtures/journal-v1/ was written by the binary of the commit named in its
README. Needs Python's `cryptography` package (ED25519).
"""

import base64
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ADMIN_SEED = b"ringex-development-admin-key-001"
WINDOW_MS = 60000


def key(seed):
    private = Ed25519PrivateKey.from_private_bytes(seed)
    public = private.public_key().public_bytes_raw()
    return private, base64.b64encode(public).decode()


def value_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def pairs_text(params):
    return "&".join(f"{k}={value_text(params[k])}" for k in sorted(params))


class Client:
    def __init__(self, port):
        self.port = port
        self.clock_ms = int(time.time() * 1000)

    def timestamp(self):
        # Distinct timestamps: no two requests share a signing string.
        self.clock_ms = max(self.clock_ms + 1, int(time.time() * 1000))
        return self.clock_ms

    def send(self, signer, method, path, instruction, body=None):
        private, public = signer
        timestamp = self.timestamp()
        if isinstance(body, list):
            signed = "&".join(f"instruction={instruction}&{pairs_text(item)}" for item in body)
        elif body:
            signed = f"instruction={instruction}&{pairs_text(body)}"
        else:
            signed = f"instruction={instruction}"
        signed += f"&timestamp={timestamp}&window={WINDOW_MS}"
        signature = base64.b64encode(private.sign(signed.encode())).decode()
        headers = {
            "X-API-Key": public,
            "X-Signature": signature,
            "X-Timestamp": str(timestamp),
            "X-Window": str(WINDOW_MS),
            "Content-Type": "application/json",
        }
        payload = json.dumps(body) if body is not None else ""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        text = response.read().decode()
        connection.close()
        return response.status, text


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def drive(client, admin, alice, bob):
    calls = []

    def call(expect, *arguments):
        status, text = client.send(*arguments)
        calls.append((status, arguments[2], text))
        if status != expect:
            raise SystemExit(f"{arguments[1]} {arguments[2]}: {status} {text} (expected {expect})")
        return text

    for account in (alice, bob):
        for symbol, quantity in (("USDC", "100000"), ("SOL", "500"), ("BTC", "2")):
            body = {"account": account[1], "symbol": symbol, "quantity": quantity}
            call(200, admin, "POST", "/api/v1/admin/deposit", "adminDeposit", body)
    order = "/api/v1/order"
    limit = {"symbol": "SOL_USDC", "orderType": "Limit", "timeInForce": "GTC"}
    call(200, alice, "POST", order, "orderExecute",
         {**limit, "side": "Ask", "price": "150.50", "quantity": "10", "clientId": 7})
    call(200, alice, "POST", order, "orderExecute",
         {**limit, "side": "Ask", "price": "151", "quantity": "5", "postOnly": True})
    call(200, bob, "POST", order, "orderExecute",
         {**limit, "side": "Bid", "price": "149", "quantity": "3", "clientId": 9})
    # Crosses: a partial fill of alice's 150.50 ask.
    call(200, bob, "POST", order, "orderExecute",
         {**limit, "side": "Bid", "price": "150.50", "quantity": "4"})
    batch = [
        {"symbol": "BTC_USDC", "side": "Ask", "orderType": "Limit", "price": "60000",
         "quantity": "0.5"},
        {"symbol": "BTC_USDC", "side": "Bid", "orderType": "Limit", "price": "59000",
         "quantity": "0.25", "clientId": 11},
    ]
    call(200, alice, "POST", "/api/v1/orders", "orderExecute", batch)
    call(200, bob, "POST", order, "orderExecute",
         {"symbol": "BTC_USDC", "side": "Bid", "orderType": "Limit", "price": "60000",
          "quantity": "0.1", "timeInForce": "IOC"})
    call(200, bob, "POST", order, "orderExecute",
         {"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit", "price": "151",
          "quantity": "2", "timeInForce": "FOK", "selfTradePrevention": "RejectTaker"})
    call(200, bob, "POST", order, "orderExecute",
         {"symbol": "SOL_USDC", "side": "Bid", "orderType": "Market", "quantity": "1"})
    call(200, bob, "POST", order, "orderExecute",
         {"symbol": "SOL_USDC", "side": "Bid", "orderType": "Market", "quoteQuantity": "100"})
    call(200, alice, "DELETE", order, "orderCancel", {"symbol": "BTC_USDC", "clientId": 11})
    opened = json.loads(call(200, alice, "POST", order, "orderExecute",
                             {**limit, "side": "Ask", "price": "155", "quantity": "1"}))
    call(200, alice, "DELETE", order, "orderCancel", {"symbol": "SOL_USDC", "orderId": opened["id"]})
    call(200, bob, "DELETE", "/api/v1/orders", "orderCancelAll", {"symbol": "SOL_USDC"})
    call(200, alice, "POST", "/wapi/v1/capital/withdrawals", "withdraw",
         {"address": "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin", "blockchain": "Solana",
          "quantity": "1.5", "symbol": "SOL", "clientId": "w-1"})
    call(200, admin, "POST", "/api/v1/admin/withdraw", "adminWithdraw",
         {"account": bob[1], "symbol": "USDC", "quantity": "120.5"})
    call(200, admin, "POST", "/api/v1/admin/freeze", "adminFreeze", {"account": bob[1]})
    call(200, admin, "POST", "/api/v1/admin/unfreeze", "adminUnfreeze", {"account": bob[1]})
    return calls


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    binary, out_dir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    data_dir = os.path.join(out_dir, "journal")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    port = free_port()
    server = subprocess.Popen(
        [binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data_dir,
         "--verify-threads", "1"],
        stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    if "listening" not in line:
        raise SystemExit(f"the server did not start: {line!r}")
    client = Client(port)
    admin = key(ADMIN_SEED)
    alice, bob = key(bytes([1]) * 32), key(bytes([2]) * 32)
    try:
        calls = drive(client, admin, alice, bob)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    replay = subprocess.run([binary, "replay", "--data-dir", data_dir],
                            check=True, capture_output=True, text=True).stdout
    with open(os.path.join(out_dir, "expected.txt"), "w") as expected:
        expected.write(replay)
    for name in os.listdir(data_dir):
        if not name.endswith(".journal"):
            os.remove(os.path.join(data_dir, name))
    print(f"{len(calls)} requests; replay says:\n{replay}", end="")


if __name__ == "__main__":
    main()
