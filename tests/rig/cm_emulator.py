#!/usr/bin/python3
"""Emulator of the MIM Certificate Management (CM) REST API, for tests and for development without a
Windows CM deployment.

It serves the CM web application under /CertificateManagement over HTTP and/or HTTPS on loopback,
checks requests like a strict server, emulates the whole CM REST API over an in-memory CM (cm_api.py),
answers the server-proposed PIN with configurable outcomes per smart card, and records every CM request
so a test can inspect what a client really sent. A control API under /_emulator/ changes the outcomes,
injects faults, shows a smart card's server-side state and reads the record at run time. See
tests/rig/emulator.md.

Python 3 standard library; cm_api.py also uses pycryptodome (python3-pycryptodome) and the openssl
command.
"""

import argparse
import base64
import binascii
import ipaddress
import json
import os
import re
import secrets
import socket
import ssl
import struct
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from html import escape as html_escape
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # rigserver.py, however this is started
import rigserver  # noqa: E402
import cm_api  # noqa: E402  (the stateful CM: templates, requests, smart cards, certificates)

CM_PREFIX = "/certificatemanagement"  # compared case-insensitively, like IIS
CONTROL_PREFIX = "/_emulator/"
SERVER_HEADER = "Microsoft-IIS/10.0"
JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html"

GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
LOWER_GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
ATR_RE = re.compile(r"^(?:[0-9a-f]{2}){2,33}\Z")  # lowercase hex, even length, 4..66 characters
BASE64_RE = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\Z")

DEFAULT_OUTCOME = {"outcome": "pin", "pin": "12345678"}

# Authentication and sessions (see "Bearer tokens" and "Session cookie" in emulator.md)
BEARER_DENIED = "Authorization has been denied for this request."  # ASP.NET Web API's [Authorize] text
TOKEN_RE = re.compile(r"^[\x21-\x7e]+\Z")  # visible ASCII, no spaces: what can travel after "Bearer "
COOKIE_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")  # an RFC 6265 cookie-name (an HTTP token)
SESSION_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz012345"  # ASP.NET session ids: 24 characters of these
COOKIE_PATH = "/CertificateManagement"

# --tls-variant NAME: extra HTTPS listeners with a special certificate setup
TLS_VARIANTS = ("expired", "wrong-host", "client-cert")
REDIRECT_STATUSES = (301, 302, 303, 307, 308)


# --------------------------------------------------------------------------------------------------
# Outcomes: what the emulator answers to an operation once the request passed the checks.
# --------------------------------------------------------------------------------------------------

class OutcomeError(ValueError):
    """An outcome object (from --config or the control API) is malformed."""


# outcome name -> (required keys, optional keys), besides "outcome" itself
OUTCOME_KEYS = {
    "pin": ({"pin"}, set()),
    "none": (set(), set()),
    "unauthorized": (set(), {"schemes"}),
    "forbidden": (set(), {"message"}),
    "error": (set(), {"correlation_id", "style"}),
    "status": ({"status"}, {"body", "content_type", "headers"}),
    "raw": ({"body"}, {"content_type"}),
    "slow": ({"delay", "then"}, set()),
    "close": (set(), {"reset"}),
    "redirect": ({"location"}, {"status"}),
}


def validate_outcome(outcome, where="outcome"):
    """Check an outcome object; return it unchanged or raise OutcomeError."""
    if not isinstance(outcome, dict):
        raise OutcomeError(f"{where}: must be a JSON object")
    kind = outcome.get("outcome")
    if kind not in OUTCOME_KEYS:
        raise OutcomeError(f"{where}: \"outcome\" must be one of {', '.join(sorted(OUTCOME_KEYS))}")
    required, optional = OUTCOME_KEYS[kind]
    keys = set(outcome) - {"outcome"}
    if required - keys:
        raise OutcomeError(f"{where}: outcome \"{kind}\" needs {', '.join(sorted(required - keys))}")
    if keys - required - optional:
        raise OutcomeError(f"{where}: outcome \"{kind}\" does not take {', '.join(sorted(keys - required - optional))}")

    def need(key, types, what):
        if key in outcome and not isinstance(outcome[key], types):
            raise OutcomeError(f"{where}: \"{key}\" must be {what}")

    need("pin", str, "a string")
    need("message", str, "a string")
    need("correlation_id", str, "a string")
    need("body", str, "a string")
    need("content_type", str, "a string")
    need("reset", bool, "a boolean")
    if kind == "unauthorized" and "schemes" in outcome:
        schemes = outcome["schemes"]
        if not isinstance(schemes, list) or not all(isinstance(s, str) and s for s in schemes):
            raise OutcomeError(f"{where}: \"schemes\" must be an array of strings")
    if kind == "error" and outcome.get("style", "message") not in ("message", "field"):
        raise OutcomeError(f"{where}: \"style\" must be \"message\" or \"field\"")
    if kind == "status":
        status = outcome["status"]
        if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
            raise OutcomeError(f"{where}: \"status\" must be an integer from 200 to 599")
        if status in (204, 304) and outcome.get("body"):
            raise OutcomeError(f"{where}: status {status} cannot have a body")
        headers = outcome.get("headers", {})
        if not isinstance(headers, dict):
            raise OutcomeError(f"{where}: \"headers\" must be an object")
        for name, value in headers.items():
            values = value if isinstance(value, list) else [value]
            if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name) or not all(
                    isinstance(v, str) and "\r" not in v and "\n" not in v for v in values):
                raise OutcomeError(f"{where}: bad header {name!r}")
            if name.lower() in ("content-type", "content-length", "transfer-encoding", "connection"):
                raise OutcomeError(f"{where}: header {name} is set by the emulator (use content_type)")
    if kind == "slow":
        delay = outcome["delay"]
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay <= 3600:
            raise OutcomeError(f"{where}: \"delay\" must be a number of seconds from 0 to 3600")
        validate_outcome(outcome["then"], where + ".then")
    if kind == "redirect":
        status = outcome.get("status", 302)
        if isinstance(status, bool) or status not in REDIRECT_STATUSES:
            raise OutcomeError(f"{where}: \"status\" must be one of {', '.join(map(str, REDIRECT_STATUSES))}")
        location = outcome["location"]
        if not isinstance(location, str) or not is_absolute_url(location):
            raise OutcomeError(f"{where}: \"location\" must be an absolute http:// or https:// URL "
                               "without spaces or control characters")
    return outcome


def is_absolute_url(text):
    if not re.fullmatch(r"[\x21-\x7e\x80-\U0010ffff]+", text):
        return False
    try:
        split = urllib.parse.urlsplit(text)
        split.port  # raises ValueError on a bad port
    except ValueError:
        return False
    return split.scheme.lower() in ("http", "https") and bool(split.hostname)


class Response:
    """A response to send. close: drop the connection instead (reset: with a TCP RST)."""

    def __init__(self, status, body=b"", content_type=None, headers=None, close=False, reset=False, delay=0.0):
        self.status = status
        self.body = body.encode("utf-8") if isinstance(body, str) else body
        self.content_type = content_type
        self.headers = headers or []  # list of (name, value): names may repeat
        self.close = close
        self.reset = reset
        self.delay = delay


def json_response(status, value, headers=None):
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return Response(status, body, JSON_TYPE, headers)


def message_response(status, message):
    """The ASP.NET Web API error shape: {"Message":"..."}."""
    return json_response(status, {"Message": message})


def iis_html(status, title, detail):
    body = (
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\r\n'
        '<html xmlns="http://www.w3.org/1999/xhtml">\r\n<head>\r\n'
        '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"/>\r\n'
        f"<title>{status} - {title}</title>\r\n</head>\r\n<body>\r\n"
        '<div id="header"><h1>Server Error</h1></div>\r\n<div id="content">\r\n'
        ' <div class="content-container"><fieldset>\r\n'
        f"  <h2>{status} - {title}</h2>\r\n  <h3>{detail}</h3>\r\n"
        " </fieldset></div>\r\n</div>\r\n</body>\r\n</html>\r\n"
    )
    return Response(status, body, HTML_TYPE)


def iis_not_found():
    return iis_html(404, "File or directory not found.",
                    "The resource you are looking for might have been removed, had its name changed, "
                    "or is temporarily unavailable.")


def outcome_response(outcome):
    """Turn a validated outcome into a Response."""
    kind = outcome["outcome"]
    if kind == "pin":
        return json_response(200, outcome["pin"])
    if kind == "none":
        return Response(204)
    if kind == "unauthorized":
        schemes = outcome.get("schemes", ["Negotiate", "NTLM"])
        response = iis_html(401, "Unauthorized: Access is denied due to invalid credentials.",
                            "You do not have permission to view this directory or page using the "
                            "credentials that you supplied.")
        response.headers = [("WWW-Authenticate", s) for s in schemes]
        return response
    if kind == "forbidden":
        return message_response(403, outcome.get("message", "Access is denied."))
    if kind == "error":
        cid = outcome.get("correlation_id") or str(uuid.uuid4())
        value = {"Message": "An error has occurred. Contact your administrator and provide the "
                            f"correlation ID {cid}."}
        if outcome.get("style", "message") == "field":
            value["CorrelationId"] = cid
        return json_response(500, value)
    if kind == "status":
        headers = []
        for name, value in outcome.get("headers", {}).items():
            for v in value if isinstance(value, list) else [value]:
                headers.append((name, v))
        body = outcome.get("body", "")
        content_type = outcome.get("content_type", "text/plain; charset=utf-8" if body else None)
        return Response(outcome["status"], body, content_type, headers)
    if kind == "raw":
        return Response(200, outcome["body"], outcome.get("content_type", JSON_TYPE))
    if kind == "slow":
        response = outcome_response(outcome["then"])
        response.delay += float(outcome["delay"])
        return response
    if kind == "close":
        return Response(0, close=True, reset=outcome.get("reset", False))
    if kind == "redirect":
        # What ASP.NET's Response.Redirect sends along: a small "Object moved" page.
        location = outcome["location"]
        body = ('<html><head><title>Object moved</title></head><body>\r\n'
                f'<h2>Object moved to <a href="{html_escape(location)}">here</a>.</h2>\r\n</body></html>\r\n')
        return Response(outcome.get("status", 302), body, "text/html; charset=utf-8", [("Location", location)])
    raise AssertionError(kind)


def reply_response(reply):
    """A cm_api.Reply as a Response."""
    return Response(reply.status, reply.body, reply.content_type, list(reply.headers))


def bearer_denied():
    """401 of an [Authorize]d ASP.NET Web API action behind OWIN bearer authentication."""
    return message_response(401, BEARER_DENIED), [("WWW-Authenticate", "Bearer")]


def validate_bearer(tokens, where):
    """None (open) or a list of tokens; raise OutcomeError otherwise."""
    if tokens is None:
        return None
    if not isinstance(tokens, list) or not all(isinstance(t, str) and TOKEN_RE.match(t) for t in tokens):
        raise OutcomeError(f"{where}: must be null or an array of tokens (visible ASCII, no spaces)")
    return list(tokens)


def validate_cookie_name(name, where):
    if name is None:
        return None
    if not isinstance(name, str) or not COOKIE_NAME_RE.match(name):
        raise OutcomeError(f"{where}: must be null or a cookie name (an HTTP token, e.g. ASP.NET_SessionId)")
    return name


# --------------------------------------------------------------------------------------------------
# State: configured outcomes and the request record. Shared by every listener and handler thread.
# --------------------------------------------------------------------------------------------------

class EmulatorState:
    def __init__(self, config=None, api_disabled=False, record_path=None, bearer=None, cookie_name=None,
                 cert_dir="."):
        self._lock = threading.Lock()
        self._initial = config or {}
        self._initial_bearer = validate_bearer(bearer, "--bearer-token")
        self._initial_cookie = validate_cookie_name(cookie_name, "--session-cookie")
        self.api_disabled = api_disabled
        self._records = []
        self._seq = 0
        self._connections = {}  # scheme -> number of accepted connections
        self._record_file = open(record_path, "a", encoding="utf-8") if record_path else None
        self.cm = cm_api.CmState(cert_dir)  # the stateful CM API's data (test CA in cert_dir)
        self.reset()

    @staticmethod
    def load_config(path):
        """Read and check a --config file: {"default": <outcome>, "smartcards": {"<guid>": <outcome>}}."""
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
        if not isinstance(config, dict):
            raise OutcomeError("config: must be a JSON object")
        unknown = set(config) - {"default", "smartcards"}
        if unknown:
            raise OutcomeError(f"config: unknown key(s) {', '.join(sorted(unknown))}")
        if "default" in config:
            validate_outcome(config["default"], "config.default")
        cards = config.get("smartcards", {})
        if not isinstance(cards, dict):
            raise OutcomeError("config.smartcards: must be an object")
        for card_id, outcome in cards.items():
            if not GUID_RE.match(card_id):
                raise OutcomeError(f"config.smartcards: {card_id!r} is not a GUID")
            validate_outcome(outcome, f"config.smartcards.{card_id}")
        return {"default": config.get("default", DEFAULT_OUTCOME),
                "smartcards": {k.lower(): v for k, v in cards.items()}}

    def reset(self):
        """Back to the startup configuration (outcomes, bearer tokens, session cookie name), with an empty
        record, no issued sessions, and the stateful CM back at its seed data."""
        with self._lock:
            self._default = self._initial.get("default", DEFAULT_OUTCOME)
            self._smartcards = dict(self._initial.get("smartcards", {}))
            self._records = []
            self._bearer = None if self._initial_bearer is None else list(self._initial_bearer)
            self._cookie_name = self._initial_cookie
            self._sessions = set()
        self.cm.reset()  # back to the seed data, no faults

    # bearer tokens
    def bearer(self):
        with self._lock:
            return None if self._bearer is None else list(self._bearer)

    def set_bearer(self, tokens):
        with self._lock:
            self._bearer = None if tokens is None else list(tokens)

    def authorized(self, authorization):
        """Whether a request with this Authorization header value (None: absent) may call the CM API.
        Like OWIN's bearer middleware: scheme "Bearer" in any case, the token trimmed."""
        with self._lock:
            tokens = self._bearer
        if tokens is None:
            return True
        if not authorization:
            return False
        scheme, _, token = authorization.strip().partition(" ")
        return scheme.lower() == "bearer" and token.strip() in tokens

    # session cookie
    def cookie_name(self):
        with self._lock:
            return self._cookie_name

    def set_cookie_name(self, name):
        with self._lock:
            self._cookie_name = name

    def in_session(self, cookies):
        """cookies: [(name, value)] from the request. True if one is a session cookie we issued."""
        with self._lock:
            name = self._cookie_name
            return name is not None and any(n == name and v in self._sessions for n, v in cookies)

    def new_session(self):
        """Issue a session id; returns (cookie name, value), or None when the session cookie is off."""
        value = "".join(secrets.choice(SESSION_ID_ALPHABET) for _ in range(24))
        with self._lock:
            if self._cookie_name is None:
                return None
            self._sessions.add(value)
            return self._cookie_name, value

    def session_count(self):
        with self._lock:
            return len(self._sessions)

    def forget_sessions(self):
        with self._lock:
            count = len(self._sessions)
            self._sessions = set()
            return count

    # outcomes
    def outcome_for_smartcard(self, card_id):
        with self._lock:
            return self._smartcards.get(card_id.lower(), self._default)

    def set_smartcard(self, card_id, outcome):
        with self._lock:
            self._smartcards[card_id.lower()] = outcome

    def delete_smartcard(self, card_id):
        with self._lock:
            return self._smartcards.pop(card_id.lower(), None) is not None

    def clear_smartcards(self):
        with self._lock:
            self._smartcards.clear()

    def smartcards(self):
        with self._lock:
            return dict(self._smartcards)

    def set_default(self, outcome):
        with self._lock:
            self._default = outcome

    def default(self):
        with self._lock:
            return self._default

    # connections and records
    def next_connection(self, scheme):
        with self._lock:
            self._connections[scheme] = self._connections.get(scheme, 0) + 1
            return self._connections[scheme]

    def add_record(self, record):
        with self._lock:
            self._seq += 1
            record["seq"] = self._seq
            self._records.append(record)
            if self._record_file:
                self._record_file.write(json.dumps(record, ensure_ascii=False) + "\n")
                self._record_file.flush()
        return record

    def records(self, since=0):
        with self._lock:
            return [r for r in self._records if r["seq"] > since]

    def clear_records(self):
        with self._lock:
            self._records = []


# --------------------------------------------------------------------------------------------------
# Routing
# --------------------------------------------------------------------------------------------------

class Router:
    """Routes "METHOD /path/{param}/..." templates to handlers. Templates match case-insensitively
    (ASP.NET routing does), parameters are one path segment each, percent-decoded."""

    def __init__(self):
        self._routes = []  # (regex, {method: handler})

    def add(self, method, template, handler):
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        regex = re.compile("^" + pattern + "$", re.IGNORECASE)
        for existing, methods in self._routes:
            if existing.pattern == regex.pattern:
                methods[method] = handler
                return
        self._routes.append((regex, {method: handler}))

    def match(self, method, path):
        """Return (handler, params, allowed_methods). handler is None when the path matches no template
        (allowed_methods empty) or matches but not for this method (allowed_methods lists the others)."""
        for regex, methods in self._routes:
            m = regex.match(path)
            if m:
                params = {k: urllib.parse.unquote(v) for k, v in m.groupdict().items()}
                return methods.get(method), params, sorted(methods)
        return None, {}, []


def parse_query(raw_query):
    """Form-style decoding as ASP.NET does it: '+' becomes a space, %XX is decoded, blanks are kept."""
    return urllib.parse.parse_qs(raw_query, keep_blank_values=True, encoding="utf-8", errors="replace")


class QueryError(Exception):
    pass


def single_param(query, name):
    values = query.get(name)
    if not values:
        raise QueryError(f"The query parameter '{name}' is required.")
    if len(values) > 1:
        raise QueryError(f"The query parameter '{name}' is given {len(values)} times.")
    if values[0] == "":
        raise QueryError(f"The query parameter '{name}' is empty.")
    return values[0]


class CmApi:
    """Handlers of the CM REST API operations. Each takes (request, params) and returns a Response.
    `request` is a CmRequest; the handler never writes to the socket."""

    API = "/api/v1.0"

    def __init__(self, state):
        self.state = state
        self.router = Router()
        self.router.add("GET", self.API + "/smartcards/{id}/serverproposedpin", self.get_server_proposed_pin)
        self.router.add("GET", self.API + "/requests/{requestid}/smartcards/{id}/serverproposedpin",
                        self.get_server_proposed_pin)  # the controller table's form (AD-10)
        for method, path, handler, _operation in cm_api.routes(state.cm):  # the other 23 operations
            self.router.add(method, self.API + path, self._adapt(handler))

    @staticmethod
    def _adapt(handler):
        """A cm_api handler (answers a cm_api.Reply) as a handler of this router (answers a Response)."""
        def call(request, params):
            return reply_response(handler(request, params))
        return call

    def dispatch(self, request, cm_path):
        """cm_path: the path after the /CertificateManagement prefix."""
        if not cm_path.lower().startswith("/api/"):
            return iis_not_found()  # the CM portal pages are not emulated
        if self.state.api_disabled:
            return iis_not_found()  # Clm.WebApi.Enabled=false: the routes are not mapped
        handler, params, allowed = self.router.match(request.method, cm_path)
        if handler is None and not allowed:
            return message_response(404, "No HTTP resource was found that matches the request URI "
                                         f"'{request.url()}'.")
        if handler is None:
            response = message_response(405, "The requested resource does not support http method "
                                             f"'{request.method}'.")
            response.headers.append(("Allow", ", ".join(allowed)))
            return response
        if not request.authorized:
            # Authorization filters run after routing and before model binding: 404/405 first, then 401,
            # then the 400s of the operation.
            response, headers = bearer_denied()
            response.headers.extend(headers)
            return response
        return handler(request, params)

    # #15 GET /CertificateManagement/api/v1.0/smartcards/{id}/serverproposedpin?atr=&cardid=&challenge=
    #     (also /requests/{requestid}/smartcards/{id}/serverproposedpin)
    def get_server_proposed_pin(self, request, params):
        card_id = params["id"]
        request_id = params.get("requestid")
        if request_id is not None and not GUID_RE.match(request_id):
            return message_response(400, f"The request id '{request_id}' in the URL is not a GUID.")
        if not GUID_RE.match(card_id):
            return message_response(400, f"The smart card id '{card_id}' in the URL is not a GUID.")
        try:
            atr = single_param(request.query, "atr")
            cardid = single_param(request.query, "cardid")
            challenge = single_param(request.query, "challenge")
        except QueryError as e:
            return message_response(400, str(e))
        if not ATR_RE.match(atr):
            return message_response(400, f"The query parameter 'atr' ('{atr}') is not lowercase hexadecimal "
                                         "of even length between 4 and 66 characters.")
        if not LOWER_GUID_RE.match(cardid):
            return message_response(400, f"The query parameter 'cardid' ('{cardid}') is not a lowercase GUID "
                                         "without braces.")
        if not BASE64_RE.match(challenge):
            return message_response(400, f"The query parameter 'challenge' ('{challenge}') is not valid "
                                         "base64 (a '+' must be sent percent-encoded as %2B).")
        try:
            raw = base64.b64decode(challenge, validate=True)
        except (binascii.Error, ValueError):
            return message_response(400, f"The query parameter 'challenge' ('{challenge}') is not valid base64.")
        if len(raw) < 8:
            return message_response(400, f"The query parameter 'challenge' decodes to {len(raw)} bytes; "
                                         "at least 8 are needed.")
        # An injected fault, then a configured outcome, then a smart card bound by POST smartcards (its
        # template's PIN policy), then the default outcome. See "Proposed PIN (stateful)" in emulator.md.
        fault = self.state.cm.take_fault("GetSmartcardServerProposedPin", cm_api.fault_text(request))
        if fault is not None:
            return reply_response(fault)
        outcome = self.state.smartcards().get(card_id.lower())
        if outcome is None:
            stateful = self.state.cm.proposed_pin(card_id, request_id, cardid)
            if stateful is not None:
                return reply_response(stateful)
        return outcome_response(outcome or self.state.default())


class ControlApi:
    """The /_emulator/ control API (not part of CM)."""

    def __init__(self, state):
        self.state = state
        self.router = Router()
        r = self.router
        r.add("GET", "/_emulator/health", lambda req, p: json_response(200, {"ok": True}))
        r.add("GET", "/_emulator/requests", self.get_requests)
        r.add("DELETE", "/_emulator/requests", self.delete_requests)
        r.add("GET", "/_emulator/smartcards", lambda req, p: json_response(200, self.state.smartcards()))
        r.add("DELETE", "/_emulator/smartcards", self.delete_smartcards)
        r.add("GET", "/_emulator/smartcards/{guid}", self.get_smartcard)
        r.add("PUT", "/_emulator/smartcards/{guid}", self.put_smartcard)
        r.add("DELETE", "/_emulator/smartcards/{guid}", self.delete_smartcard)
        r.add("GET", "/_emulator/default", lambda req, p: json_response(200, self.state.default()))
        r.add("PUT", "/_emulator/default", self.put_default)
        r.add("POST", "/_emulator/reset", self.reset)
        r.add("GET", "/_emulator/auth", lambda req, p: json_response(200, {"bearer": self.state.bearer()}))
        r.add("PUT", "/_emulator/auth", self.put_auth)
        r.add("GET", "/_emulator/cookie", self.get_cookie)
        r.add("PUT", "/_emulator/cookie", self.put_cookie)
        r.add("DELETE", "/_emulator/sessions", self.delete_sessions)
        r.add("GET", "/_emulator/smartcards/{guid}/state", self.get_smartcard_state)
        r.add("GET", "/_emulator/faults", lambda req, p: json_response(200, self.state.cm.get_faults()))
        r.add("PUT", "/_emulator/faults", self.put_faults)
        r.add("DELETE", "/_emulator/faults", self.delete_faults)

    def dispatch(self, request):
        handler, params, allowed = self.router.match(request.method, request.path)
        if handler is None and not allowed:
            return json_response(404, {"error": f"no control endpoint {request.path}"})
        if handler is None:
            return json_response(405, {"error": f"{request.method} not allowed; use {', '.join(allowed)}"},
                                 [("Allow", ", ".join(allowed))])
        return handler(request, params)

    @staticmethod
    def _outcome_from_body(request):
        try:
            return validate_outcome(json.loads(request.body.decode("utf-8")), "body"), None
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            return None, json_response(400, {"error": f"body is not JSON: {e}"})
        except OutcomeError as e:
            return None, json_response(400, {"error": str(e)})

    @staticmethod
    def _guid(params):
        guid = params["guid"]
        if not GUID_RE.match(guid):
            return None, json_response(400, {"error": f"{guid!r} is not a GUID"})
        return guid.lower(), None

    def get_requests(self, request, params):
        try:
            since = int(request.query.get("since", ["0"])[0])
        except ValueError:
            return json_response(400, {"error": "since must be an integer"})
        return json_response(200, self.state.records(since))

    def delete_requests(self, request, params):
        self.state.clear_records()
        return json_response(200, {"ok": True})

    def get_smartcard(self, request, params):
        guid, error = self._guid(params)
        if error:
            return error
        outcome = self.state.smartcards().get(guid)
        if outcome is None:
            return json_response(404, {"error": f"no outcome configured for {guid}"})
        return json_response(200, outcome)

    def put_smartcard(self, request, params):
        guid, error = self._guid(params)
        if error:
            return error
        outcome, error = self._outcome_from_body(request)
        if error:
            return error
        self.state.set_smartcard(guid, outcome)
        return json_response(200, {"ok": True})

    def delete_smartcard(self, request, params):
        guid, error = self._guid(params)
        if error:
            return error
        return json_response(200, {"ok": True, "existed": self.state.delete_smartcard(guid)})

    def delete_smartcards(self, request, params):
        self.state.clear_smartcards()
        return json_response(200, {"ok": True})

    def put_default(self, request, params):
        outcome, error = self._outcome_from_body(request)
        if error:
            return error
        self.state.set_default(outcome)
        return json_response(200, {"ok": True})

    def reset(self, request, params):
        self.state.reset()
        return json_response(200, {"ok": True})

    @staticmethod
    def _object_body(request, key):
        """Parse a body that must be {key: value}; returns (value, None) or (None, error response)."""
        try:
            value = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            return None, json_response(400, {"error": f"body is not JSON: {e}"})
        if not isinstance(value, dict) or set(value) != {key}:
            return None, json_response(400, {"error": f"body must be an object with exactly the key \"{key}\""})
        return value[key], None

    def put_auth(self, request, params):
        tokens, error = self._object_body(request, "bearer")
        if error:
            return error
        try:
            self.state.set_bearer(validate_bearer(tokens, "bearer"))
        except OutcomeError as e:
            return json_response(400, {"error": str(e)})
        return json_response(200, {"ok": True})

    def get_cookie(self, request, params):
        return json_response(200, {"name": self.state.cookie_name(), "sessions": self.state.session_count()})

    def put_cookie(self, request, params):
        name, error = self._object_body(request, "name")
        if error:
            return error
        try:
            self.state.set_cookie_name(validate_cookie_name(name, "name"))
        except OutcomeError as e:
            return json_response(400, {"error": str(e)})
        return json_response(200, {"ok": True})

    def delete_sessions(self, request, params):
        return json_response(200, {"ok": True, "forgotten": self.state.forget_sessions()})

    def get_smartcard_state(self, request, params):
        guid, error = self._guid(params)
        if error:
            return error
        card = self.state.cm.smartcard_state(guid)
        if card is None:
            return json_response(404, {"error": f"no smart card {guid} in the emulated CM"})
        return json_response(200, card)

    def put_faults(self, request, params):
        try:
            faults = cm_api.validate_faults(json.loads(request.body.decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            return json_response(400, {"error": f"body is not JSON: {e}"})
        except ValueError as e:
            return json_response(400, {"error": str(e)})
        self.state.cm.set_faults(faults)
        return json_response(200, {"ok": True})

    def delete_faults(self, request, params):
        self.state.cm.clear_faults()
        return json_response(200, {"ok": True})


# --------------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------------

class CmRequest:
    """One parsed request, as handed to the API handlers."""

    def __init__(self, handler, body):
        self.method = handler.command
        split = urllib.parse.urlsplit(handler.path)
        self.path = split.path
        self.raw_query = split.query
        self.query = parse_query(split.query)
        self.headers = {}
        for name, value in handler.headers.items():
            name = name.lower()
            self.headers[name] = self.headers[name] + ", " + value if name in self.headers else value
        self.cookies = []  # [(name, value)] from every Cookie header, in order
        for header in handler.headers.get_all("Cookie") or []:
            for pair in header.split(";"):
                name, eq, value = pair.strip().partition("=")
                if eq and name:
                    self.cookies.append((name.strip(), value.strip().strip('"')))
        self.body = body
        self.tls = handler.server.scheme == "https"
        self.host_header = handler.headers.get("Host")
        self.host = self.host_header or "%s:%d" % handler.server.server_address[:2]
        self.authorized = True  # set by Handler._dispatch

    def url(self):
        query = "?" + self.raw_query if self.raw_query else ""
        return f"{'https' if self.tls else 'http'}://{self.host}{self.path}{query}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body in one write, sent at once (no Nagle delay)
    wbufsize = 64 * 1024  # status line, headers and body leave in one write
    timeout = 120  # idle keep-alive connections are closed after this (IIS default); see --idle-timeout
    max_body = 16 * 1024 * 1024

    # set on the subclass made by make_handler_class()
    state = None
    cm_api = None
    control_api = None
    verbose = False

    def version_string(self):
        return SERVER_HEADER

    def setup(self):
        super().setup()
        self.connection_id = self.state.next_connection(self.server.name)
        self.local_addr = format_address(self.connection.getsockname())
        self.client_cert_subject = None
        if isinstance(self.connection, ssl.SSLSocket):
            try:
                self.connection.do_handshake()  # in this connection's thread, not the accept loop
            except (ssl.SSLError, OSError):
                self._close_gently()
                raise
            if self.server.client_cert:
                self.client_cert_subject = rfc4514_name(self.connection.getpeercert().get("subject", ()))

    def _close_gently(self):
        """After a failed handshake: send FIN after our alert and read what the client still sends, so the
        kernel does not answer that data with an RST that would overtake the alert. With TLS 1.3 a client
        sends its request before the server has checked its certificate, and must still get to read
        "certificate required" / "unknown ca" (curl: 56) rather than a reset (curl: 55 or 56 "reset")."""
        try:
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(1.0)
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline and self.connection.recv(65536):
                pass
        except OSError:
            pass

    def handle(self):
        try:
            super().handle()
        except (ConnectionError, TimeoutError, ssl.SSLError):
            pass  # the client went away or broke TLS: nothing to answer

    def handle_expect_100(self):
        ok = super().handle_expect_100()
        self.wfile.flush()  # wfile is buffered; "100 Continue" must go now
        return ok

    def log_request(self, code="-", size="-"):
        pass  # our own line is written by _log()

    def log_message(self, format, *args):
        if self.verbose:
            sys.stderr.write(f"{self.address_string()} {self.server.name}#{getattr(self, 'connection_id', '?')} "
                             f"{format % args}\n")

    # every method goes through _dispatch
    def do_GET(self):
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def _dispatch(self):
        started = time.monotonic()
        body_error = None
        try:
            body = rigserver.read_body(self.rfile, self.headers, self.max_body)
        except rigserver.BadRequestBody as e:
            body, body_error = b"", str(e)
            self.close_connection = True  # the framing is lost: we cannot find the next request
        request = CmRequest(self, body)
        control = request.path.startswith(CONTROL_PREFIX)
        in_cm = request.path.lower() == CM_PREFIX or request.path.lower().startswith(CM_PREFIX + "/")
        session = False
        if not control:
            request.authorized = self.state.authorized(request.headers.get("authorization"))
            session = self.state.in_session(request.cookies)
        try:
            if body_error:
                response = message_response(400, body_error)
            elif control:
                response = self.control_api.dispatch(request)
            elif in_cm:
                response = self.cm_api.dispatch(request, request.path[len(CM_PREFIX):])
            else:
                response = iis_not_found()
        except Exception:  # a bug in the emulator: say so instead of dropping the connection
            traceback.print_exc()
            response = message_response(500, "emulator internal error:\n" + traceback.format_exc())
        if in_cm and not control and not session and not response.close:
            issued = self.state.new_session()
            if issued:
                response.headers.append(("Set-Cookie", f"{issued[0]}={issued[1]}; path={COOKIE_PATH}; HttpOnly"
                                                       + ("; secure" if request.tls else "")))
        if not control:
            # Recorded before any delay, so a test sees a request whose answer is still pending.
            self.state.add_record({
                "seq": 0, "connection": self.connection_id, "tls": request.tls, "listener": self.server.name,
                "local_addr": self.local_addr, "host": request.host_header,
                "method": request.method, "path": request.path, "raw_query": request.raw_query,
                "query": request.query, "headers": request.headers,
                "body": body.decode("utf-8", errors="replace"),
                "authorized": request.authorized, "session": session,
                "client_cert_subject": self.client_cert_subject,
                "status": None if response.close else response.status,
                "time": time.time(),
            })
        if response.delay:
            time.sleep(response.delay)  # other connections keep being served by their own threads
        self._send(response)
        self._log(request, response, started, control)

    def _send(self, response):
        if response.close:
            self.close_connection = True
            if response.reset:
                # SO_LINGER 0 and a close without shutdown(): the kernel sends RST instead of FIN. The
                # descriptor really closes when finish() closes rfile/wfile.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            return
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        no_body = response.status in (204, 304) or 100 <= response.status < 200
        if not no_body:
            if response.content_type:
                self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
        self.send_header("X-Powered-By", "ASP.NET")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not no_body and self.command != "HEAD":
            self.wfile.write(response.body)
        self.wfile.flush()

    def _log(self, request, response, started, control):
        if not self.verbose:
            return
        query = "&".join(
            f"{k}={mask(v)}" if k.lower() == "challenge" else p
            for p in request.raw_query.split("&") if p
            for k, _, v in [p.partition("=")]
        )
        auth = request.headers.get("authorization")
        auth = f" auth={auth.split(' ')[0]} {mask(auth.partition(' ')[2], 0)}" if auth else ""
        status = "closed" if response.close else str(response.status)
        sys.stderr.write(
            f"{time.strftime('%H:%M:%S')} {self.server.name}#{self.connection_id} {request.method} "
            f"{request.path}{'?' + query if query else ''} -> {status} "
            f"{(time.monotonic() - started) * 1000:.1f}ms{auth}{' [control]' if control else ''}\n")


def mask(value, keep=4):
    return value[:keep] + f"…({len(value)})" if len(value) > keep else value


def format_address(sockname):
    """'127.0.0.1:8443' or '[::1]:8443'."""
    host, port = sockname[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


RDN_SHORT_NAMES = {
    "commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU", "countryName": "C",
    "localityName": "L", "stateOrProvinceName": "ST", "streetAddress": "STREET", "domainComponent": "DC",
    "userId": "UID", "emailAddress": "emailAddress", "serialNumber": "serialNumber",
}


def rfc4514_name(subject):
    """ssl's getpeercert() subject (RDNs in certificate order) as an RFC 4514 string, most specific RDN
    first: 'CN=kiosk01,O=Example'."""
    def esc(value):
        value = re.sub(r'([,+"\\<>;=])', r"\\\1", value)
        if value[:1] in ("#", " "):
            value = "\\" + value
        if value.endswith(" "):
            value = value[:-1] + "\\ "
        return value
    return ",".join("+".join(f"{RDN_SHORT_NAMES.get(k, k)}={esc(v)}" for k, v in rdn) for rdn in reversed(subject))


def make_handler_class(state, verbose, idle_timeout):
    return type("CmHandler", (Handler,), {
        "state": state, "cm_api": CmApi(state), "control_api": ControlApi(state),
        "verbose": verbose, "timeout": idle_timeout,
    })


class Listener(rigserver.Listener):
    """A rigserver.Listener with a name, whose TLS handshake (in Handler.setup) may require a client
    certificate."""

    def __init__(self, address, handler_class, scheme, ssl_context=None, name=None, client_cert=False):
        self.name = name or scheme  # "http", "https", or "https_<variant>": port-file key, record "listener"
        self.client_cert = client_cert  # the TLS handshake requires a client certificate
        super().__init__(address, handler_class, scheme, ssl_context)


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------

fail = rigserver.make_fail("cm_emulator")  # a startup error: message on stderr, exit status 2


def check_bind(addresses, allow_remote):
    for address in addresses:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            fail(f"--bind needs an IP address, not {address!r}")
        if not ip.is_loopback and not allow_remote:
            fail(f"refusing to listen on non-loopback address {address} "
                             "(use --allow-remote)")


def variant_files(variant, cert_dir, cert, key):
    """(certificate, key, client CA or None) of a --tls-variant listener."""
    if variant == "expired":
        return os.path.join(cert_dir, "expired.pem"), os.path.join(cert_dir, "expired.key"), None
    if variant == "wrong-host":
        return os.path.join(cert_dir, "wronghost.pem"), os.path.join(cert_dir, "wronghost.key"), None
    if variant == "client-cert":
        return cert, key, os.path.join(cert_dir, "client-ca.pem")
    raise AssertionError(variant)


def start_listeners(binds, port, handler_class, scheme, ssl_context=None, name=None, client_cert=False):
    """Listen on every bind address with one port number (port 0: the first bind picks it)."""
    for attempt in range(20):
        listeners = []
        try:
            chosen = port
            for address in binds:
                listener = Listener((address, chosen), handler_class, scheme, ssl_context, name, client_cert)
                listeners.append(listener)
                chosen = listener.server_address[1]
            return listeners
        except OSError:
            for listener in listeners:
                listener.server_close()
            if port != 0 or len(binds) == 1 or attempt == 19:
                raise
    raise AssertionError


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="cm_emulator.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Emulator of the MIM Certificate Management REST API (/CertificateManagement/api/v1.0),
for tests and for development without a Windows CM deployment. Serves HTTP and/or HTTPS
on loopback, checks requests strictly, answers configurable outcomes per smart card and
records every request. Control API under /_emulator/; see tests/rig/emulator.md.""",
        epilog="""\
example:
  tests/rig/make-certs.sh /tmp/cm
  %(prog)s --https-port 8443 --cert-dir /tmp/cm --verbose &
  E=https://localhost:8443 SC=17cf063d-e337-4aa9-a822-346554ddd3c9
  curl --cacert /tmp/cm/ca.pem "$E/CertificateManagement/api/v1.0/smartcards/$SC/serverproposedpin\\
?atr=3b8d0180fba000000397425446590301c8&cardid=bc88f13f-83ba-4037-8262-46eba1291c6e\\
&challenge=1hFD%%2Bcz%%2F0so%%3D"
  curl --cacert /tmp/cm/ca.pem -X PUT -d '{"outcome":"none"}' "$E/_emulator/smartcards/$SC"
""")
    net = parser.add_argument_group("listeners")
    net.add_argument("--http-port", type=int, metavar="N", help="serve plain HTTP on port N (0: any free port)")
    net.add_argument("--https-port", type=int, metavar="N", help="serve HTTPS on port N (0: any free port)")
    net.add_argument("--bind", action="append", metavar="ADDR",
                     help="IP address to listen on; repeat for several, e.g. 127.0.0.1 and ::1, which then "
                          "share each port number (default: 127.0.0.1)")
    net.add_argument("--allow-remote", action="store_true", help="allow non-loopback --bind addresses")
    net.add_argument("--cert-dir", default=".", metavar="DIR",
                     help="directory made by make-certs.sh, for the --cert/--key defaults and the test CA "
                          "(ca.pem, ca.key) that issues certificates (default: .)")
    net.add_argument("--cert", metavar="PEM", help="server certificate (chain) (default: CERT_DIR/server.pem)")
    net.add_argument("--key", metavar="PEM", help="server private key (default: CERT_DIR/server.key)")
    net.add_argument("--tls-max", choices=["1.2", "1.3"], default="1.3",
                     help="highest TLS version offered (default: 1.3; the minimum is always 1.2)")
    net.add_argument("--idle-timeout", type=float, default=120.0, metavar="SEC",
                     help="close keep-alive connections idle this long (default: 120, as IIS)")
    net.add_argument("--tls-variant", action="append", choices=TLS_VARIANTS, default=[], metavar="NAME",
                     help="add an HTTPS listener on a free port with a special setup: expired (an expired "
                          "certificate from the test CA), wrong-host (a certificate for wrong.example only), "
                          "client-cert (requires a client certificate from CERT_DIR/client-ca.pem); its port "
                          "is https_<name> in the port file (- as _). Repeatable")
    net.add_argument("--port-file", metavar="FILE",
                     help='once listening, write {"http":PORT,"https":PORT,"pid":PID} to FILE atomically '
                          "(removed again at a clean shutdown)")
    behaviour = parser.add_argument_group("behaviour")
    behaviour.add_argument("--config", metavar="FILE",
                           help='JSON outcomes: {"default": <outcome>, "smartcards": {"<guid>": <outcome>}}')
    behaviour.add_argument("--api-disabled", action="store_true",
                           help="answer 404 to every /CertificateManagement/api/... URL, like a CM with "
                                "Clm.WebApi.Enabled=false")
    behaviour.add_argument("--record", metavar="FILE", help="also append every CM request as a JSON line to FILE")
    behaviour.add_argument("--bearer-token", action="append", metavar="TOKEN",
                           help="require Authorization: Bearer TOKEN on CM API calls (repeat to accept several); "
                                "otherwise 401 with WWW-Authenticate: Bearer")
    behaviour.add_argument("--session-cookie", metavar="NAME",
                           help="issue a session cookie NAME (e.g. ASP.NET_SessionId) on CM responses to "
                                "requests without a valid one")
    behaviour.add_argument("-v", "--verbose", action="store_true",
                           help="log one line per request to stderr (Authorization values masked)")
    behaviour.add_argument("-q", "--quiet", action="store_true", help="do not print the listening addresses")
    args = parser.parse_args(argv)
    if args.http_port is None and args.https_port is None and not args.tls_variant:
        parser.error("give --http-port, --https-port and/or --tls-variant")
    for token in args.bearer_token or []:
        if not TOKEN_RE.match(token):
            parser.error(f"--bearer-token {token!r}: a token is visible ASCII without spaces")
    if args.session_cookie is not None and not COOKIE_NAME_RE.match(args.session_cookie):
        parser.error(f"--session-cookie {args.session_cookie!r}: not a cookie name")
    args.tls_variant = list(dict.fromkeys(args.tls_variant))  # once each, in the order given
    for port in (args.http_port, args.https_port):
        if port is not None and not 0 <= port <= 65535:
            parser.error(f"bad port {port}")
    if args.idle_timeout <= 0:
        parser.error("--idle-timeout must be positive")
    args.bind = args.bind or ["127.0.0.1"]
    return args


def main(argv=None):
    args = parse_args(argv)
    check_bind(args.bind, args.allow_remote)

    config = {}
    if args.config:
        try:
            config = EmulatorState.load_config(args.config)
        except (OSError, ValueError) as e:  # json.JSONDecodeError and OutcomeError are ValueErrors
            fail(f"--config {args.config}: {e}")
    try:
        state = EmulatorState(config, args.api_disabled, args.record, args.bearer_token, args.session_cookie,
                              args.cert_dir)
    except OSError as e:
        fail(f"--record: {e}")
    handler_class = make_handler_class(state, args.verbose, args.idle_timeout)

    listeners = []
    ports = {"http": None, "https": None, "pid": os.getpid()}
    try:
        if args.http_port is not None:
            listeners += start_listeners(args.bind, args.http_port, handler_class, "http")
            ports["http"] = listeners[-1].server_address[1]
        if args.https_port is not None:
            cert = args.cert or os.path.join(args.cert_dir, "server.pem")
            key = args.key or os.path.join(args.cert_dir, "server.key")
            try:
                context = rigserver.make_ssl_context(cert, key, args.tls_max)
            except (OSError, ssl.SSLError) as e:
                fail(f"cannot load {cert} / {key}: {e} "
                                 "(make them with tests/rig/make-certs.sh DIR, then --cert-dir DIR)")
            listeners += start_listeners(args.bind, args.https_port, handler_class, "https", context)
            ports["https"] = listeners[-1].server_address[1]
        for variant in args.tls_variant:
            name = "https_" + variant.replace("-", "_")
            cert, key, client_ca = variant_files(
                variant, args.cert_dir, args.cert or os.path.join(args.cert_dir, "server.pem"),
                args.key or os.path.join(args.cert_dir, "server.key"))
            try:
                context = rigserver.make_ssl_context(cert, key, args.tls_max, client_ca)
            except (OSError, ssl.SSLError) as e:
                fail(f"--tls-variant {variant}: cannot load {cert} / {key}"
                     f"{' / ' + client_ca if client_ca else ''}: {e} "
                     "(make them with tests/rig/make-certs.sh DIR, then --cert-dir DIR)")
            listeners += start_listeners(args.bind, 0, handler_class, "https", context, name, bool(client_ca))
            ports[name] = listeners[-1].server_address[1]
    except OSError as e:
        for listener in listeners:
            listener.server_close()
        fail(f"cannot listen: {e}")

    stop = rigserver.serve(listeners, fail, args.port_file, ports,
                           thread_name=lambda lst: f"{lst.name} {lst.server_address[0]}")
    if not args.quiet:
        for lst in listeners:
            host = lst.server_address[0]
            host = f"[{host}]" if ":" in host else host
            variant = f" ({lst.name})" if lst.name != lst.scheme else ""
            sys.stderr.write(f"cm_emulator: listening on {lst.scheme}://{host}:{lst.server_address[1]}"
                             f"/CertificateManagement/{variant}\n")
        sys.stderr.flush()

    rigserver.wait_until_set(stop, 0.2)
    rigserver.shutdown(listeners)
    rigserver.remove_port_file(args.port_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
