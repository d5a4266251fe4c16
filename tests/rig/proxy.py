#!/usr/bin/python3
"""A small HTTP forward proxy for tests of a client's proxy support. See the "Proxy" section of
tests/rig/README.md.

- Absolute-form requests (`GET http://127.0.0.1:8080/path?q HTTP/1.1`) are forwarded with http.client
  (method, headers minus hop-by-hop ones and Proxy-Authorization, body) and the answer is relayed with
  a Content-Length.
- `CONNECT host:port` opens a tunnel (`200 Connection established`) that carries bytes both ways
  until either side closes (HTTPS through the proxy).
- With `--user`/`--password-file`, every proxied request needs `Proxy-Authorization: Basic ...`,
  otherwise `407` with `Proxy-Authenticate: Basic realm="mimcm-test-proxy"` (kept alive, so a client
  can retry on the same connection).
- Only loopback destinations: IP literals in 127.0.0.0/8 or ::1, or names that /etc/hosts maps to
  loopback addresses only (`localhost` always). Anything else is answered 403 without any DNS
  lookup or connection.
- `GET /_proxy/stats` (origin-form, no authentication) answers the counters as JSON.

Python 3 standard library only (Debian's /usr/bin/python3).
"""

import argparse
import base64
import binascii
import hmac
import http.client
import ipaddress
import json
import os
import select
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # rigserver.py, however this is started
import rigserver  # noqa: E402

REALM = "mimcm-test-proxy"
STATS_PATH = "/_proxy/stats"
HOSTS_FILE = "/etc/hosts"
CONNECT_TIMEOUT = 5.0      # seconds to connect to a destination
UPSTREAM_TIMEOUT = 60.0    # seconds to wait for the destination's answer (socket timeout)
TUNNEL_GRACE = 5.0         # after one side of a tunnel closed, how long the other direction may go on
MAX_BODY = 64 << 20        # largest request body accepted (bytes)

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
              "upgrade", "proxy-authorization", "proxy-authenticate"}


def log(message):
    sys.stderr.write(f"{time.strftime('%H:%M:%S')} proxy: {message}\n")
    sys.stderr.flush()


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counters = {"proxied": 0, "tunnels": 0, "rejected_auth": 0,
                         "rejected_destination": 0, "upstream_errors": 0, "connections": 0}

    def add(self, name):
        with self.lock:
            self.counters[name] += 1

    def snapshot(self):
        with self.lock:
            return dict(self.counters)


class BadRequest(Exception):
    pass


# --------------------------------------------------------------------------------------------------
# Destinations: loopback only, resolved without DNS
# --------------------------------------------------------------------------------------------------

def _loopback(address):
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def resolve_loopback(host):
    """The addresses to connect to for HOST, or None if HOST is not loopback-only.

    IP literals are taken as they are; names are looked up in /etc/hosts only (never DNS), and are
    accepted only if every address listed for them is a loopback address. `localhost` is always
    127.0.0.1 (and ::1) when /etc/hosts does not list it."""
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        address = None
    if address is not None:
        return [str(address)] if _loopback(address) else None
    name = host.rstrip(".").lower()
    if not name:
        return None
    found = []
    try:
        with open(HOSTS_FILE, encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.split("#", 1)[0].split()
                if len(fields) >= 2 and name in (n.rstrip(".").lower() for n in fields[1:]):
                    try:
                        found.append(ipaddress.ip_address(fields[0].split("%", 1)[0]))
                    except ValueError:
                        return None
    except OSError:
        pass
    if not found:
        return ["127.0.0.1", "::1"] if name == "localhost" else None
    if not all(_loopback(a) for a in found):
        return None
    return list(dict.fromkeys(str(a) for a in found))


def connect_to(addresses, port):
    """A connected TCP socket (TCP_NODELAY) to the first address of ADDRESSES that answers."""
    error = None
    for address in addresses:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(CONNECT_TIMEOUT)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.connect((address, port))
            return sock
        except OSError as e:
            sock.close()
            error = e
    raise error or OSError("no address")


# --------------------------------------------------------------------------------------------------
# The proxy
# --------------------------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mimcm-test-proxy"
    sys_version = ""
    disable_nagle_algorithm = True   # TCP_NODELAY on the client connection
    # Set by main() in a subclass:
    credentials = None   # b"user:password" or None (no authentication)
    stats = None
    verbose = False
    timeout = 120.0      # idle keep-alive connections are closed after this many seconds

    # --- plumbing ------------------------------------------------------------------------------

    def setup(self):
        super().setup()
        self.upstream = None   # (key, http.client.HTTPConnection) kept for the next request
        self.stats.add("connections")

    def finish(self):
        self._drop_upstream()
        super().finish()

    def __getattr__(self, name):   # every method (GET, POST, PROPFIND, CONNECT, ...) goes to _dispatch
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def handle_expect_100(self):   # `100 Continue` only once the request is accepted (see _continue)
        return True

    def version_string(self):
        return self.server_version

    def log_message(self, format, *args):
        if self.verbose:
            log(f"{self.client_address[1]}: {format % args}")

    def _reply(self, code, body, headers=(), close=False, content_type="text/plain; charset=utf-8"):
        if isinstance(body, str):
            body = body.encode("utf-8")
        if close:
            self.close_connection = True
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def _continue(self):
        if self.headers.get("Expect", "").strip().lower() == "100-continue" and self.request_version >= "HTTP/1.1":
            self.send_response_only(100)
            self.end_headers()
            self.wfile.flush()

    # --- request body --------------------------------------------------------------------------

    def _read_body(self):
        te = self.headers.get_all("Transfer-Encoding") or []
        codings = [c.strip().lower() for v in te for c in v.split(",") if c.strip()]
        if codings:
            if codings[-1] != "chunked":
                raise BadRequest("unsupported Transfer-Encoding")
            return self._read_chunked()
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            return b""
        values = {v.strip() for v in lengths}
        if len(values) != 1 or not next(iter(values)).isdigit():
            raise BadRequest("bad Content-Length")
        length = int(next(iter(values)))
        if length > MAX_BODY:
            raise BadRequest("request body too large")
        body = self.rfile.read(length)
        if len(body) != length:
            raise BadRequest("request body cut short")
        return body

    def _read_chunked(self):
        parts, total = [], 0
        while True:
            line = self.rfile.readline(65537)
            if not line.endswith(b"\n"):
                raise BadRequest("bad chunk")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadRequest("bad chunk size")
            if size == 0:
                break
            total += size
            if total > MAX_BODY:
                raise BadRequest("request body too large")
            data = self.rfile.read(size)
            if len(data) != size or self.rfile.readline(3).strip():
                raise BadRequest("bad chunk")
            parts.append(data)
        while True:   # trailers are dropped
            line = self.rfile.readline(65537)
            if not line or not line.strip():
                break
        return b"".join(parts)

    def _has_body(self):
        return bool(self.headers.get("Transfer-Encoding")) or \
            self.headers.get("Content-Length", "0").strip() not in ("", "0")

    # --- authentication ------------------------------------------------------------------------

    def _authorized(self):
        if self.credentials is None:
            return True
        for value in self.headers.get_all("Proxy-Authorization") or []:
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() != "basic":
                continue
            try:
                given = base64.b64decode(token.strip(), validate=True)
            except (binascii.Error, ValueError):
                continue
            if hmac.compare_digest(given, self.credentials):
                return True
        return False

    def _reject_auth(self):
        self.stats.add("rejected_auth")
        # Keep the connection (so a client can retry on it) unless a body may still be on its way:
        # with `Expect: 100-continue` we don't know whether the client sends it after a 407.
        close = False
        if self._has_body():
            if self.headers.get("Expect", "").strip().lower() == "100-continue":
                close = True
            else:
                try:
                    self._read_body()
                except BadRequest:
                    close = True
        self._reply(407, "407 Proxy Authentication Required\n",
                    [("Proxy-Authenticate", f'Basic realm="{REALM}"')], close=close)

    def _reject_destination(self, host):
        self.stats.add("rejected_destination")
        if self.verbose:
            log(f"{self.client_address[1]}: refused non-loopback destination {host!r}")
        self._reply(403, f"403 Forbidden: destination {host} is not a loopback address\n",
                    close=self._has_body())

    def _admit(self, host):
        """The addresses to connect to for HOST if this request may go there; otherwise None, with
        the 407 (no valid credentials, checked first) or 403 (not a loopback destination) sent."""
        if not self._authorized():
            self._reject_auth()
            return None
        addresses = resolve_loopback(host)
        if addresses is None:
            self._reject_destination(host)
        return addresses

    # --- dispatch ------------------------------------------------------------------------------

    def _dispatch(self):
        try:
            if self.command == "CONNECT":
                self._connect()
            elif self.path.startswith("/"):
                self._local()
            else:
                self._forward()
        except BadRequest as e:
            self._reply(400, f"400 Bad Request: {e}\n", close=True)

    def _local(self):
        path = self.path.split("?", 1)[0]
        if path == STATS_PATH and self.command in ("GET", "HEAD"):
            self._reply(200, json.dumps(self.stats.snapshot()) + "\n", content_type="application/json")
        elif path == STATS_PATH:
            self._reply(405, "405 Method Not Allowed\n", [("Allow", "GET, HEAD")], close=self._has_body())
        else:
            self._reply(400, "400 Bad Request: this is a proxy; send an absolute URI or CONNECT\n",
                        close=self._has_body())

    # --- plain HTTP ----------------------------------------------------------------------------

    def _forward(self):
        target = urllib.parse.urlsplit(self.path)
        if target.scheme.lower() != "http" or not target.netloc:
            scheme = target.scheme.lower()
            message = "https:// needs CONNECT" if scheme == "https" else "only http:// absolute URIs"
            self._reply(400 if scheme != "https" else 501, f"{message}\n", close=True)
            return
        try:
            port = target.port or 80
            host = target.hostname
        except ValueError:
            raise BadRequest("bad port")
        if not host:
            raise BadRequest("no host")
        addresses = self._admit(host)
        if addresses is None:
            return
        self._continue()
        body = self._read_body()

        authority = target.netloc.rpartition("@")[2]
        path = target.path or "/"
        if "?" in self.path:
            path += "?" + target.query
        connection_tokens = {t.strip().lower() for v in self.headers.get_all("Connection") or []
                             for t in v.split(",")}
        headers = [("Host", authority)]
        for name, value in self.headers.items():
            lower = name.lower()
            if lower in HOP_BY_HOP or lower in connection_tokens or \
                    lower in ("host", "content-length", "expect"):
                continue
            headers.append((name, value))
        headers.append(("Via", f"{self.request_version[5:]} {REALM}"))
        if body or self.command in ("POST", "PUT", "PATCH") or self._has_body():
            headers.append(("Content-Length", str(len(body))))

        key = (tuple(addresses), port)
        try:
            response, data = self._exchange(key, path, headers, body)
        except (OSError, http.client.HTTPException) as e:
            self._drop_upstream()
            self.stats.add("upstream_errors")
            if self.verbose:
                log(f"{self.client_address[1]}: {self.command} {self.path}: {e!r}")
            code = 504 if isinstance(e, TimeoutError) else 502
            self._reply(code, f"{code} {'Gateway Timeout' if code == 504 else 'Bad Gateway'}: "
                              f"{type(e).__name__}: {e}\n")
            return
        self.stats.add("proxied")
        self._relay(response, data)

    def _exchange(self, key, path, headers, body):
        """Send the request upstream (on the connection kept from the previous request to the same
        destination, if it is still open) and read the whole answer. Never retried, so the
        destination sees each request exactly once."""
        if self.upstream is not None and not (self.upstream[0] == key and self._upstream_idle_ok()):
            self._drop_upstream()
        if self.upstream is None:
            conn = http.client.HTTPConnection(key[0][0], key[1], timeout=UPSTREAM_TIMEOUT)
            conn.sock = connect_to(key[0], key[1])
            conn.sock.settimeout(UPSTREAM_TIMEOUT)
            self.upstream = (key, conn)
        conn = self.upstream[1]
        conn.putrequest(self.command, path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders(body if body else None)
        response = conn.getresponse()
        data = response.read()
        if response.will_close:
            self._drop_upstream()
        return response, data

    def _upstream_idle_ok(self):
        """Whether the kept upstream connection is still usable: open, and nothing to read (a
        readable idle connection means the destination closed it, or sent something unasked)."""
        sock = self.upstream[1].sock
        if sock is None:
            return False
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    def _drop_upstream(self):
        if self.upstream is not None:
            try:
                self.upstream[1].close()
            except OSError:
                pass
            self.upstream = None

    def _relay(self, response, data):
        connection_tokens = {t.strip().lower() for v in response.msg.get_all("Connection") or []
                             for t in v.split(",")}
        self.send_response_only(response.status, response.reason)
        for name, value in response.msg.items():
            lower = name.lower()
            if lower in HOP_BY_HOP or lower in connection_tokens or lower == "content-length":
                continue
            self.send_header(name, value)
        if self.command == "HEAD":
            if response.getheader("Content-Length") is not None:
                self.send_header("Content-Length", response.getheader("Content-Length"))
        elif not (100 <= response.status < 200 or response.status in (204, 304)):
            self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and data:
            self.wfile.write(data)
        self.wfile.flush()
        self.log_request(response.status, len(data))

    # --- CONNECT -------------------------------------------------------------------------------

    def _connect(self):
        host, sep, port_text = self.path.rpartition(":")
        if not sep or not port_text.isdigit() or not host or not 0 < int(port_text) < 65536:
            raise BadRequest("CONNECT needs host:port")
        port = int(port_text)
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        addresses = self._admit(host)
        if addresses is None:
            return
        try:
            upstream = connect_to(addresses, port)
        except OSError as e:
            self.stats.add("upstream_errors")
            self._reply(502, f"502 Bad Gateway: cannot connect to {host}:{port}: {e}\n")
            return
        self.stats.add("tunnels")
        self.close_connection = True
        try:
            self.send_response_only(200, "Connection established")
            self.end_headers()
            self.wfile.flush()
            self.log_request(200)
            self._tunnel(upstream)
        finally:
            for sock in (upstream, self.connection):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            upstream.close()

    def _tunnel(self, upstream):
        client = self.connection
        client.settimeout(None)
        upstream.settimeout(None)
        one_closed = threading.Event()

        def pump(read, sink):
            try:
                while True:
                    data = read(65536)
                    if not data:
                        break
                    sink.sendall(data)
            except OSError:
                pass
            finally:
                try:
                    sink.shutdown(socket.SHUT_WR)   # pass the close on, after all the data
                except OSError:
                    pass
                one_closed.set()

        # client -> upstream reads through rfile: it may already hold bytes sent right after CONNECT
        up = threading.Thread(target=pump, args=(self.rfile.read1, upstream), daemon=True)
        down = threading.Thread(target=pump, args=(upstream.recv, client), daemon=True)
        up.start()
        down.start()
        one_closed.wait()
        deadline = time.monotonic() + TUNNEL_GRACE
        for thread in (up, down):
            thread.join(max(0.0, deadline - time.monotonic()))
        for sock in (upstream, client):   # wakes a direction still blocked in recv
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        up.join(1.0)
        down.join(1.0)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):   # a client that went away: not our bug
            if self.RequestHandlerClass.verbose:
                log(f"{client_address[1]}: {type(error).__name__}: {error}")
            return
        super().handle_error(request, client_address)


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------

fail = rigserver.make_fail("proxy")  # a startup error: message on stderr, exit status 2


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="proxy.py", description="HTTP forward proxy (absolute URIs and CONNECT) to loopback "
                                     "destinations only, with optional Basic proxy authentication (tests only).")
    parser.add_argument("--port", type=int, required=True, help="port on the bind address (0: a free one)")
    parser.add_argument("--bind", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    parser.add_argument("--port-file", metavar="FILE", help='write {"port":P,"pid":PID} here (atomically) when listening')
    parser.add_argument("--user", help="require Proxy-Authorization: Basic for this user")
    parser.add_argument("--password-file", metavar="FILE",
                        help="file holding the user's password (one line; a final newline is ignored)")
    parser.add_argument("--idle-timeout", type=float, default=120.0,
                        help="close idle keep-alive client connections after this many seconds (default 120)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request to stderr (never credentials)")
    args = parser.parse_args(argv)
    if not 0 <= args.port < 65536:
        parser.error("--port must be 0..65535")
    if (args.user is None) != (args.password_file is None):
        parser.error("--user and --password-file go together")
    if args.user is not None and (":" in args.user or not args.user):
        parser.error("--user must be non-empty and must not contain ':'")
    rigserver.check_loopback_bind(parser, args.bind)
    return args


def main(argv=None):
    args = parse_args(argv)
    credentials = None
    if args.user is not None:
        password = rigserver.read_password_file(args.password_file, fail)
        if "\n" in password or "\0" in password:
            fail("--password-file: needs one line")
        credentials = f"{args.user}:{password}".encode("utf-8")

    handler_class = type("ProxyHandler", (Handler,), {
        "credentials": credentials, "stats": Stats(), "verbose": args.verbose, "timeout": args.idle_timeout,
    })
    if ":" in args.bind:
        Server.address_family = socket.AF_INET6
    try:
        server = Server((args.bind, args.port), handler_class)
    except OSError as e:
        fail(f"cannot listen on {args.bind}:{args.port}: {e.strerror}")
    port = server.server_address[1]

    stop = rigserver.serve([server], fail, args.port_file, {"port": port, "pid": os.getpid()},
                           prefix=".proxy-port.")
    log(f"listening on {args.bind}:{port} "
        f"({'Basic authentication, user ' + args.user if credentials else 'no authentication'})")

    rigserver.wait_until_set(stop, 1.0)
    rigserver.shutdown([server])
    rigserver.remove_port_file(args.port_file)
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
