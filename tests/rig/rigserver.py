"""HTTP server plumbing shared by the rig's servers: cm_emulator.py, ntlm_front.py and proxy.py.

Reading a request body, TLS contexts, loopback listeners, the --bind check, the --port-file, the
password file, startup errors and signal-driven shutdown. Imported, never run.

Python 3 standard library only (Debian's /usr/bin/python3).
"""

import ipaddress
import json
import os
import signal
import socket
import ssl
import sys
import tempfile
import threading
from http.server import ThreadingHTTPServer


# --------------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------------

class BadRequestBody(Exception):
    pass


def read_body(rfile, headers, max_body):
    """The request body, chunked (trailers skipped) or by Content-Length (none: empty). Raises
    BadRequestBody on a bad chunk size or Content-Length, or a body larger than max_body bytes."""
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        chunks = []
        total = 0
        while True:
            line = rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise BadRequestBody("bad chunk size")
            if size == 0:
                while rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > max_body:
                raise BadRequestBody("body too large")
            chunks.append(rfile.read(size))
            rfile.readline(8)
    length = headers.get("Content-Length")
    if length is None:
        return b""
    try:
        length = int(length)
    except ValueError:
        raise BadRequestBody("bad Content-Length")
    if length < 0 or length > max_body:
        raise BadRequestBody("bad Content-Length")
    return rfile.read(length)


# --------------------------------------------------------------------------------------------------
# Listeners
# --------------------------------------------------------------------------------------------------

def make_ssl_context(cert, key, tls_max="1.3", client_ca=None):
    """A server context: TLS 1.2 up to tls_max ("1.2" or "1.3"), ALPN http/1.1. With client_ca, a client
    certificate that chains to it is required."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls_max == "1.2":
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    context.load_cert_chain(cert, key)
    if client_ca:
        # No certificate, or one that does not chain to client_ca (or lacks clientAuth): handshake failure.
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=client_ca)
    return context


class Listener(ThreadingHTTPServer):
    """One listening address (an IPv6 one is IPv6-only). With an ssl_context, connections are wrapped
    in TLS whose handshake the handler does in its setup()."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, handler_class, scheme, ssl_context=None):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.scheme = scheme  # "http" or "https"
        self.ssl_context = ssl_context
        super().__init__(address, handler_class)

    def server_bind(self):
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()

    def get_request(self):
        sock, address = self.socket.accept()
        if self.ssl_context:
            # The handshake happens in the connection's thread (the handler's setup()), so a slow or
            # broken client cannot stall the accept loop.
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, ssl.SSLError, OSError)):
            return  # clients that go away, wrong CAs and pins, port scans: not our problem
        super().handle_error(request, client_address)


# --------------------------------------------------------------------------------------------------
# Command line and process
# --------------------------------------------------------------------------------------------------

def make_fail(prog):
    """fail(message) for a startup error: "PROG: message" on stderr, exit status 2 (as for a
    command-line error)."""
    def fail(message):
        sys.stderr.write(f"{prog}: {message}\n")
        sys.exit(2)
    return fail


def check_loopback_bind(parser, address):
    """--bind ADDRESS must be a loopback IP address, else parser.error() (exit status 2)."""
    try:
        if not ipaddress.ip_address(address).is_loopback:
            parser.error("--bind must be a loopback address")
    except ValueError:
        parser.error("--bind needs an IP address")


def read_password_file(path, fail):
    """The content of a --password-file without one final newline (LF or CRLF); fail() when it cannot
    be read."""
    try:
        with open(path, encoding="utf-8") as f:
            password = f.read()
    except OSError as e:
        fail(f"--password-file: {e.strerror}")
    if password.endswith("\n"):
        password = password[:-1]
    if password.endswith("\r"):
        password = password[:-1]
    return password


def write_port_file(path, content, prefix=".ports."):
    """Write content as JSON (and a newline) to path atomically, through a temporary file named
    prefix... in the same directory."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=prefix, dir=directory)
    with os.fdopen(fd, "w") as f:
        json.dump(content, f)
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def remove_port_file(path):
    """At a clean shutdown: remove the port file (None: there is none) if it is still this process's
    ("pid")."""
    if not path:
        return
    try:
        with open(path, encoding="utf-8") as f:
            if json.load(f).get("pid") == os.getpid():
                os.unlink(path)
    except (OSError, ValueError):
        pass


def serve(listeners, fail, port_file=None, content=None, prefix=".ports.", thread_name=None):
    """Serve every listener in a daemon thread, then write content to port_file (if given; when that
    fails: shutdown() and fail()). Returns an Event that SIGTERM and SIGINT set: wait for it with
    wait_until_set(). thread_name(listener): a name for its thread."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stop.set())
    for listener in listeners:
        threading.Thread(target=listener.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True,
                         name=thread_name(listener) if thread_name else None).start()
    if port_file:
        try:
            write_port_file(port_file, content, prefix)
        except OSError as e:
            shutdown(listeners)
            fail(f"--port-file: {e}")
    return stop


def wait_until_set(event, poll):
    """Block until event is set, waking every poll seconds: a signal handler only runs between waits."""
    while not event.wait(poll):
        pass


def shutdown(listeners):
    """Stop serving and close every listener. shutdown() waits for the listener's next poll (up to
    0.2 s): stop them all at once, not one by one."""
    stoppers = [threading.Thread(target=listener.shutdown, daemon=True) for listener in listeners]
    for stopper in stoppers:
        stopper.start()
    for stopper in stoppers:
        stopper.join()
    for listener in listeners:
        listener.server_close()
