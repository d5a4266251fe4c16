#!/usr/bin/python3
"""An IIS-style front that demands Windows Integrated Authentication (NTLM) and verifies it for real,
in front of the CM emulator (cm_emulator.py), for tests. See the "NTLM" section of tests/rig/README.md.

Every TCP connection must authenticate with NTLM (Type 1 -> 401 challenge -> Type 3) before its
requests are forwarded to the emulator's HTTP port with `X-Remote-User: DOMAIN\\user`; the
authentication stays bound to that connection, as with IIS. The NTLMv2 response is verified by Samba's
`ntlm_auth` (package winbind) in squid-2.5-ntlmssp mode, one helper process per connection, against
the one configured account. `/_emulator/...` and `GET /_ntlm/stats` need no authentication.

The password is read from a file. It never appears on a command line: ntlm_auth only takes it as
`--password`, so each helper is started with a placeholder there, stopped at its exec (ptrace), and
its argv entry is pointed at the password in its environment (readable by root only) before it runs.

Python 3 standard library only (Debian's /usr/bin/python3).
"""

import argparse
import base64
import binascii
import ctypes
import http.client
import itertools
import json
import os
import queue
import select
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # rigserver.py, however this is started
import rigserver  # noqa: E402

SERVER_HEADER = "Microsoft-IIS/10.0"
EMULATOR_PREFIX = "/_emulator/"
STATS_PATH = "/_ntlm/stats"
HELPER_TIMEOUT = 10.0  # seconds to wait for one answer of ntlm_auth
UPSTREAM_IDLE_REOPEN = 30.0  # reopen an upstream connection idle longer than this (the emulator may have closed it)
SECRET_ENV = "NTLM_FRONT_SECRET"
PLACEHOLDER = "(from-environment)"

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
              "upgrade", "proxy-authorization", "proxy-authenticate"}

NTLMSSP_SIGNATURE = b"NTLMSSP\0"
NTLMSSP_NEGOTIATE_UNICODE = 0x00000001


def log(message):
    sys.stderr.write(f"{time.strftime('%H:%M:%S')} ntlm_front: {message}\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------------------------------
# ntlm_auth helpers
# --------------------------------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_ptrace = _libc.ptrace
_ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
_ptrace.restype = ctypes.c_long
PTRACE_TRACEME = 0
PTRACE_DETACH = 17


def _traceme():
    """preexec_fn: stop at the coming exec so the parent can fix argv before ntlm_auth reads it."""
    if _ptrace(PTRACE_TRACEME, 0, None, None) != 0:
        raise OSError(ctypes.get_errno(), "ptrace(PTRACE_TRACEME) failed")


class HelperError(Exception):
    pass


class Helper:
    """One ntlm_auth process speaking the squid stdio protocol (a line in, a line out)."""

    registry = set()  # every live helper, killed at shutdown
    registry_lock = threading.Lock()

    def __init__(self, argv, secret=None):
        """argv: the command. With secret, argv holds PLACEHOLDER (once) where the secret must go:
        ntlm_auth is started with the placeholder, stopped at exec, and that argv pointer is redirected
        to the secret's copy in its environment, so /proc/PID/cmdline (what ps shows) never has it."""
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
        if secret is not None:
            env[SECRET_ENV] = secret
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, env=env, bufsize=0,
            close_fds=True, preexec_fn=_traceme if secret is not None else None)
        self.buffer = b""
        with Helper.registry_lock:
            Helper.registry.add(self)
        if secret is not None:
            try:
                self._redirect_placeholder()
            except BaseException:
                self.close()
                raise

    def _redirect_placeholder(self):
        pid = self.proc.pid
        _, status = os.waitpid(pid, 0)  # the SIGTRAP stop right after exec
        if not os.WIFSTOPPED(status):
            raise HelperError(f"ntlm_auth did not stop at exec (status {status:#x})")
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        fields = stat[stat.rindex(b")") + 2:].split()  # fields[0] is field 3 of proc(5)
        arg_start, arg_end, env_start, env_end = (int(x) for x in fields[45:49])
        width = struct.calcsize("P")
        with open(f"/proc/{pid}/mem", "r+b", buffering=0) as mem:
            mem.seek(arg_start)
            args = mem.read(arg_end - arg_start)
            mem.seek(env_start)
            envs = mem.read(env_end - env_start)
            placeholder_addr = arg_start + (b"\0" + args).index(b"\0" + PLACEHOLDER.encode() + b"\0")
            key = SECRET_ENV.encode() + b"="
            secret_addr = env_start + (b"\0" + envs).index(b"\0" + key) + len(key)
            # The argv pointer array lies on the stack a little below the strings (then come the
            # envp pointers and the auxiliary vector): find the pointer to the placeholder and point it
            # at the secret.
            needle = struct.pack("P", placeholder_addr)
            where = None
            for window in (16 * 1024, 256 * 1024):
                low = max(arg_start - window, 0) // width * width
                try:
                    mem.seek(low)
                    stack = mem.read(arg_start - low)
                except OSError:
                    break  # below the stack's mapping
                at = len(stack)
                while where is None:
                    at = stack.rfind(needle, 0, at)
                    if at < 0:
                        break
                    if (low + at) % width == 0:
                        where = low + at
                if where is not None:
                    break
            if where is None:
                raise HelperError("argv pointer of the placeholder not found")
            mem.seek(where)
            mem.write(struct.pack("P", secret_addr))
        if _ptrace(PTRACE_DETACH, pid, None, None) != 0:
            raise HelperError(f"ptrace(PTRACE_DETACH) failed: {os.strerror(ctypes.get_errno())}")

    def ask(self, line):
        """Send one line, return the answer line (without the newline)."""
        try:
            self.proc.stdin.write(line.encode("ascii") + b"\n")
        except (BrokenPipeError, OSError) as e:
            raise HelperError(f"ntlm_auth went away: {e}")
        deadline = time.monotonic() + HELPER_TIMEOUT
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise HelperError("ntlm_auth did not answer in time")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise HelperError("ntlm_auth exited")
                self.buffer += chunk
        answer, _, self.buffer = self.buffer.partition(b"\n")
        return answer.decode("utf-8", errors="replace")

    def close(self):
        proc = self.proc
        if proc.poll() is None:
            try:
                proc.kill()
            except OSError:
                pass
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        with Helper.registry_lock:
            Helper.registry.discard(self)

    @classmethod
    def close_all(cls):
        with cls.registry_lock:
            helpers = list(cls.registry)
        for helper in helpers:
            helper.close()


class Verifier:
    """Starts helpers for the one configured account."""

    def __init__(self, ntlm_auth, smb_conf, domain, user, password):
        self.ntlm_auth = ntlm_auth
        self.smb_conf = smb_conf
        self.domain = domain
        self.user = user
        self.password = password

    def server_helper(self):
        # --username/--domain are required by the tool but ntlm_auth checks only the password: the
        # account name is checked by the front (Handler._verify_type3).
        try:
            return Helper([self.ntlm_auth, f"--configfile={self.smb_conf}", "--helper-protocol=squid-2.5-ntlmssp",
                           f"--username={self.user}", f"--domain={self.domain}", "--password", PLACEHOLDER],
                          secret=self.password)
        except subprocess.SubprocessError as e:  # ptrace(PTRACE_TRACEME) refused in the child
            raise HelperError(f"cannot start ntlm_auth under ptrace, which keeps the password off its "
                              f"command line: {e}")

    def self_test(self):
        """A full NTLMv2 exchange between ntlm_auth's client mode and a server helper, with the right
        and with a wrong password: proves the helper, the smb.conf and the password plumbing work."""
        results = []
        for password in (self.password, self.password + "-wrong"):
            client = Helper([self.ntlm_auth, f"--configfile={self.smb_conf}", "--helper-protocol=ntlmssp-client-1",
                             f"--username={self.user}", f"--domain={self.domain}"])
            server = self.server_helper()
            try:
                # The client takes its password on stdin ("PW <base64>"), never on its command line.
                expect(client.ask("PW " + base64.b64encode(password.encode("utf-8")).decode()), "OK")
                type1 = expect(client.ask("YR"), "YR")
                type2 = expect(server.ask("YR " + type1), "TT")
                type3 = expect(client.ask("TT " + type2), "AF", "KK")
                results.append(server.ask("KK " + type3))
            finally:
                client.close()
                server.close()
        good, bad = results
        if not good.startswith("AF "):
            raise HelperError(f"self-test: the right password was refused ({good.split(' ')[0]})")
        if not bad.startswith(("NA", "BH")):
            raise HelperError("self-test: a wrong password was accepted")


class HelperPool:
    """A few server helpers started ahead of time: a fresh ntlm_auth needs ~15 ms to load before it
    answers, a waiting one ~1 ms. Each helper still serves exactly one connection and dies with it."""

    def __init__(self, verifier, size):
        self.verifier = verifier
        self.size = size
        self.ready = queue.Queue(maxsize=max(size, 1))
        self.stop = threading.Event()
        self.wakeup = threading.Event()
        self.thread = None
        if size > 0:
            self.thread = threading.Thread(target=self._fill, name="helper pool", daemon=True)
            self.thread.start()

    def _fill(self):
        while not self.stop.is_set():
            if self.ready.qsize() >= self.size:
                self.wakeup.wait(1.0)
                self.wakeup.clear()
                continue
            try:
                helper = self.verifier.server_helper()
            except (HelperError, OSError, subprocess.SubprocessError) as e:
                log(f"cannot start ntlm_auth for the pool: {e}")
                self.stop.wait(1.0)
                continue
            if self.stop.is_set():
                helper.close()
                break
            self.ready.put(helper)

    def take(self):
        """A helper for one connection: a waiting one if there is one, else a new one."""
        while True:
            try:
                helper = self.ready.get_nowait()
            except queue.Empty:
                break
            self.wakeup.set()
            if helper.proc.poll() is None:
                return helper
            helper.close()
        return self.verifier.server_helper()

    def close(self):
        self.stop.set()
        self.wakeup.set()
        if self.thread:
            self.thread.join(5)
        while True:
            try:
                self.ready.get_nowait().close()
            except queue.Empty:
                break


def expect(answer, *codes):
    code, _, rest = answer.partition(" ")
    if code not in codes:
        raise HelperError(f"unexpected helper answer {code!r}: {rest[:80]}")
    return rest


# --------------------------------------------------------------------------------------------------
# NTLM messages (only what the front checks itself)
# --------------------------------------------------------------------------------------------------

def ntlm_message_type(token):
    if len(token) < 12 or token[:8] != NTLMSSP_SIGNATURE:
        return None
    return struct.unpack_from("<I", token, 8)[0]


def parse_type3(token):
    """(domain, user, nt_response_length) of an NTLM AUTHENTICATE message, or None if malformed."""
    if len(token) < 64:
        return None

    def field(offset):
        length, _, start = struct.unpack_from("<HHI", token, offset)
        if start + length > len(token):
            raise ValueError
        return token[start:start + length]

    try:
        nt_response = field(20)
        domain = field(28)
        user = field(36)
        flags = struct.unpack_from("<I", token, 60)[0]
        encoding = "utf-16-le" if flags & NTLMSSP_NEGOTIATE_UNICODE else "cp437"
        return domain.decode(encoding), user.decode(encoding), len(nt_response)
    except (ValueError, UnicodeDecodeError, struct.error):
        return None


# --------------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------------

def iis_401_body():
    return (
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\r\n'
        '<html xmlns="http://www.w3.org/1999/xhtml">\r\n<head>\r\n'
        '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"/>\r\n'
        "<title>401 - Unauthorized: Access is denied due to invalid credentials.</title>\r\n"
        "</head>\r\n<body>\r\n"
        '<div id="header"><h1>Server Error</h1></div>\r\n<div id="content">\r\n'
        ' <div class="content-container"><fieldset>\r\n'
        "  <h2>401 - Unauthorized: Access is denied due to invalid credentials.</h2>\r\n"
        "  <h3>You do not have permission to view this directory or page using the credentials "
        "that you supplied.</h3>\r\n"
        " </fieldset></div>\r\n</div>\r\n</body>\r\n</html>\r\n"
    ).encode("ascii")


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.handshakes = 0
        self.failures = 0

    def count(self, ok):
        with self.lock:
            if ok:
                self.handshakes += 1
            else:
                self.failures += 1

    def snapshot(self):
        with self.lock:
            return {"handshakes": self.handshakes, "failures": self.failures}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body in one write, sent at once (no Nagle delay)
    wbufsize = 64 * 1024  # status line, headers and body leave in one write
    timeout = 120  # idle keep-alive connections close after this (IIS default)
    max_body = 16 * 1024 * 1024

    # set on the subclass made by make_handler_class()
    verifier = None
    pool = None
    stats = None
    upstream = None  # (host, port)
    verbose = False
    connection_counter = None  # itertools.count: next() is atomic in CPython

    def version_string(self):
        return SERVER_HEADER

    def setup(self):
        super().setup()
        self.helper = None  # this connection's ntlm_auth, started at its first Type 1 message
        self.pending = False  # a challenge was sent, a Type 3 message is expected
        self.identity = None  # "DOMAIN\\user" once this connection is authenticated
        self.upstream_conn = None
        self.upstream_used = 0.0
        self.connection_id = next(self.connection_counter)
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()  # in this connection's thread, not the accept loop

    def handle(self):
        try:
            super().handle()
        except (ConnectionError, TimeoutError, ssl.SSLError):
            pass  # the client went away or broke TLS

    def finish(self):
        try:
            super().finish()
        except (ConnectionError, OSError):
            pass
        finally:
            if self.helper:
                self.helper.close()
                self.helper = None
            if self.upstream_conn:
                self.upstream_conn.close()
                self.upstream_conn = None

    def handle_expect_100(self):
        ok = super().handle_expect_100()
        self.wfile.flush()  # wfile is buffered; "100 Continue" must go now
        return ok

    def log_request(self, code="-", size="-"):
        pass

    def log_message(self, format, *args):
        if self.verbose:
            log(f"{self.server.scheme}#{getattr(self, 'connection_id', '?')} {format % args}")

    def do_GET(self):
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    # ---------------------------------------------------------------------------------------------

    def _dispatch(self):
        try:
            body = rigserver.read_body(self.rfile, self.headers, self.max_body)
        except rigserver.BadRequestBody as e:
            self.close_connection = True
            self._send(400, [("Content-Type", "text/plain; charset=utf-8")], f"{e}\n".encode())
            return
        path = urllib.parse.urlsplit(self.path).path
        if path == STATS_PATH:
            if self.command in ("GET", "HEAD"):
                self._send(200, [("Content-Type", "application/json; charset=utf-8")],
                           json.dumps(self.stats.snapshot()).encode())
            else:
                self._send(405, [("Allow", "GET"), ("Content-Type", "text/plain; charset=utf-8")],
                           b"method not allowed\n")
            return
        if path.startswith(EMULATOR_PREFIX):
            self._forward(body, None)
            return
        authorization = self.headers.get("Authorization", "")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() == "ntlm" and token.strip():
            self._ntlm(token.strip(), body)
        elif self.identity:
            self._forward(body, self.identity)
        else:
            self._unauthorized()

    def _unauthorized(self, challenge=None):
        value = "NTLM" if challenge is None else "NTLM " + challenge
        self._send(401, [("Content-Type", "text/html"), ("WWW-Authenticate", value), ("X-Powered-By", "ASP.NET")],
                   iis_401_body())

    def _ntlm(self, token_b64, body):
        try:
            token = base64.b64decode(token_b64, validate=True)
        except (binascii.Error, ValueError):
            token = b""
        kind = ntlm_message_type(token)
        if kind == 1:
            # A (new) handshake: forget any earlier authentication of this connection, like IIS.
            self.identity = None
            self.pending = False
            try:
                if self.helper is None:
                    self.helper = self.pool.take()
                answer = self.helper.ask("YR " + base64.b64encode(token).decode())
            except (HelperError, OSError, subprocess.SubprocessError) as e:
                log(f"{self.server.scheme}#{self.connection_id} ntlm_auth failed: {e}")
                self._drop_helper()
                self._unauthorized()
                return
            code, _, challenge = answer.partition(" ")
            if code == "TT" and challenge:
                self.pending = True
                self._unauthorized(challenge)
            else:
                self._vlog(f"type 1 refused ({code})")
                self._unauthorized()
            return
        if kind == 3 and self.pending:
            self.pending = False
            identity = self._verify_type3(token)
            self.stats.count(identity is not None)
            if identity is None:
                self._unauthorized()
                return
            self.identity = identity
            self._vlog(f"authenticated as {identity}")
            self._forward(body, identity)
            return
        # Garbage, or a Type 3 message without a challenge on this connection.
        if kind == 3:
            self.stats.count(False)
        self.identity = None
        self.pending = False
        self._unauthorized()

    def _verify_type3(self, token):
        """The configured identity if the Type 3 message is good, else None."""
        parsed = parse_type3(token)
        if parsed is None:
            self._vlog("type 3 malformed")
            return None
        domain, user, nt_length = parsed
        if nt_length <= 24:
            # NTLMv1, NTLM2 session response or anonymous: refused (ntlm auth = ntlmv2-only).
            self._vlog(f"type 3 refused: not NTLMv2 (NT response of {nt_length} bytes)")
            return None
        try:
            answer = self.helper.ask("KK " + base64.b64encode(token).decode())
        except (HelperError, OSError) as e:
            log(f"{self.server.scheme}#{self.connection_id} ntlm_auth failed: {e}")
            self._drop_helper()
            return None
        code, _, rest = answer.partition(" ")
        if code != "AF":
            self._vlog(f"type 3 refused by ntlm_auth ({code})")
            return None
        # ntlm_auth checked only the password: the account must be ours (case-insensitive, like
        # Windows). Its answer and the message must agree.
        helper_domain, sep, helper_user = rest.rpartition("\\")
        v = self.verifier
        for d, u in ((domain, user), (helper_domain if sep else domain, helper_user)):
            if d.casefold() != v.domain.casefold() or u.casefold() != v.user.casefold():
                self._vlog(f"type 3 refused: account {d}\\{u} is not {v.domain}\\{v.user}")
                return None
        return f"{v.domain}\\{v.user}"

    def _drop_helper(self):
        if self.helper:
            self.helper.close()
            self.helper = None
        self.pending = False

    def _vlog(self, message):
        if self.verbose:
            log(f"{self.server.scheme}#{self.connection_id} {message}")

    # ---------------------------------------------------------------------------------------------

    def _upstream(self):
        now = time.monotonic()
        if self.upstream_conn is not None and now - self.upstream_used > UPSTREAM_IDLE_REOPEN:
            self.upstream_conn.close()
            self.upstream_conn = None
        if self.upstream_conn is None:
            self.upstream_conn = http.client.HTTPConnection(*self.upstream, timeout=None)
        return self.upstream_conn

    def _forward(self, body, identity):
        connection_tokens = {t.strip().lower() for t in self.headers.get("Connection", "").split(",")}
        headers = []
        for name, value in self.headers.items():
            lower = name.lower()
            if (lower in HOP_BY_HOP or lower in connection_tokens
                    or lower in ("content-length", "expect", "x-remote-user")):
                continue
            headers.append((name, value))
        if identity:
            headers.append(("X-Remote-User", identity))
        if body or "Content-Length" in self.headers or "Transfer-Encoding" in self.headers:
            headers.append(("Content-Length", str(len(body))))
        conn = self._upstream()
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            conn.endheaders(body or None)
            response = conn.getresponse()
            data = response.read()
        except (ConnectionError, http.client.HTTPException, OSError) as e:
            # The emulator closed (or reset) without answering: do the same to the client.
            conn.close()
            self.upstream_conn = None
            self._vlog(f"upstream gave no answer ({type(e).__name__}): closing")
            self.close_connection = True
            if isinstance(e, ConnectionResetError) and not isinstance(e, http.client.RemoteDisconnected):
                # RST instead of FIN, as the emulator does: SO_LINGER 0 and a close without shutdown()
                # (the descriptor really closes when finish() closes rfile/wfile).
                try:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                except OSError:
                    pass
            return
        self.upstream_used = time.monotonic()
        out = []
        content_length = None
        upstream_closes = response.will_close
        for name, value in response.getheaders():
            lower = name.lower()
            if lower == "content-length":
                content_length = value
                continue
            if lower in HOP_BY_HOP:
                continue
            out.append((name, value))
        if upstream_closes:
            conn.close()
            self.upstream_conn = None
            self.close_connection = True
        self._send(response.status, out, data, reason=response.reason,
                   head_length=content_length if self.command == "HEAD" else None)

    def _send(self, status, headers, body=b"", reason=None, head_length=None):
        """Write one whole response. Server and Date are added unless the headers have them."""
        self.send_response_only(status, reason)
        names = {name.lower() for name, _ in headers}
        if "server" not in names:
            self.send_header("Server", SERVER_HEADER)
        if "date" not in names:
            self.send_header("Date", self.date_time_string())
        for name, value in headers:
            self.send_header(name, value)
        no_body = status in (204, 304) or 100 <= status < 200
        if not no_body:
            self.send_header("Content-Length", head_length if head_length is not None else str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not no_body and self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------

fail = rigserver.make_fail("ntlm_front")  # a startup error: message on stderr, exit status 2


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="ntlm_front.py",
        description="IIS-style NTLM-verifying HTTP(S) front for the CM emulator (tests only).")
    parser.add_argument("--http-port", type=int, help="HTTP port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--https-port", type=int, help="HTTPS port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--bind", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    parser.add_argument("--cert", help="server certificate (PEM) for HTTPS")
    parser.add_argument("--key", help="its private key (PEM)")
    parser.add_argument("--upstream", required=True, metavar="URL",
                        help="the emulator's HTTP base, e.g. http://127.0.0.1:8080")
    parser.add_argument("--domain", required=True, help="the account's domain (NetBIOS), e.g. CONTOSO")
    parser.add_argument("--user", required=True, help="the account's user name, e.g. kiosk")
    parser.add_argument("--password-file", required=True, metavar="FILE",
                        help="file holding the account's password (one line; a final newline is ignored)")
    parser.add_argument("--smb-conf", required=True, metavar="FILE", help="smb.conf for ntlm_auth (--configfile)")
    parser.add_argument("--ntlm-auth", default="/usr/bin/ntlm_auth", metavar="PATH", help="Samba's ntlm_auth")
    parser.add_argument("--port-file", metavar="FILE", help='write {"http":P,"https":P,"pid":PID} here when up')
    parser.add_argument("--idle-timeout", type=float, default=120.0,
                        help="close idle keep-alive connections after this many seconds (default 120, as IIS)")
    parser.add_argument("--pool", type=int, default=2, metavar="N",
                        help="ntlm_auth helpers kept started ahead of time (default 2; 0: start one per handshake)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log handshakes and their outcome (never a password or token)")
    args = parser.parse_args(argv)
    if args.http_port is None and args.https_port is None:
        parser.error("give --http-port and/or --https-port")
    if args.https_port is not None and not (args.cert and args.key):
        parser.error("--https-port needs --cert and --key")
    rigserver.check_loopback_bind(parser, args.bind)
    upstream = urllib.parse.urlsplit(args.upstream)
    if upstream.scheme != "http" or not upstream.hostname or not upstream.port:
        parser.error("--upstream must be http://HOST:PORT")
    args.upstream_address = (upstream.hostname, upstream.port)
    return args


def main(argv=None):
    args = parse_args(argv)
    password = rigserver.read_password_file(args.password_file, fail)
    if not password or "\n" in password or "\0" in password:
        fail("--password-file: needs one non-empty line")
    if not os.access(args.ntlm_auth, os.X_OK):
        fail(f"{args.ntlm_auth} not found (Debian package winbind)")
    if not os.path.isfile(args.smb_conf):
        fail(f"--smb-conf {args.smb_conf}: no such file")

    verifier = Verifier(args.ntlm_auth, os.path.abspath(args.smb_conf), args.domain, args.user, password)
    try:
        verifier.self_test()
    except (HelperError, OSError, subprocess.SubprocessError) as e:
        fail(f"ntlm_auth self-test failed: {e}")

    pool = HelperPool(verifier, max(args.pool, 0))
    handler_class = type("NtlmHandler", (Handler,), {
        "verifier": verifier, "pool": pool, "stats": Stats(), "upstream": args.upstream_address,
        "verbose": args.verbose, "timeout": args.idle_timeout, "connection_counter": itertools.count(1),
    })

    listeners = []
    ports = {"http": None, "https": None, "pid": os.getpid()}
    try:
        if args.http_port is not None:
            listeners.append(rigserver.Listener((args.bind, args.http_port), handler_class, "http"))
            ports["http"] = listeners[-1].server_address[1]
        if args.https_port is not None:
            try:
                context = rigserver.make_ssl_context(args.cert, args.key)
            except (OSError, ssl.SSLError) as e:
                fail(f"cannot load {args.cert} / {args.key}: {e}")
            listeners.append(rigserver.Listener((args.bind, args.https_port), handler_class, "https", context))
            ports["https"] = listeners[-1].server_address[1]
    except OSError as e:
        for listener in listeners:
            listener.server_close()
        fail(f"cannot listen: {e}")

    stop = rigserver.serve(listeners, fail, args.port_file, ports)
    for lst in listeners:
        log(f"listening on {lst.scheme}://{args.bind}:{lst.server_address[1]}/ -> {args.upstream} "
            f"(account {args.domain}\\{args.user})")

    rigserver.wait_until_set(stop, 1.0)
    rigserver.shutdown(listeners)
    pool.close()
    Helper.close_all()
    rigserver.remove_port_file(args.port_file)
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
