#!/usr/bin/python3
"""The fault matrix: mimcm-cli against every server and network fault, each a typed outcome.

  matrix.py --cli PATH/mimcm-cli --peak-rss PATH/peak_rss --work DIR [--jobs N] [--only WORD]...

Starts its own servers on loopback, each with a bounded lifetime:
  - tests/rig/fault_server.py (a server that misbehaves on purpose);
  - the CM emulator over HTTP and HTTPS, with listeners whose certificate is expired or names
    another host (certificates by tests/rig/make-certs.sh in DIR/certs; the CLI trusts their CA,
    so only the expiry or the host name is wrong);
  - tests/rig/cut_proxy.py in front of the emulator, cutting, resetting or delaying connections.

Runs the real CLI against each fault (rows in parallel, --jobs at a time) and measures its outcome
(the "outcome" and, for a transport failure, the "transport_error" of its --json output), its exit code, its
wall time and its peak resident memory (ru_maxrss from wait4, taken by tests/faults/peak_rss.cpp
so that the figure is the CLI's own). Each row states what
it expects: outcome, exit code, a time window, a memory bound and how many times the CLI retried
(from its --verbose log; the rows of a fault before any answer run with --retries 0 to show the
fault itself, and one row shows it retried by default). The CLI runs with --timeout 30,
so the SDK's limits end the faults, not the timeout; the low-speed limit keeps its default
(15 s without 32 bytes a second), so the silent and dripping servers take about 15 s.

Prints the matrix as a markdown table (also written to DIR/matrix.md) and exits 1 if any row
missed its expectation (2 if the servers could not be started).
"""

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RIG = os.path.join(os.path.dirname(HERE), "rig")
LIFETIME = 300  # seconds any server of the matrix lives at most
MIB = 1024
# Memory bounds: the CLI alone (a Debug build) peaks at about 13-15 MiB. Every row stays under
# 24 MiB, except the endless body, which the SDK keeps up to its 16 MiB limit while receiving:
# under 32 MiB (the CLI, plus the limit, plus 3 MiB).

# What a template id, a request id and a POST look like to the emulator.
TEMPLATE = "2b7044cf-aa96-4911-b886-177947e9271b"  # the emulator's smart card logon template
REQUEST = "0f3c5a7e-1b2d-4c6e-8a9f-1e2d3c4b5a69"


class Row:
    def __init__(self, fault, target, args, outcome, exit_code, max_s, min_s=0.0, max_rss_mib=24,
                 kind=None, contains=None, timeout=30, retries=0):
        self.fault = fault          # what the server or the network does
        self.target = target        # (server, path or listener) resolved to a URL at run time
        self.args = args            # the CLI command and its own arguments
        self.outcome = outcome      # expected JSON "outcome"
        # expected "transport_error" (mimcm::to_string of the kind), or a tuple of the kinds a
        # race between the client and the network allows
        self.kind = kind
        self.exit_code = exit_code
        self.min_s, self.max_s = min_s, max_s
        self.max_rss_mib = max_rss_mib
        self.contains = contains    # a piece of the message that names the fault
        self.timeout = timeout      # the CLI's --timeout
        # the retries the CLI logs (its --verbose "retrying in" lines): 0 for every fault the SDK
        # must not retry (a POST, an answer that began, a limit, TLS, a timeout...)
        self.retries = retries
        self.result = None


def kinds_of(row):
    return row.kind if isinstance(row.kind, tuple) else (row.kind,)


def templates():
    return ["templates"]


def request_show():
    return ["request", "show", "--request", REQUEST]


def request_create():
    return ["request", "create", "--template", TEMPLATE]


# A GET that fails before any answer is retried (twice by default): the rows that show how such a
# fault surfaces turn retries off, so they measure one attempt.
ONCE = ["--retries", "0"]


LOW_SPEED = dict(min_s=13.0, max_s=25.0)  # the default low-speed window is 15 s

ROWS = [
    # The fault server (tests/rig/fault_server.py).
    Row("endless body (chunked JSON array)", ("fault", "endless"), templates(),
        "transport_failure", 7, max_s=15, kind="response size limit", contains="16777216 bytes",
        max_rss_mib=32),
    Row("Content-Length: 1 GiB, endless body", ("fault", "biglength"), templates(),
        "transport_failure", 7, max_s=5, kind="response size limit"),
    Row("slow drip (1 byte/s)", ("fault", "drip"), templates(), "transport_failure", 7,
        kind="low-speed limit", **LOW_SPEED),
    Row("silence after accept", ("fault", "silence"), templates(), "transport_failure", 7,
        kind="low-speed limit", **LOW_SPEED),
    Row("body truncated against Content-Length", ("fault", "truncated"), templates(),
        "transport_failure", 7, max_s=5, kind="send/receive", contains="partial"),
    Row("reset (RST) mid-body", ("fault", "reset"), templates(), "transport_failure", 7, max_s=5,
        kind="send/receive"),
    Row("connection closed inside the headers", ("fault", "cutheaders"), templates(),
        "transport_failure", 7, max_s=5, kind="send/receive", contains="response headers"),
    Row("garbage status line", ("fault", "garbage"), templates(), "transport_failure", 7,
        max_s=5, kind="malformed response"),
    Row("one header of 1 MiB", ("fault", "hugeheader"), templates(), "transport_failure", 7,
        max_s=5, kind="header limit", contains="header line is longer"),
    Row("100,000 headers", ("fault", "manyheaders"), templates(), "transport_failure", 7,
        max_s=5, kind="header limit", contains="200 lines"),
    Row("deep JSON (1,000,000 nested [)", ("fault", "deep"), templates(), "protocol_error", 6,
        max_s=5, contains="depth limit (64)"),
    Row("wrong types: [1,2,3] for a list of templates", ("fault", "numberlist"), templates(),
        "protocol_error", 6, max_s=5, contains="item 1: ProfileTemplate: expected an object"),
    Row('wrong types: "oops" for a list of templates', ("fault", "stringbody"), templates(),
        "protocol_error", 6, max_s=5, contains="expected an object, got a string"),
    Row('wrong types: request {"Status":"abc"}', ("fault", "wrongstatus"), request_show(),
        "protocol_error", 6, max_s=5, contains="Request.Status: expected an integer"),
    Row('wrong types: request {"Status":1e300}', ("fault", "hugestatus"), request_show(),
        "protocol_error", 6, max_s=5, contains="Request.Status: expected an integer"),
    Row("200 with an empty body", ("fault", "empty"), templates(), "protocol_error", 6, max_s=5,
        contains="not JSON"),
    Row("HTTP/1.0, close-delimited body (valid)", ("fault", "http10"), templates(), "ok", 0,
        max_s=5),
    Row("chunked body (valid)", ("fault", "chunked"), templates(), "ok", 0, max_s=5),
    Row("redirect loop (302 to itself; the CLI follows no redirect)", ("fault", "redirect"),
        templates(), "unexpected_status", 6, max_s=5, contains="HTTP 302"),
    # TLS: the emulator's HTTPS listeners; the CLI trusts the test CA.
    Row("HTTPS, good certificate (control)", ("emulator", "https"), templates(), "ok", 0,
        max_s=5),
    Row("HTTPS, expired certificate", ("emulator", "https_expired"), templates(),
        "transport_failure", 7, max_s=5, kind="TLS",
        contains="certificate has expired"),
    Row("HTTPS, certificate for another host", ("emulator", "https_wrong_host"), templates(),
        "transport_failure", 7, max_s=5, kind="TLS",
        contains="'localhost'"),
    # The emulator behind tests/rig/cut_proxy.py.
    Row("proxy: relayed untouched (control)", ("cut", "pass"), templates(), "ok", 0, max_s=5),
    Row("proxy: closed on accept, before the request", ("cut", "accept-close"), templates() + ONCE,
        "transport_failure", 7, max_s=5, kind="send/receive"),
    # The RST can reach the client while libcurl still checks its connect (a connection failure)
    # or once it sends the request (a send/receive failure): both are right.
    Row("proxy: reset (RST) on accept", ("cut", "accept-reset"), templates() + ONCE,
        "transport_failure", 7, max_s=5, kind=("send/receive", "connection")),
    Row("proxy: closed after the request, before any answer", ("cut", "after-request"),
        templates() + ONCE, "transport_failure", 7, max_s=5, kind="send/receive"),
    # The default policy: 2 retries, waits of up to 0.5 s and 1 s.
    Row("proxy: closed after the request, before any answer, retried", ("cut", "after-request"),
        templates(), "transport_failure", 7, max_s=5, kind="send/receive", retries=2),
    Row("proxy: POST relayed, closed before any answer", ("cut", "after-request"),
        request_create(), "transport_failure", 7, max_s=5, kind="send/receive"),
    Row("proxy: cut after 17 bytes (inside the headers)", ("cut", "bytes-17"), templates(),
        "transport_failure", 7, max_s=5, kind="send/receive", contains="response headers"),
    Row("proxy: cut 10 bytes into the body", ("cut", "body-10"), templates(),
        "transport_failure", 7, max_s=5, kind="send/receive", contains="partial"),
    Row("proxy: reset (RST) 10 bytes into the body", ("cut", "reset-body-10"), templates(),
        "transport_failure", 7, max_s=5, kind="send/receive"),
    Row("proxy: answer delayed 2 s (valid)", ("cut", "delay-2"), templates(), "ok", 0,
        min_s=2.0, max_s=6),
    Row("proxy: answer delayed 60 s", ("cut", "delay-60"), templates(), "transport_failure", 7,
        kind="low-speed limit", **LOW_SPEED),
    Row("proxy: answer delayed 60 s, --timeout 3", ("cut", "delay-60"), templates(),
        "transport_failure", 7, min_s=2.5, max_s=7, kind="timeout", timeout=3),
    Row("proxy: HTTPS relayed untouched (control)", ("cuttls", "pass"), templates(), "ok", 0,
        max_s=5),
    Row("proxy: HTTPS cut after 100 bytes (in the handshake)", ("cuttls", "bytes-100"),
        templates(), "transport_failure", 7, max_s=5, kind="TLS"),
]

CUTS = ["pass=pass", "accept-close=accept-close", "accept-reset=accept-reset",
        "after-request=after-request", "bytes-17=bytes:17", "body-10=body-bytes:10",
        "reset-body-10=reset-body:10", "delay-2=delay:2", "delay-60=delay:60"]
TLS_CUTS = ["pass=pass", "bytes-100=bytes:100"]


def wait_for_json(path, proc, seconds=15.0):
    """The port file a server just started writes (the caller removed any older one)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError("%s did not appear (the server exited: %s)" % (path, proc.poll()))


class Servers:
    """The matrix's servers, stopped (by their own PIDs) when done."""

    def __init__(self, work):
        self.work = work
        self.procs = []

    def start(self, name, argv, port_file):
        if os.path.exists(port_file):
            os.unlink(port_file)  # an earlier run's
        log = open(os.path.join(self.work, name + ".log"), "w")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        self.procs.append(proc)
        return proc

    def up(self):
        certs = os.path.join(self.work, "certs")
        subprocess.run([os.path.join(RIG, "make-certs.sh"), certs], check=True,
                       stdout=subprocess.DEVNULL)
        self.ca = os.path.join(certs, "ca.pem")
        py = sys.executable

        fault_file = os.path.join(self.work, "fault.port")
        proc = self.start("fault-server", [py, os.path.join(RIG, "fault_server.py"),
                                           "--port-file", fault_file, "--lifetime", str(LIFETIME)],
                          fault_file)
        fault_port = wait_for_json(fault_file, proc)

        emu_file = os.path.join(self.work, "emulator.json")
        proc = self.start("emulator", ["timeout", "-k", "5", str(LIFETIME), py,
                                       os.path.join(RIG, "cm_emulator.py"), "-q",
                                       "--http-port", "0", "--https-port", "0",
                                       "--tls-variant", "expired", "--tls-variant", "wrong-host",
                                       "--cert-dir", certs, "--port-file", emu_file], emu_file)
        emulator = wait_for_json(emu_file, proc)

        cuts = {}
        for name, upstream, specs in (("cut", emulator["http"], CUTS),
                                      ("cuttls", emulator["https"], TLS_CUTS)):
            port_file = os.path.join(self.work, name + ".json")
            argv = [py, os.path.join(RIG, "cut_proxy.py"), "--upstream", "127.0.0.1:%d" % upstream,
                    "--port-file", port_file, "--lifetime", str(LIFETIME)]
            for spec in specs:
                argv += ["--cut", spec]
            cuts[name] = wait_for_json(port_file, self.start(name + "-proxy", argv, port_file))

        self.urls = {
            "fault": lambda mode: "http://127.0.0.1:%d/%s" % (fault_port, mode),
            "emulator": lambda listener: "%s://localhost:%d" % (
                "http" if listener == "http" else "https", emulator[listener]),
            "cut": lambda name: "http://127.0.0.1:%d" % cuts["cut"][name],
            "cuttls": lambda name: "https://localhost:%d" % cuts["cuttls"][name],
        }

    def url(self, target):
        server, what = target
        return self.urls[server](what)

    def down(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def child_env():
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["NO_PROXY"] = "*"
    return env


def run_row(row, cli, peak_rss, servers, scratch):
    """Runs the CLI for one row (through peak_rss, which measures its memory); sets row.result."""
    rss_file = tempfile.NamedTemporaryFile(dir=scratch, delete=False).name
    # peak_rss kills a CLI that never ends, well after the row's time bound (the row then fails).
    argv = [peak_rss, rss_file, str(int(row.max_s) + 15), cli] + row.args + [
        "--server", servers.url(row.target), "--ca-file", servers.ca, "--proxy", "",
        "--timeout", str(row.timeout), "--json", "--verbose"]
    started = time.monotonic()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, env=child_env(), timeout=row.max_s + 30)
    seconds = time.monotonic() - started
    stdout = proc.stdout.decode("utf-8", "replace")
    stderr = proc.stderr.decode("utf-8", "replace")
    with open(rss_file) as f:
        rss_kib = int(f.read() or -1)
    os.unlink(rss_file)

    outcome, message, kind = "(no JSON)", "", None
    try:
        doc = json.loads(stdout.strip().splitlines()[-1]) if stdout.strip() else {}
        outcome = doc.get("outcome", "(no outcome)")
        message = doc.get("message", "")
        kind = doc.get("transport_error")
    except ValueError:
        outcome, kind = "(not JSON)", None
    retries = stderr.count(": retrying in ")
    row.result = dict(outcome=outcome, kind=kind, message=message, exit=proc.returncode,
                      seconds=seconds, rss_kib=rss_kib, stderr=stderr, retries=retries)

    misses = []
    kinds = kinds_of(row)
    if outcome != row.outcome or (row.kind is not None and kind not in kinds):
        misses.append("outcome")
    if proc.returncode != row.exit_code:
        misses.append("exit code")
    if not row.min_s <= seconds <= row.max_s:
        misses.append("time")
    if not 0 < rss_kib <= row.max_rss_mib * MIB:
        misses.append("memory")
    if row.contains and row.contains not in message:
        misses.append("message")
    if retries != row.retries:
        misses.append("retries")
    row.result["misses"] = misses


def table(rows):
    lines = ["| fault | outcome | exit code | time | retries | peak RSS | expected | result |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        r = row.result
        outcome = r["outcome"] + (" (%s)" % r["kind"] if r["kind"] else "")
        expected = "%s%s, exit %d, %s s, %d retries, RSS <= %d MiB" % (
            row.outcome, " (%s)" % " or ".join(kinds_of(row)) if row.kind else "", row.exit_code,
            ("%g-%g" % (row.min_s, row.max_s)) if row.min_s else ("<= %g" % row.max_s),
            row.retries, row.max_rss_mib)
        verdict = "ok" if not r["misses"] else "MISS: " + ", ".join(r["misses"])
        lines.append("| %s | %s | %d | %.2f s | %d | %.1f MiB | %s | %s |" % (
            row.fault, outcome, r["exit"], r["seconds"], r["retries"], r["rss_kib"] / MIB,
            expected, verdict))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cli", required=True, help="the mimcm-cli binary")
    parser.add_argument("--peak-rss", required=True,
                        help="the peak_rss helper (tests/faults/peak_rss.cpp), built")
    parser.add_argument("--work", required=True, help="a directory for certificates, logs, output")
    parser.add_argument("--jobs", type=int, default=4, help="rows run at once (default 4)")
    parser.add_argument("--only", action="append", default=[],
                        help="run only rows whose fault contains this word (repeatable)")
    args = parser.parse_args()
    for option, path in (("--cli", args.cli), ("--peak-rss", args.peak_rss)):
        if not os.access(path, os.X_OK):
            parser.error("%s %s is not an executable" % (option, path))
    if shutil.which("openssl") is None:
        print("matrix: openssl is missing (tests/rig/install-deps.sh installs it)", file=sys.stderr)
        return 2
    os.makedirs(args.work, exist_ok=True)
    rows = [r for r in ROWS if not args.only or any(w in r.fault for w in args.only)]
    if not rows:
        parser.error("no row matches --only")

    servers = Servers(args.work)
    try:
        try:
            servers.up()
        except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
            print("matrix: the servers did not start: %s" % e, file=sys.stderr)
            return 2
        scratch = tempfile.mkdtemp(dir=args.work)
        # The slowest rows first, so that they overlap with the rest.
        order = sorted(rows, key=lambda r: -r.min_s)
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for future in [pool.submit(run_row, r, args.cli, args.peak_rss, servers, scratch) for r in order]:
                future.result()
        total = time.monotonic() - started
        shutil.rmtree(scratch, ignore_errors=True)
    finally:
        servers.down()

    text = table(rows)
    missed = [r for r in rows if r.result["misses"]]
    summary = "%d rows, %d missed, %.1f s with %d at a time" % (len(rows), len(missed), total,
                                                                args.jobs)
    with open(os.path.join(args.work, "matrix.md"), "w") as f:
        f.write(text + "\n\n" + summary + "\n")
    print(text)
    print()
    print(summary)
    print("\nMessages:")
    for r in rows:
        print("- %s: %s" % (r.fault, r.result["message"] or "(none)"))
    for r in missed:
        print("\n%s: %s\n  message: %s\n  stderr: %s" % (
            r.fault, ", ".join(r.result["misses"]), r.result["message"],
            re.sub(r"\s+", " ", r.result["stderr"])[:500]))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
