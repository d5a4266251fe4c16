#!/usr/bin/python3
"""An HTTP server that misbehaves on purpose, for tests of a client's limits and error handling.

The first path segment picks the fault; the rest of the path is ignored, so a client can use
http://127.0.0.1:<port>/<mode> as its server URL:

  endless     200, chunked, a JSON array that never ends
  biglength   200 with Content-Length: 1 GiB, then a body that never ends
  drip        200 with Content-Length: 100, then one byte a second
  silence     accepts and reads the request, then says nothing
  truncated   Content-Length: 100, sends 10 bytes, closes
  reset       Content-Length: 1000, sends 100 bytes, resets the connection (RST)
  cutheaders  a status line and half a header line, then closes
  garbage     a line that is not an HTTP status line
  hugeheader  one header line of 1 MiB
  manyheaders 100000 header lines
  empty       200 with an empty body (Content-Length: 0)
  deep        200 with a body of 1,000,000 nested "[" (1 MB)
  http10      HTTP/1.0, no Content-Length, body delimited by closing: a valid answer
  chunked     HTTP/1.1 chunked body in several chunks: a valid answer
  redirect    302 to itself, forever
  numberlist  200 with the valid JSON [1,2,3] where a list of objects belongs
  stringbody  200 with the valid JSON "oops" where a list or an object belongs
  wrongstatus 200 with a request object whose Status is the string "abc"
  hugestatus  200 with a request object whose Status is 1e300 (beyond any integer)

The valid answers' body (http10, chunked) is a list of one profile template when the request's
path has "profiletemplates" in it, and otherwise the JSON string "12345678" (a proposed PIN).

Loopback only; the port is chosen by the OS and written to --port-file (and stdout). Every loop is
bounded: a connection is served for at most --connection-seconds, and the server exits by itself
after --lifetime seconds. Python 3 standard library only.
"""

import argparse
import os
import socket
import struct
import sys
import threading
import time

PIN_BODY = b'"12345678"'
TEMPLATES_BODY = (b'[{"Name":"Smartcard User","Uuid":"6b4a8c9e-2f1d-4e3a-9b7c-5d6e7f8a9b0c",'
                  b'"IsSmartcardProfileTemplate":true,"IsVirtualSmartcardProfileTemplate":false}]')
REQUEST_ID = b'"Uuid":"0f3c5a7e-1b2d-4c6e-8a9f-1e2d3c4b5a69"'
WRONG_TYPES = {
    "numberlist": b"[1,2,3]",
    "stringbody": b'"oops"',
    "wrongstatus": b'{' + REQUEST_ID + b',"Status":"abc"}',
    "hugestatus": b'{' + REQUEST_ID + b',"Status":1e300}',
}


def valid_body(path):
    return TEMPLATES_BODY if "profiletemplates" in path.lower() else PIN_BODY


def read_request(conn, deadline):
    """Reads up to the end of the request head (bounded in size and time); returns the path."""
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536 and time.monotonic() < deadline:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    parts = data.split(b"\r\n", 1)[0].split(b" ")
    return parts[1].decode("latin-1") if len(parts) >= 2 else "/"


def send_until(conn, deadline, make_piece, pause=0.0):
    """Sends make_piece() repeatedly until the deadline or until the client goes away."""
    while time.monotonic() < deadline:
        try:
            conn.sendall(make_piece())
        except OSError:
            return
        if pause:
            time.sleep(pause)


def serve(conn, mode, path, deadline):
    if mode == "endless":
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        item = b'{"name":"template","id":"00000000-0000-0000-0000-000000000000"},' * 64
        first = [b"["]
        def piece():
            body = (first.pop() if first else b"") + item
            return b"%x\r\n%s\r\n" % (len(body), body)
        send_until(conn, deadline, piece)
    elif mode == "biglength":
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1073741824\r\n\r\n")
        send_until(conn, deadline, lambda: b"x" * 4096)
    elif mode == "drip":
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n")
        send_until(conn, deadline, lambda: b" ", pause=1.0)
    elif mode == "silence":
        conn.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            while time.monotonic() < deadline and conn.recv(4096):
                pass
        except OSError:
            pass
    elif mode == "truncated":
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n"
                     b"Connection: close\r\n\r\n" + b"x" * 10)
    elif mode == "reset":
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                     + b"x" * 100)
        time.sleep(0.2)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    elif mode == "cutheaders":
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: applica")
    elif mode == "garbage":
        conn.sendall(b"GARBAGE NOT HTTP AT ALL\r\n\r\n")
    elif mode == "hugeheader":
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Huge: " + b"a" * (1 << 20) + b"\r\nContent-Length: 0\r\n\r\n")
    elif mode == "manyheaders":
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        for start in range(0, 100000, 1000):
            if time.monotonic() >= deadline:
                return
            try:
                conn.sendall(b"".join(b"X-H%d: v\r\n" % i for i in range(start, start + 1000)))
            except OSError:
                return
        conn.sendall(b"Content-Length: 0\r\n\r\n")
    elif mode == "empty":
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n")
    elif mode == "deep":
        body = b"[" * 1000000
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                     % len(body) + body)
    elif mode == "http10":
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + valid_body(path))
    elif mode == "chunked":
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        body = valid_body(path)
        pieces = [body[:3], body[3:7], body[7:]]
        conn.sendall(head + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n")
    elif mode == "redirect":
        conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: /redirect/again\r\nContent-Length: 0\r\n"
                     b"Connection: close\r\n\r\n")
    elif mode in WRONG_TYPES:
        body = WRONG_TYPES[mode]
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                     b"Connection: close\r\n\r\n" % len(body) + body)
    else:
        conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


def handle(conn, connection_seconds):
    deadline = time.monotonic() + connection_seconds
    conn.settimeout(connection_seconds)
    try:
        path = read_request(conn, deadline)
        mode = path.lstrip("/").split("/", 1)[0].split("?", 1)[0]
        serve(conn, mode, path, deadline)
    except OSError:
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--lifetime", type=float, default=120.0, help="seconds before exiting")
    parser.add_argument("--connection-seconds", type=float, default=30.0)
    args = parser.parse_args()

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, args.port_file)
    print(port, flush=True)

    end = time.monotonic() + args.lifetime
    while time.monotonic() < end:
        listener.settimeout(max(0.1, min(1.0, end - time.monotonic())))
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        threading.Thread(target=handle, args=(conn, args.connection_seconds), daemon=True).start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
