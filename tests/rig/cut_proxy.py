#!/usr/bin/python3
"""A TCP proxy on loopback that breaks the connections it relays, for tests of a client's faults.

Each --cut NAME=FAULT opens one listener that relays every connection to --upstream and applies
FAULT to it. The faults are deterministic (counted in bytes, not timed by chance):

  pass             relay both ways untouched (the control)
  accept-close     close the client's connection right after accepting it, before reading anything
  accept-reset     reset (RST) the client's connection right after accepting it
  after-request    relay the request to the upstream; when the upstream starts to answer, close
                   the client's connection without relaying any of the answer
  bytes:N          relay the first N bytes of the answer, then close (FIN) both connections
  body-bytes:N     relay the answer's head (up to the blank line) and N bytes of its body, then close
  reset-body:N     as body-bytes:N, then reset (RST) the client's connection instead of closing it
  delay:S          hold the answer back S seconds (a float), then relay it all

"The answer" is what the upstream sends on that connection; the request is always relayed whole.
The proxy counts bytes on the wire, so behind TLS the counts include the handshake.

Loopback only: the listeners bind 127.0.0.1 and the upstream must be a loopback address. The
ports are chosen by the OS and written as one JSON object {NAME: port} to --port-file. Every
loop is bounded: a connection lives at most --connection-seconds, and the proxy exits by itself
after --lifetime seconds. Python 3 standard library only.
"""

import argparse
import ipaddress
import json
import os
import select
import socket
import struct
import sys
import threading
import time


def parse_fault(text):
    """'bytes:100' -> ('bytes', 100); raises ValueError on anything else."""
    kind, _, arg = text.partition(":")
    if kind in ("pass", "accept-close", "accept-reset", "after-request") and not arg:
        return kind, None
    if kind in ("bytes", "body-bytes", "reset-body") and arg.isdigit():
        return kind, int(arg)
    if kind == "delay" and arg:
        seconds = float(arg)
        if 0 <= seconds <= 3600:
            return kind, seconds
    raise ValueError("unknown fault '%s'" % text)


def reset(sock):
    """Closes sock with a TCP reset (RST) rather than a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class Relay:
    """One client connection and its upstream connection, with one fault applied to the answer."""

    def __init__(self, client, upstream_addr, fault, deadline):
        self.client = client
        self.upstream_addr = upstream_addr
        self.kind, self.arg = fault
        self.deadline = deadline
        self.sent = 0            # answer bytes relayed to the client
        self.head = b""          # the answer's head so far (body-bytes, reset-body)
        self.head_done = False
        self.body_sent = 0

    def run(self):
        if self.kind == "accept-close":
            self.client.close()
            return
        if self.kind == "accept-reset":
            reset(self.client)
            return
        upstream = socket.create_connection(self.upstream_addr, timeout=5)
        try:
            self.pump(upstream)
        finally:
            upstream.close()

    def allowance(self, data):
        """How much of data may still go to the client, and whether the fault fires after it."""
        if self.kind == "bytes":
            left = self.arg - self.sent
            return min(len(data), left), len(data) >= left
        if self.kind in ("body-bytes", "reset-body"):
            if not self.head_done:
                end = (self.head + data).find(b"\r\n\r\n")
                if end < 0:
                    return len(data), False
                in_head = end + 4 - len(self.head)
                left = self.arg
                take = in_head + min(len(data) - in_head, left)
                return take, len(data) - in_head >= left
            left = self.arg - self.body_sent
            return min(len(data), left), len(data) >= left
        return len(data), False

    def account(self, piece):
        self.sent += len(piece)
        if self.kind in ("body-bytes", "reset-body"):
            if not self.head_done:
                self.head += piece
                end = self.head.find(b"\r\n\r\n")
                if end >= 0:
                    self.head_done = True
                    self.body_sent = len(self.head) - end - 4
            else:
                self.body_sent += len(piece)

    def pump(self, upstream):
        client = self.client
        answer_started = False
        while time.monotonic() < self.deadline:
            timeout = max(0.0, min(1.0, self.deadline - time.monotonic()))
            readable, _, _ = select.select([client, upstream], [], [], timeout)
            if client in readable:
                data = client.recv(65536)
                if not data:
                    return
                upstream.sendall(data)
            if upstream in readable:
                data = upstream.recv(65536)
                if not data:
                    return
                if self.kind == "after-request":
                    client.close()
                    return
                if self.kind == "delay" and not answer_started:
                    time.sleep(min(self.arg, max(0.0, self.deadline - time.monotonic())))
                answer_started = True
                take, fire = self.allowance(data)
                piece = data[:take]
                if piece:
                    client.sendall(piece)
                    self.account(piece)
                if fire:
                    if self.kind == "reset-body":
                        time.sleep(0.1)  # let the relayed bytes reach the client first
                        reset(client)
                    else:
                        client.shutdown(socket.SHUT_RDWR)
                        client.close()
                    return


def handle(client, upstream_addr, fault, connection_seconds):
    deadline = time.monotonic() + connection_seconds
    try:
        Relay(client, upstream_addr, fault, deadline).run()
    except OSError:
        pass
    finally:
        try:
            client.close()
        except OSError:
            pass


def serve(listener, upstream_addr, fault, connection_seconds, end):
    while time.monotonic() < end:
        listener.settimeout(max(0.1, min(1.0, end - time.monotonic())))
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        except OSError:
            return
        threading.Thread(target=handle, args=(conn, upstream_addr, fault, connection_seconds),
                         daemon=True).start()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--upstream", required=True, metavar="HOST:PORT",
                        help="where to relay (a loopback address)")
    parser.add_argument("--cut", action="append", required=True, metavar="NAME=FAULT",
                        help="a listener named NAME applying FAULT (repeatable)")
    parser.add_argument("--port-file", required=True, help="written as JSON {NAME: port}")
    parser.add_argument("--lifetime", type=float, default=120.0, help="seconds before exiting")
    parser.add_argument("--connection-seconds", type=float, default=60.0)
    args = parser.parse_args()

    host, _, port = args.upstream.rpartition(":")
    try:
        if not ipaddress.ip_address(host).is_loopback or not port.isdigit():
            raise ValueError
    except ValueError:
        parser.error("--upstream must be a loopback IP address and a port, e.g. 127.0.0.1:8080")
    upstream_addr = (host, int(port))

    faults = {}
    for spec in args.cut:
        name, _, fault = spec.partition("=")
        if not name or name in faults:
            parser.error("--cut needs a unique NAME=FAULT, got '%s'" % spec)
        try:
            faults[name] = parse_fault(fault)
        except ValueError as e:
            parser.error(str(e))

    ports = {}
    listeners = []
    for name, fault in faults.items():
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        ports[name] = listener.getsockname()[1]
        listeners.append((listener, fault))

    end = time.monotonic() + args.lifetime
    threads = [threading.Thread(target=serve, daemon=True,
                                args=(listener, upstream_addr, fault, args.connection_seconds, end))
               for listener, fault in listeners]
    for thread in threads:
        thread.start()
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        json.dump(ports, f)
    os.replace(tmp, args.port_file)
    print(json.dumps(ports), flush=True)
    for thread in threads:
        thread.join(max(0.0, end - time.monotonic()) + 2.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
