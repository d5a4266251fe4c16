"""Stateful part of the CM emulator: the whole MIM CM REST API (24 operations) over an in-memory CM.

cm_emulator.py owns the HTTP plumbing, the outcomes per smart card, authentication and the record; it
registers the routes of this module (CmApiRoutes.routes()) in its router and keeps one CmState. This
module holds:

* CmState: profile templates with their workflow policies and smart card configurations, requests,
  smart cards, software profiles and certificates, seeded with the linked example data of the MIM CM
  REST API reference (so a GET of a documented example id answers the documented example body) and
  with test templates for every PIN policy x admin-key diversification combination. Thread-safe.
* CmApiRoutes: one handler per operation. Handlers check the request strictly (400 {"Message":...},
  415 for a body that is not application/json), apply injected faults, then act on the state.
* The 3DES challenge-response of the admin key and a test CA that issues certificates with openssl.

See tests/rig/emulator.md ("Stateful CM API"). Python 3 standard library, pycryptodome (Debian's
python3-pycryptodome, for DES) and the openssl command.
"""

import base64
import copy
import datetime
import hashlib
import hmac
import json
import os
import re
import secrets
import subprocess
import tempfile
import threading
import uuid

JSON_TYPE = "application/json; charset=utf-8"
ZERO_GUID = "00000000-0000-0000-0000-000000000000"
NEVER = "0001-01-01T00:00:00"  # DateTime.MinValue as JSON.NET writes it (no zone)

GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
LOWER_GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
ATR_RE = re.compile(r"^(?:[0-9a-f]{2}){2,33}\Z")  # lowercase hex, even length, 4..66 characters
BASE64_RE = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\Z")

# The caller. Every request, card and certificate of the emulated CM belongs to this user (the user of
# the reference's examples); ?targetuser=current selects it.
CURRENT_USER = "8f1590dc-d932-4b66-8e68-2e91c5880780"
REQUESTER_NAME = "CONTOSO\\mimcm-test"  # X509ClmCertificate.RequesterName of issued certificates

# Secret of the admin-key diversification: key = HMAC-SHA256(secret, cardid as lowercase text)[:24].
# CM's real algorithm is not public; this one is fixed so that tests can compute the expected key.
DIVERSIFICATION_SECRET = b"mimcm CM emulator admin key diversification secret"

# ---------------------------------------------------------------------------------------------------
# Enumerations. Only RequestType 1/5, RequestStatus 3/8, SmartcardStatus 2/3/6 and Profile status 2 are
# seen in the reference; the other numbers are this emulator's choice (see emulator.md).
# ---------------------------------------------------------------------------------------------------

# Approved 3 and Completed 8 are the documented examples (a request just created and auto-approved has
# Status 3, one after PUT "Completed" Status 8); the client names them mimcm::request_status::approved and ::completed.
REQUEST_STATUS = {"None": 0, "Pending": 1, "Denied": 2, "Approved": 3, "Executing": 4, "Failed": 5,
                  "Canceled": 6, "Abandoned": 7, "Completed": 8}
REQUEST_STATUS_NAME = {v: k for k, v in REQUEST_STATUS.items()}
REQUEST_STATUS_FILTER = ("Approved", "Canceled", "Completed", "Denied", "Executing", "Failed", "None", "Pending")
FINAL_REQUEST_STATUSES = {2, 5, 6, 7, 8}

REQUEST_TYPE = {"Enroll": 1, "Duplicate": 2, "OnlineUpdate": 3, "Recover": 4, "Unblock": 5, "Renew": 6,
                "Retire": 7, "Revoke": 8, "Reinstate": 9, "RecoverOnBehalf": 10, "OfflineUnblock": 11,
                "TemporaryCards": 12}
SMARTCARD_ONLY_TYPES = {"Unblock", "OfflineUnblock", "Retire", "TemporaryCards"}
# Workflow policy types ({type} of GetWorkflowPolicy): the request types, with TemporaryEnroll.
POLICY_TYPES = ("Enroll", "Duplicate", "OfflineUnblock", "OnlineUpdate", "Renew", "Recover", "RecoverOnBehalf",
                "Reinstate", "Retire", "Revoke", "TemporaryEnroll", "Unblock")
POLICY_OF_REQUEST_TYPE = {t: ("TemporaryEnroll" if t == "TemporaryCards" else t) for t in REQUEST_TYPE}

SMARTCARD_STATUS = {"None": 0, "New": 1, "Assigned": 2, "Active": 3, "Suspended": 4, "Disabled": 5, "Retired": 6}
SMARTCARD_STATUS_NAME = {v: k for k, v in SMARTCARD_STATUS.items()}
SMARTCARD_OPERATIONS = {0: [], 1: ["retire"], 2: ["retire"], 3: ["renew", "unblock", "retire"],
                        4: ["reinstate", "retire"], 5: ["retire"], 6: []}

PROFILE_STATUS_FILTER = ("Active", "Approved", "Canceled", "Completed", "Denied", "Executing", "Failed",
                         "None", "Pending")
PROFILE_ACTIVE = 2

# The 24 operations of endpoints.tsv (fault injection uses these names), plus the undocumented
# GET profiletemplates/{id}.
OPERATIONS = (
    "ListProfileTemplates", "GetWorkflowPolicy", "GetSmartcardPolicy", "CreateRequest", "ListRequests",
    "GetRequest", "SetRequestStatus", "GetCertificateRequestGenerationOptions", "GetCertificateResponses",
    "AssignSmartcardToRequest", "FindSmartcards", "GetSmartcard", "GetSmartcardAuthenticationResponse",
    "GetSmartcardDiversifiedAdminKey", "GetSmartcardServerProposedPin", "UpdateSmartcardStatus", "ListProfiles",
    "GetProfile", "ListRequestProfiles", "GetProfileOperations", "GetSmartcardOperations",
    "GetProfileCertificates", "GetSmartcardCertificates", "GetUserCertificates", "GetProfileTemplate",
)

# UserPinOption: the member names of Microsoft.Clm.Shared.ProfileTemplates.UserPinOption. The server
# proposes (serverproposedpin answers 200) for every option but UserProvided and None.
PIN_USER = "UserProvided"
PIN_SERVER = "ServerDistributed"


# ---------------------------------------------------------------------------------------------------
# Replies and errors
# ---------------------------------------------------------------------------------------------------

class Reply:
    """What a handler answers: status, body bytes, content type, extra headers. cm_emulator.py turns it
    into its Response."""

    def __init__(self, status, body=b"", content_type=None, headers=None):
        self.status = status
        self.body = body.encode("utf-8") if isinstance(body, str) else body
        self.content_type = content_type
        self.headers = headers or []


def json_reply(status, value):
    return Reply(status, json.dumps(value, ensure_ascii=False, separators=(",", ":")), JSON_TYPE)


def message_reply(status, message):
    return json_reply(status, {"Message": message})


def no_content():
    return Reply(204)


def error_reply(status, message=None, correlation_id=None):
    """An injected fault: 500 in CM's correlation-id form, anything else {"Message":...}."""
    if status == 500 and message is None:
        cid = correlation_id or str(uuid.uuid4())
        return message_reply(500, "An error has occurred. Contact your administrator and provide the "
                                  f"correlation ID {cid}.")
    defaults = {401: "Authorization has been denied for this request.", 403: "Access is denied.",
                404: "Not found.", 503: "Service Unavailable"}
    return message_reply(status, message or defaults.get(status, "An error has occurred."))


class ApiError(Exception):
    """Raised by a handler: answered as {"Message": message} with this status."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def bad(message):
    return ApiError(400, message)


def forbidden(message):
    return ApiError(403, message)


# ---------------------------------------------------------------------------------------------------
# Formatting helpers
# ---------------------------------------------------------------------------------------------------

def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def json_net_utc(moment):
    """A UTC DateTime as JSON.NET writes it: '2015-07-07T23:36:21.93Z' (fraction without trailing
    zeros, milliseconds here)."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{moment.microsecond // 1000:03d}".rstrip("0")
    return text + ("." + fraction if fraction else "") + "Z"


def base64_lines(data):
    """Base64 with CRLF after every 64 characters, the last line too (as in the reference's Pkcs7)."""
    text = base64.b64encode(data).decode("ascii")
    return "".join(text[i:i + 64] + "\r\n" for i in range(0, len(text), 64))


def security_descriptor(owner_rid):
    """An SDDL string like the reference's, with its trailing NUL characters."""
    sid = f"S-1-5-21-2127521184-1604012920-1887927527-{owner_rid}"
    return (f"O:{sid}D:(A;;SWRC;;;S-1-5-21-2127521184-1604012920-1887927527-5094533)(A;;RC;;;WD)"
            f"(A;;CCDCLCSWSDRC;;;{sid})" + "\u0000" * 6)


def enum_value(text, names, what):
    """Case-insensitive enum name (as .NET's Enum.Parse(ignoreCase) in model binding), canonical name."""
    for name in names:
        if isinstance(text, str) and name.lower() == text.lower():
            return name
    raise bad(f"{what} '{text}' is not valid. Valid values: {', '.join(names)}.")


# ---------------------------------------------------------------------------------------------------
# Cryptography: 3DES admin-key challenge-response and the diversified key
# ---------------------------------------------------------------------------------------------------

def tdes_ede_encrypt(key, block):
    """3DES-EDE (ECB, one or more 8-byte blocks) with a 24-byte key, built from single DES so that
    degenerate keys (all zero, K1 == K2) work too; pycryptodome's DES3 refuses them."""
    from Cryptodome.Cipher import DES  # Debian: python3-pycryptodome
    if len(key) != 24 or len(block) % 8:
        raise ValueError("3DES needs a 24-byte key and whole 8-byte blocks")
    k1, k2, k3 = key[:8], key[8:16], key[16:]
    data = DES.new(k1, DES.MODE_ECB).encrypt(block)
    data = DES.new(k2, DES.MODE_ECB).decrypt(data)
    return DES.new(k3, DES.MODE_ECB).encrypt(data)


# The reference's diversifiedkey example: card id bc88f13f-... has the key mBVA+HopB/gc+6FuKsQqx+OX01hK1WQI.
DOCS_DIVERSIFIED_KEYS = {"bc88f13f-83ba-4037-8262-46eba1291c6e": base64.b64decode("mBVA+HopB/gc+6FuKsQqx+OX01hK1WQI")}


def diversified_key(card_id):
    """The diversified admin key of a card: a function of its card id only."""
    card_id = card_id.lower()
    if card_id in DOCS_DIVERSIFIED_KEYS:
        return DOCS_DIVERSIFIED_KEYS[card_id]
    return hmac.new(DIVERSIFICATION_SECRET, card_id.encode("ascii"), hashlib.sha256).digest()[:24]


# ---------------------------------------------------------------------------------------------------
# Test CA (make-certs.sh's ca.pem / ca.key) issuing certificates with the openssl command
# ---------------------------------------------------------------------------------------------------

class IssueError(Exception):
    """The CA refused a certificate request (becomes that certificate's Error)."""


class CaMissing(Exception):
    """ca.pem / ca.key are not in --cert-dir (the emulator's set-up, not the client, is at fault)."""


def run_openssl(args, cwd):
    done = subprocess.run(["openssl"] + args, cwd=cwd, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        # openssl prints progress ("Certificate request self-signature ok") before the error.
        lines = [line for line in done.stderr.strip().splitlines() if "self-signature" not in line]
        raise IssueError("; ".join(lines[:6]) if lines else "openssl failed")
    return done.stdout


def issue_certificate(cert_dir, csr_der, template_cn):
    """Sign a PKCS#10 request (DER) with the test CA. Returns (pkcs7_der, info) where info has the
    X509ClmCertificate fields of the new certificate."""
    cert_dir = os.path.abspath(cert_dir)  # openssl runs in a temporary directory
    ca_pem, ca_key = os.path.join(cert_dir, "ca.pem"), os.path.join(cert_dir, "ca.key")
    if not (os.path.isfile(ca_pem) and os.path.isfile(ca_key)):
        raise CaMissing(f"the test CA {ca_pem} / {ca_key} is missing (make it with tests/rig/make-certs.sh "
                        "DIR and start the emulator with --cert-dir DIR)")
    serial = secrets.token_bytes(19)
    serial = bytes([serial[0] & 0x7F | 0x10]) + serial[1:]  # positive, 19 bytes like a Windows CA's
    with tempfile.TemporaryDirectory(prefix="cm-emulator-") as tmp:
        with open(os.path.join(tmp, "csr.der"), "wb") as f:
            f.write(csr_der)
        with open(os.path.join(tmp, "ext.cnf"), "w") as f:
            f.write("basicConstraints = critical, CA:FALSE\n"
                    "keyUsage = critical, digitalSignature, keyEncipherment\n"
                    "extendedKeyUsage = clientAuth, msSmartcardLogin\n"
                    "subjectKeyIdentifier = hash\n"
                    "authorityKeyIdentifier = keyid\n")
        subject = run_openssl(["req", "-inform", "DER", "-in", "csr.der", "-noout", "-subject",
                               "-nameopt", "RFC2253"], tmp).strip()
        args = ["x509", "-req", "-inform", "DER", "-in", "csr.der", "-CA", ca_pem, "-CAkey", ca_key,
                "-set_serial", "0x" + serial.hex(), "-days", "1", "-sha256", "-extfile", "ext.cnf",
                "-out", "leaf.pem"]
        if subject in ("subject=", ""):
            args += ["-subj", "/CN=mimcm-test"]  # a request without a subject, as the Modern App sends
        run_openssl(args, tmp)
        run_openssl(["crl2pkcs7", "-nocrl", "-certfile", "leaf.pem", "-certfile", ca_pem, "-outform", "DER",
                     "-out", "p7.der"], tmp)
        dates = run_openssl(["x509", "-in", "leaf.pem", "-noout", "-startdate", "-enddate", "-dateopt",
                             "iso_8601"], tmp)
        issuer_cn = run_openssl(["x509", "-in", ca_pem, "-noout", "-subject", "-nameopt",
                                 "multiline,-space_eq"], tmp)
        with open(os.path.join(tmp, "p7.der"), "rb") as f:
            pkcs7 = f.read()
        with open(os.path.join(tmp, "leaf.pem")) as f:
            pem = f.read()
    der = base64.b64decode("".join(line for line in pem.splitlines() if line and not line.startswith("-----")))
    values = dict(line.split("=", 1) for line in dates.strip().splitlines())
    cn = re.search(r"commonName=(.*)", issuer_cn)

    def iso(text):  # "2026-11-27 04:20:19Z" -> "2026-11-27T04:20:19"
        return text.strip().rstrip("Z").replace(" ", "T")

    info = {
        "IsKeyHistory": False, "ArchivedOnCa": False, "CertificateType": 1, "TemplateCommonName": template_cn,
        "SerialNumber": serial.hex().upper(), "Thumbprint": hashlib.sha1(der).hexdigest().upper(),
        "NotAfter": iso(values["notAfter"]), "NotBefore": iso(values["notBefore"]),
        "Issuer": "localhost\\" + (cn.group(1).strip() if cn else "mimcm Test CA"),
        "RequesterName": REQUESTER_NAME, "Status": 0,
    }
    return pkcs7, info


# ---------------------------------------------------------------------------------------------------
# Seed data: the reference's linked examples, the walkthrough, and the test templates
# ---------------------------------------------------------------------------------------------------

DOCS_ATR = "3b8d0180fba000000397425446590301c8"
DOCS_TEMPLATE = "a039b4d0-5ce8-4eff-8651-181c6576fda3"   # template of the reference's request/card examples
VSC_TEMPLATE = "97cd65fa-af4b-4587-9309-0dd6bfd8b4e1"    # the walkthrough's "Virtual Smartcard VPN"
ZERO_KEY_HEX = "0" * 48

# Test templates: GUID 7e570000-0000-4000-8000-0000000000PD with P = 1 user PIN / 2 server PIN and
# D = 1 diversified / 0 not.
TEST_TEMPLATES = (
    ("7e570000-0000-4000-8000-000000000011", "Test UserPin Diversified", PIN_USER, True),
    ("7e570000-0000-4000-8000-000000000010", "Test UserPin NotDiversified", PIN_USER, False),
    ("7e570000-0000-4000-8000-000000000021", "Test ServerPin Diversified", PIN_SERVER, True),
    ("7e570000-0000-4000-8000-000000000020", "Test ServerPin NotDiversified", PIN_SERVER, False),
)

REQUEST_REASON = [{"Name": "Request Reason", "Required": True}]

DOCS_SD_1 = (
    "O:S-1-5-21-2127521184-1604012920-1887927527-14134865D:(D;;LC;;;S-1-5-21-2127521184-1604012920-1887927527-"
    "14995557)(A;;DCSW;;;S-1-5-21-2127521184-1604012920-1887927527-5094533)(A;;DCSW;;;S-1-5-21-2127521184-"
    "1604012920-1887927527-5094534)(A;;DCSW;;;S-1-5-21-2127521184-1604012920-1887927527-5219125)(A;;SWRC;;;"
    "S-1-5-21-2127521184-1604012920-1887927527-5094533)(A;;RC;;;WD)(A;;CCDCLCSWSDRC;;;S-1-5-21-2127521184-"
    "1604012920-1887927527-14134865)(A;;DCSW;;;S-1-5-21-2127521184-1604012920-1887927527-14995557)(A;;CCDCSW;;;"
    "S-1-5-21-2127521184-1604012920-1887927527-14995557)" + "\u0000" * 9)
DOCS_SD_2 = (
    "O:S-1-5-21-2127521184-1604012920-1887927527-14134865D:(D;;LC;;;S-1-5-21-2127521184-1604012920-1887927527-"
    "14995557)(A;;SWRC;;;S-1-5-21-2127521184-1604012920-1887927527-5094533)(A;;RC;;;WD)(A;;CCDCLCSWSDRC;;;"
    "S-1-5-21-2127521184-1604012920-1887927527-14134865)(A;;DCSW;;;S-1-5-21-2127521184-1604012920-1887927527-"
    "14995557)(A;;CCDCSW;;;S-1-5-21-2127521184-1604012920-1887927527-14995557)" + "\u0000" * 6)

DOCS_CRGO = {"Subject": "", "KeyAlgorithmName": "RSA", "KeySize": 2048, "FriendlyName": "",
             "HashAlgorithmName": "SHA1", "KeyStorageProviderNames": ["Contoso Smart Card Key Storage Provider"],
             "Exportable": 0, "KeyProtectionLevel": 0, "KeyUsages": 3}


def template(uuid_, name, description, smartcard, virtual, version, cert_template, crgo, enroll_items,
             config=None, other_items=None):
    return {"Uuid": uuid_, "Name": name, "Description": description, "IsSmartcardProfileTemplate": smartcard,
            "IsVirtualSmartcardProfileTemplate": virtual, "version": version, "cert_template": cert_template,
            "crgo": crgo, "items": {"Enroll": enroll_items, **(other_items or {})}, "config": config}


def smartcard_config(pin_option, diversify, key_hex=ZERO_KEY_HEX):
    return {"DefaultAdminKeyHex": key_hex, "DiversifyAdminKey": diversify, "UserPinOption": pin_option}


def crgo(ksp, hash_name="SHA256", exportable=0):
    return {"Subject": "", "KeyAlgorithmName": "RSA", "KeySize": 2048, "FriendlyName": "",
            "HashAlgorithmName": hash_name, "KeyStorageProviderNames": [ksp], "Exportable": exportable,
            "KeyProtectionLevel": 0, "KeyUsages": 3}


def seed_templates():
    sc_ksp = "Microsoft Smart Card Key Storage Provider"
    templates = [
        template("12bd5120-86a2-4ee1-8d05-131066871578", "FIM CM Sample Profile Template",
                 "Description of the template goes here", False, False, 1, "User",
                 crgo("Microsoft Software Key Storage Provider", exportable=1), []),
        template("2b7044cf-aa96-4911-b886-177947e9271b", "FIM CM Sample Smart Card Logon Profile Template",
                 "Description of the template goes here", True, False, 1, "SmartcardLogon", crgo(sc_ksp), [],
                 smartcard_config(PIN_USER, False)),
        template(VSC_TEMPLATE, "Virtual Smartcard VPN", "Virtual smart card with VPN certificates (walkthrough)",
                 True, True, 5, "ContosoVirtualSmartCardLimitedRelease-KSP",
                 crgo("Microsoft Smart Card Key Storage Provider"), REQUEST_REASON,
                 smartcard_config(PIN_USER, True)),
        template(DOCS_TEMPLATE, "Contoso Smart Card Logon", "Template of the reference's request and smart card "
                 "examples", True, False, 46, "ContosoVirtualSmartCardLimitedRelease-KSP", DOCS_CRGO, [],
                 smartcard_config(PIN_SERVER, True),
                 {"Unblock": [{"Name": "Sample Data Item", "Required": False}]}),
    ]
    for uuid_, name, pin, diversify in TEST_TEMPLATES:
        templates.append(template(uuid_, name, f"mimcm test template: {pin} PIN, admin key "
                                  f"{'diversified' if diversify else 'not diversified'}", True, False, 1,
                                  "mimcmTestSmartcardLogon", crgo(sc_ksp), REQUEST_REASON,
                                  smartcard_config(pin, diversify)))
    return {t["Uuid"]: t for t in templates}


def request_record(uuid_, rtype, status, data, submitted, template_uuid, sd, completed=NEVER,
                   new_profile=ZERO_GUID, old_profile=ZERO_GUID, new_card=ZERO_GUID, old_card=ZERO_GUID,
                   complete=False, comment="", priority=0, target=CURRENT_USER, smartcard=True):
    return {"Uuid": uuid_, "RequestType": rtype, "Status": status, "Flags": 2, "DataCollection": data,
            "DataCollectionFlags": 32, "OriginatorUserUuid": CURRENT_USER, "TargetUserUuid": target,
            "Submitted": submitted, "Completed": completed, "NewProfileUuid": new_profile,
            "OldProfileUuid": old_profile, "NewSmartcardUuid": new_card, "OldSmartcardUuid": old_card,
            "Priority": priority, "Comment": comment, "ProfileTemplateUuid": template_uuid,
            "SecurityDescriptor": sd, "IsSmartcard": smartcard, "IsEnrollmentAgent": False,
            "IsDataCollectionComplete": complete}


REQUEST_FIELDS = ("Uuid", "RequestType", "Status", "Flags", "DataCollection", "DataCollectionFlags",
                  "OriginatorUserUuid", "TargetUserUuid", "Submitted", "Completed", "NewProfileUuid",
                  "OldProfileUuid", "NewSmartcardUuid", "OldSmartcardUuid", "Priority", "Comment",
                  "ProfileTemplateUuid", "SecurityDescriptor", "IsSmartcard", "IsEnrollmentAgent",
                  "IsDataCollectionComplete")
SMARTCARD_FIELDS = ("Uuid", "Status", "Flags", "ParentSmartcardUuid", "PrimarySmartcardUuid",
                    "PermanentSmartcardUuid", "AssignedUserUuid", "ProfileTemplateUuid", "ProfileTemplateVersion",
                    "Comment", "SerialNumber", "Middleware", "Atr")
PROFILE_FIELDS = ("Uuid", "Status", "Flags", "ParentProfileUuid", "PrimaryProfileUuid", "AssignedUserUuid",
                  "ProfileTemplateUuid", "ProfileTemplateVersion", "Comment", "ProfileOperations")
CERT_SHORT = ("IsKeyHistory", "ArchivedOnCa", "CertificateType", "TemplateCommonName", "SerialNumber", "Thumbprint")
CERT_LONG = CERT_SHORT + ("NotAfter", "NotBefore", "Issuer", "RequesterName", "Status")
TEMPLATE_VIEW = ("Name", "Description", "Uuid", "IsSmartcardProfileTemplate", "IsVirtualSmartcardProfileTemplate")


def seed_requests():
    requests = [
        # get-request.md, Response 1 (and cancel-abandon-complete-request.md once completed)
        request_record("a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099", 1, 3, [], "2015-07-07T23:36:21.93Z", DOCS_TEMPLATE,
                       DOCS_SD_1),
        # get-request.md, Response 2: the Unblock request on card 17cf063d
        request_record("0c96d73f-967b-420e-854a-43ad2a1504bc", 5, 3, [{"Name": "Sample Data Item", "Value": None}],
                       "2015-07-07T23:40:33.133Z", DOCS_TEMPLATE, DOCS_SD_2,
                       new_profile="b99ff38c-6653-471f-ae3c-325bb351a6bc",
                       old_profile="b99ff38c-6653-471f-ae3c-325bb351a6bc",
                       new_card="17cf063d-e337-4aa9-a822-346554ddd3c9",
                       old_card="17cf063d-e337-4aa9-a822-346554ddd3c9"),
        # update-smartcard-status.md: the request under which card 17cf063d is retired
        request_record("b105403d-d021-41ea-9f11-be3d677d229e", REQUEST_TYPE["Retire"], 3, [],
                       "2015-07-07T23:45:12.5Z", DOCS_TEMPLATE, DOCS_SD_2,
                       new_profile="b99ff38c-6653-471f-ae3c-325bb351a6bc",
                       old_profile="b99ff38c-6653-471f-ae3c-325bb351a6bc",
                       new_card="17cf063d-e337-4aa9-a822-346554ddd3c9",
                       old_card="17cf063d-e337-4aa9-a822-346554ddd3c9"),
        # sample-enrollment-walkthrough.md: the approved virtual smart card request
        request_record("c6bad97c-f97f-4920-8947-be980c98c6b5", 1, 3,
                       [{"Name": "Request Reason", "Value": "Need VPN Certs"}], "2016-04-28T17:02:11.41Z",
                       VSC_TEMPLATE, security_descriptor(14134865), complete=True),
    ]
    result = {r["Uuid"]: r for r in requests}
    # When a9b4b42c is completed it gets the reference's completion time and profile.
    result["a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099"]["_complete"] = {
        "Completed": "2015-07-07T23:37:37.767Z", "NewProfileUuid": "b99ff38c-6653-471f-ae3c-325bb351a6bc"}
    return result


def smartcard_record(uuid_, status, card_id, template_uuid, version, request=None, profile=ZERO_GUID,
                     atr=DOCS_ATR, runtime=False):
    card = {"Uuid": uuid_, "Status": status, "Flags": 1, "ParentSmartcardUuid": ZERO_GUID,
            "PrimarySmartcardUuid": ZERO_GUID, "PermanentSmartcardUuid": ZERO_GUID,
            "AssignedUserUuid": CURRENT_USER, "ProfileTemplateUuid": template_uuid,
            "ProfileTemplateVersion": version, "Comment": "", "SerialNumber": "{" + card_id + "}",
            "Middleware": "MSBaseCSP", "Atr": atr}
    card.update({"_cardid": card_id, "_request": request, "_profile": profile, "_runtime": runtime,
                 "_pin": None, "_operations": None, "_certificates": []})
    return card


def docs_certificate(template_cn, serial, thumbprint, not_after=None, not_before=None, archived=False):
    return {"IsKeyHistory": False, "ArchivedOnCa": archived, "CertificateType": 1, "TemplateCommonName": template_cn,
            "SerialNumber": serial, "Thumbprint": thumbprint, "NotAfter": not_after, "NotBefore": not_before,
            "Issuer": "WIN-TRUR24L4CFS.corp.cmteam.com\\corp-WIN-TRUR24L4CFS-CA",
            "RequesterName": "CORP\\Administrator", "Status": 0}


def seed_smartcards():
    vsc = "ContosoVirtualSmartCardLimitedRelease-KSP"
    cards = [
        # get-smartcard-data.md, Response 2 (and update-smartcard-status.md once retired); bound to a9b4b42c
        smartcard_record("17cf063d-e337-4aa9-a822-346554ddd3c9", 2, "bc88f13f-83ba-4037-8262-46eba1291c6e",
                         DOCS_TEMPLATE, 46, request="a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099",
                         profile="b99ff38c-6653-471f-ae3c-325bb351a6bc"),
        # get-smartcard-data.md, Response 1 (GET smartcards?cardid=d1ef6869-...)
        smartcard_record("438d1b30-f3b4-4bed-85fa-285e08605ba7", 3, "d1ef6869-5517-42a0-8f05-16ca1a0b834d",
                         DOCS_TEMPLATE, 46),
        # get-smartcard-profile-certificates.md: the card with 4 certificates (its own fields are not shown)
        smartcard_record("5badfea3-de31-4837-99f9-8249515a5473", 3, "6f0d2a51-3c1e-4b8a-9d47-e2b5c8a1f093",
                         VSC_TEMPLATE, 5),
    ]
    cards[1]["_operations"] = ["renew", "unblock", "retire"]  # get-profile-state-operations.md
    cards[2]["_certificates"] = [
        docs_certificate(vsc, "1B0000B01052AFA01313FB77AC00010000B010", "C52B0C5FB8AAD31A5B239FF2712ED14122D67D30"),
        docs_certificate(vsc, "1B0000B011AB48AE7D664ED5D900010000B011", "E7C4324896271BE869544FF28AA2B1BF3B3BDFCF"),
        docs_certificate(vsc, "1B0000B01ABCF2D38A0CCEAD8F00010000B01A", "D9293B5414C644888444541B64631E90F2612425"),
        docs_certificate(vsc, "1B0000B1F02865CF2C3A9DD96D00010000B1F0", "6615DDC8603DBA789D724502627682F37D0FC2D0"),
    ]
    return {c["Uuid"]: c for c in cards}


# The walkthrough's card: assigning card id 23cadd5f-... to request c6bad97c-... creates smart card d700d97c-...
RESERVED_SMARTCARDS = {("c6bad97c-f97f-4920-8947-be980c98c6b5", "23cadd5f-020d-4c3b-a5ca-307b7a06f9c9"):
                       "d700d97c-f91f-4930-8947-be980c98a644"}


def seed_profiles():
    def profile(uuid_, parent, template_uuid, version, operations):
        return {"Uuid": uuid_, "Status": PROFILE_ACTIVE, "Flags": 1, "ParentProfileUuid": parent,
                "PrimaryProfileUuid": ZERO_GUID, "AssignedUserUuid": "0378a33b-8650-4713-a727-efd233903643",
                "ProfileTemplateUuid": template_uuid, "ProfileTemplateVersion": version, "Comment": "",
                "ProfileOperations": operations, "_certificates": []}
    profiles = [  # get-profile-data.md (GET profiles?status=Active)
        profile("c0dd5c7d-ec35-4346-baca-3ad711e9722f", "1c9e2606-fea2-4048-a6ac-b014e54c22df",
                "8f31803f-8afc-49bb-911d-402ec264b589", 8, ["renew", "disable", "recover"]),
        profile("5ad77b40-aa42-4533-9396-c9c59fd021a8", ZERO_GUID, "8f31803f-8afc-49bb-911d-402ec264b589", 8,
                ["renew", "disable", "recover"]),
        profile("ff342953-c444-4dc7-b144-f5515d6460c6", ZERO_GUID, "1e3a31fe-699b-4a6b-945c-18b83c985bc1", 9,
                ["renew", "disable"]),
    ]
    return {p["Uuid"]: p for p in profiles}


def seed_user_certificates():  # get-user-certificates.md, all 16
    k, a, c = "KSPusercertificate", "ArchivedCertificateTemplate", "CopyofUser"
    rows = [
        (k, "270000013C3A98764EC3233BE400000000013C", "09B41AC106F0C40168940DF4AB74D6DB39DE55EE",
         "2016-07-13T09:10:31", "2015-07-14T09:10:31", False),
        (k, "270000013B957A5513AF6CE2B200000000013B", "7F0248836E7B93FE2B0357F19269C7134B449376",
         "2016-07-13T08:59:51", "2015-07-14T08:59:51", False),
        (k, "270000013A68D58660B37FA7BB00000000013A", "67DDEE9CF2C417832305714FF4F64175CC2F8963",
         "2016-07-13T08:56:31", "2015-07-14T08:56:31", False),
        (a, "27000001392838861E9DA725C9000000000139", "352650D413262E53389908E73BDF5DBAAEEA0D81",
         "2016-07-13T08:08:50", "2015-07-14T08:08:50", True),
        (k, "2700000137D1C6649BE84FAC2B000000000137", "9170C7E38126C6B87C5B4F8A50FC3CE261B59BBF",
         "2016-07-13T07:14:43", "2015-07-14T07:14:43", False),
        (a, "270000012D12ED47DEF778AE5200000000012D", "E5CDBFA02072E0A19EFACAA5C009E2DBD4DA8CEC",
         "2016-07-12T11:48:02", "2015-07-13T11:48:02", True),
        (c, "270000012B1EFE271640C75D5800000000012B", "88C815E8A5FB40EE71907327061491B7F402EBA3",
         "2016-07-12T11:47:09", "2015-07-13T11:47:09", False),
        (k, "270000011D0E1C76C5EA0FA94500000000011D", "CCFC28DB6E5A48149ACD0E2D787F5E239E686809",
         "2016-05-03T08:04:31", "2015-05-04T08:04:31", False),
        (k, "270000011A5CC01932CACC661F00000000011A", "1190AFFBDA94333C5659BAAD63B566C10EC24620",
         "2016-05-03T06:31:04", "2015-05-04T06:31:04", False),
        (k, "2700000118E402E672C46BBD5C000000000118", "3D04D0F4FF932A7888A331A762BA46E51DAAE415",
         "2016-04-27T16:35:03", "2015-04-28T16:35:03", False),
        (k, "270000011685A0CE1F819B1917000000000116", "FF5FE72A35E9C17AB060805CC9BF84C0799BFBCA",
         "2016-04-27T11:53:53", "2015-04-28T11:53:53", False),
        (k, "2700000112A2339B46DC1E8B0C000000000112", "A3A4E733FE7CB19FC213C15378115101A752855F",
         "2016-04-27T07:35:47", "2015-04-28T07:35:47", False),
        (k, "270000011149EFD78B17F120CF000000000111", "4EFB6E9AB584186054005F0514B6D692F263629C",
         "2016-04-27T07:34:26", "2015-04-28T07:34:26", False),
        (k, "270000011070FD397CBEC70535000000000110", "5A584340294C88157F901366FF7E887FD7B05F1E",
         "2016-04-27T07:32:48", "2015-04-28T07:32:48", False),
        (k, "270000010F87F9FEE060CC024A00000000010F", "7E7E74AACF0581DD9C374E85C7A74BEFCF6608EF",
         "2016-04-26T14:50:15", "2015-04-27T14:50:15", False),
        (k, "27000000D9AABE8619E368DC760000000000D9", "4809C9291679527E1A943387144E1E7CC2863AA3",
         "2016-01-20T09:21:13", "2015-01-20T09:21:13", False),
    ]
    return [docs_certificate(t, s, th, na, nb, ar) for t, s, th, na, nb, ar in rows]


def public(record, fields):
    """The documented JSON view of an internal record (the keys starting with '_' are internal)."""
    return {f: copy.deepcopy(record[f]) for f in fields}


# ---------------------------------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------------------------------

class CmState:
    """The emulated CM's data, behind one lock. reset() goes back to the seed."""

    def __init__(self, cert_dir="."):
        self.cert_dir = cert_dir
        self.lock = threading.RLock()
        self.reset()

    def reset(self):
        with self.lock:
            self.templates = seed_templates()
            self.requests = seed_requests()
            self.smartcards = seed_smartcards()
            self.profiles = seed_profiles()
            self.user_certificates = seed_user_certificates()  # not on any card or profile of the state
            self.issued = []  # certificates issued at run time (long view + "_owner", "_retired")
            # (operation name, request_contains or None) -> {"status", "times", "message"?, ...}
            self.faults = {}

    # faults ---------------------------------------------------------------------------------------
    def set_faults(self, faults):
        """faults: validate_faults' result. A fault replaces the one of its operation and
        request_contains; null disarms every fault of the operation."""
        with self.lock:
            for name, fault in faults.items():
                if fault is None:
                    self.faults = {key: f for key, f in self.faults.items() if key[0] != name}
                else:
                    self.faults[(name, fault.get("request_contains"))] = dict(fault)

    def clear_faults(self):
        with self.lock:
            self.faults = {}

    def get_faults(self):
        """{"<operation>": [fault, ...]}: the armed faults with the calls left."""
        with self.lock:
            shown = {}
            for (name, _scope), fault in self.faults.items():
                shown.setdefault(name, []).append(copy.deepcopy(fault))
            return shown

    def take_fault(self, operation, request_text=""):
        """A Reply if a fault is armed for this operation and request (and count it down), else None.
        request_text: the request's path, query and body (see fault_text). A fault whose
        request_contains is in it comes before the operation's unscoped one."""
        with self.lock:
            key = next((k for k in self.faults
                        if k[0] == operation and k[1] is not None and k[1] in request_text),
                       (operation, None))
            fault = self.faults.get(key)
            if not fault:
                return None
            fault["times"] -= 1
            if fault["times"] <= 0:
                del self.faults[key]
        if "body" in fault:  # an answer of the test's choosing (e.g. a secret of a known value)
            reply = json_reply(fault["status"], fault["body"])
        else:
            reply = error_reply(fault["status"], fault.get("message"), fault.get("correlation_id"))
        if "retry_after" in fault:
            reply.headers.append(("Retry-After", str(fault["retry_after"])))
        return reply

    # look-ups (call with the lock held) --------------------------------------------------------------
    def card_key(self, card):
        return diversified_key(card["_cardid"])

    def card_belongs_to(self, card, request):
        return card["_request"] == request["Uuid"] or card["Uuid"] in (request["NewSmartcardUuid"],
                                                                      request["OldSmartcardUuid"])

    def smartcard_state(self, card_uuid):
        """The control API's view of one smart card, or None."""
        with self.lock:
            card = self.smartcards.get(card_uuid.lower())
            if card is None:
                return None
            tpl = self.templates.get(card["ProfileTemplateUuid"])
            config = (tpl or {}).get("config") or {}
            return {
                "uuid": card["Uuid"], "cardid": card["_cardid"], "requestid": card["_request"],
                "status": card["Status"], "status_name": SMARTCARD_STATUS_NAME.get(card["Status"]),
                "atr": card["Atr"], "profile_template": card["ProfileTemplateUuid"],
                "bound_at_runtime": card["_runtime"], "proposed_pin": card["_pin"],
                "user_pin_option": config.get("UserPinOption"),
                "diversify_admin_key": config.get("DiversifyAdminKey"),
                "default_admin_key_hex": config.get("DefaultAdminKeyHex"),
                "diversified_key": self.card_key(card).hex(),
                "certificates": [c["Thumbprint"] for c in card["_certificates"]],
            }

    # serverproposedpin in the stateful mode ----------------------------------------------------------
    def proposed_pin(self, card_uuid, request_uuid, card_id):
        """For a card bound by POST smartcards in this run: the Reply of serverproposedpin (403 when the
        request or cardid does not match, 204 for a user-provided PIN, else 200 with the card's PIN).
        None for every other smart card id (cm_emulator.py then answers the default outcome)."""
        with self.lock:
            card = self.smartcards.get(card_uuid.lower())
            if card is None or not card["_runtime"]:
                return None
            if request_uuid is not None:
                request = self.requests.get(request_uuid.lower())
                if request is None or not self.card_belongs_to(card, request):
                    return message_reply(403, f"The smart card {card['Uuid']} does not belong to the request "
                                              f"{request_uuid.lower()}.")
            if card_id != card["_cardid"]:
                return message_reply(403, f"The card id {card_id} is not the card bound to smart card "
                                          f"{card['Uuid']}.")
            if card["Status"] == SMARTCARD_STATUS["Retired"]:
                return message_reply(403, f"The smart card {card['Uuid']} is retired.")
            config = self.templates[card["ProfileTemplateUuid"]]["config"]
            if config["UserPinOption"] in (PIN_USER, "None"):
                return no_content()
            if card["_pin"] is None:
                card["_pin"] = "".join(secrets.choice("0123456789") for _ in range(8))
            return json_reply(200, card["_pin"])


# ---------------------------------------------------------------------------------------------------
# Request parsing
# ---------------------------------------------------------------------------------------------------

def path_guid(params, name, what):
    value = params[name]
    if not GUID_RE.match(value):
        raise bad(f"The {what} '{value}' in the URL is not a GUID.")
    return value.lower()


def query_param(query, name, required):
    values = query.get(name)
    if not values:
        if required:
            raise bad(f"The query parameter '{name}' is required.")
        return None
    if len(values) > 1:
        raise bad(f"The query parameter '{name}' is given {len(values)} times.")
    if values[0] == "":
        raise bad(f"The query parameter '{name}' is empty.")
    return values[0]


def check_card_id(value, where):
    if not isinstance(value, str) or not LOWER_GUID_RE.match(value):
        raise bad(f"{where} ('{value}') is not a lowercase GUID without braces.")
    return value


def check_atr(value, where):
    if not isinstance(value, str) or not ATR_RE.match(value):
        raise bad(f"{where} ('{value}') is not lowercase hexadecimal of even length between 4 and 66 characters.")
    return value


def body_guid(value, name):
    if not isinstance(value, str) or not GUID_RE.match(value):
        raise bad(f"The field '{name}' ({json.dumps(value)}) is not a GUID.")
    return value.lower()


def json_body(request, allowed, required):
    """The request body as a JSON object with only `allowed` lower-case field names and every `required`
    one. 415 if a body is not application/json (Web API's messages); 400 otherwise."""
    body = request.body
    if not body.strip():
        raise bad("The request body is required (a JSON object).")
    content_type = request.headers.get("content-type")
    if content_type is None:
        raise ApiError(415, "The request contains an entity body but no Content-Type header. The inferred media "
                            "type 'application/octet-stream' is not supported for this resource.")
    media = content_type.split(";")[0].strip().lower()
    if media not in ("application/json", "text/json"):
        raise ApiError(415, f"The request entity's media type '{media}' is not supported for this resource.")

    def pairs(items):
        seen = set()
        for key, _ in items:
            if key in seen:
                raise bad(f"The field '{key}' appears more than once in the request body.")
            seen.add(key)
        return dict(items)

    try:
        value = json.loads(body.decode("utf-8"), object_pairs_hook=pairs)
    except UnicodeDecodeError:
        raise bad("The request body is not UTF-8.")
    except json.JSONDecodeError as e:
        raise bad(f"The request body is not valid JSON: {e}.")
    if not isinstance(value, dict):
        raise bad("The request body must be a JSON object.")
    unknown = [k for k in value if k not in allowed]
    if unknown:
        raise bad(f"Unknown field '{unknown[0]}' in the request body. The fields are: {', '.join(allowed)} "
                  "(lower case).")
    for name in required:
        if name not in value or value[name] is None:
            raise bad(f"The field '{name}' is required.")
    return value


def parse_data_collection(value):
    """datacollection: a JSON string holding an array, or an array. Items are {"<name>": "<value>"} (the
    reference's input form) or {"Name": "...", "Value": "..."}. Returns [(name, value)]."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            raise bad(f"The field 'datacollection' is a string but not a JSON array: {e}.")
    if not isinstance(value, list):
        raise bad("The field 'datacollection' must be an array (or a string holding a JSON array).")
    items = []
    for item in value:
        if isinstance(item, dict) and set(item) == {"Name", "Value"}:
            name, val = item["Name"], item["Value"]
        elif isinstance(item, dict) and len(item) == 1:
            name, val = next(iter(item.items()))
        else:
            raise bad(f"Data collection item {json.dumps(item)} is not {{\"<name>\":\"<value>\"}} or "
                      "{\"Name\":...,\"Value\":...}.")
        if not isinstance(name, str) or not name or not (val is None or isinstance(val, str)):
            raise bad(f"Data collection item {json.dumps(item)}: the name must be a non-empty string and the "
                      "value a string or null.")
        if any(n.lower() == name.lower() for n, _ in items):
            raise bad(f"Data collection item '{name}' is given twice.")
        items.append((name, val))
    return items


def parse_bool(text, name):
    if text.lower() == "true":
        return True
    if text.lower() == "false":
        return False
    raise bad(f"The query parameter '{name}' ('{text}') is not a boolean (true or false).")


# ---------------------------------------------------------------------------------------------------
# Handlers
# ---------------------------------------------------------------------------------------------------

class CmApiRoutes:
    """The CM API operations on a CmState. routes() lists (method, path after /api/v1.0, handler,
    operation); a handler takes (request, params) and returns a Reply."""

    def __init__(self, state):
        self.state = state

    def routes(self):
        r = [
            ("GET", "/profiletemplates", self.list_profile_templates, "ListProfileTemplates"),
            ("GET", "/profiletemplates/{id}", self.get_profile_template, "GetProfileTemplate"),
            ("GET", "/profiletemplates/{id}/policies/{type}", self.get_workflow_policy, "GetWorkflowPolicy"),
            ("GET", "/profiletemplates/{id}/policy/workflow/{type}", self.get_workflow_policy, "GetWorkflowPolicy"),
            ("GET", "/profiletemplates/{id}/configuration/smartcards", self.get_smartcard_policy,
             "GetSmartcardPolicy"),
            ("POST", "/requests", self.create_request, "CreateRequest"),
            ("GET", "/requests", self.list_requests, "ListRequests"),
            ("GET", "/requests/{id}", self.get_request, "GetRequest"),
            ("PUT", "/requests/{id}", self.set_request_status, "SetRequestStatus"),
            ("GET", "/requests/{id}/certificaterequestgenerationoptions", self.get_crgo,
             "GetCertificateRequestGenerationOptions"),
            ("POST", "/requests/{id}/certificatedata", self.certificate_data, "GetCertificateResponses"),
            ("GET", "/requests/{id}/profiles", self.list_request_profiles, "ListRequestProfiles"),
            ("POST", "/smartcards", self.assign_smartcard, "AssignSmartcardToRequest"),
            ("GET", "/smartcards", self.find_smartcards, "FindSmartcards"),
            ("GET", "/smartcards/{id}", self.get_smartcard, "GetSmartcard"),
            ("GET", "/requests/{reqid}/smartcards/{scid}/authenticationresponse", self.authentication_response,
             "GetSmartcardAuthenticationResponse"),
            ("GET", "/requests/{reqid}/smartcards/{scid}/diversifiedkey", self.get_diversified_key,
             "GetSmartcardDiversifiedAdminKey"),
            ("PUT", "/requests/{reqid}/smartcards/{scid}", self.update_smartcard_status, "UpdateSmartcardStatus"),
            ("GET", "/profiles", self.list_profiles, "ListProfiles"),
            ("GET", "/profiles/{id}", self.get_profile, "GetProfile"),
            ("GET", "/profiles/{id}/operations", self.get_profile_operations, "GetProfileOperations"),
            ("GET", "/smartcards/{id}/operations", self.get_smartcard_operations, "GetSmartcardOperations"),
            ("GET", "/profiles/{id}/certificates", self.get_profile_certificates, "GetProfileCertificates"),
            ("GET", "/smartcards/{id}/certificates", self.get_smartcard_certificates, "GetSmartcardCertificates"),
            ("GET", "/certificates", self.get_user_certificates, "GetUserCertificates"),
        ]
        return [(method, path, self._wrap(handler, op), op) for method, path, handler, op in r]

    def _wrap(self, handler, operation):
        def call(request, params):
            try:
                return handler(request, params, lambda: self._fault(operation, fault_text(request)))
            except _Fault as f:
                return f.reply
            except ApiError as e:
                return message_reply(e.status, e.message)
        call.__name__ = handler.__name__
        return call

    def _fault(self, operation, request_text):
        """Called by a handler once the request passed its checks: raises the armed fault, if any."""
        reply = self.state.take_fault(operation, request_text)
        if reply is not None:
            raise _Fault(reply)

    # -- profile templates ---------------------------------------------------------------------------
    def _targetuser(self, request):
        target = query_param(request.query, "targetuser", False)
        if target is not None and target.lower() != "current":
            raise bad(f"The query parameter 'targetuser' ('{target}') is not supported; only 'current' is.")
        return target

    def list_profile_templates(self, request, params, checked):
        self._targetuser(request)
        checked()
        with self.state.lock:
            views = [public(t, TEMPLATE_VIEW) for t in self.state.templates.values()]
        return json_reply(200, views) if views else no_content()

    def get_profile_template(self, request, params, checked):
        tid = path_guid(params, "id", "profile template id")
        checked()
        with self.state.lock:
            tpl = self.state.templates.get(tid)
            return json_reply(200, public(tpl, TEMPLATE_VIEW)) if tpl else no_content()

    def get_workflow_policy(self, request, params, checked):
        tid = path_guid(params, "id", "profile template id")
        ptype = enum_value(params["type"], POLICY_TYPES, "The workflow policy type")
        checked()
        with self.state.lock:
            tpl = self.state.templates.get(tid)
            if tpl is None:
                return no_content()
            items = tpl["items"].get(ptype, [])
            policy = {
                "ApprovalsNeeded": 0,
                "AuthorizedApprover": "O:SYD:(A;;CC;;;DA)",
                "AuthorizedEnrollmentAgent": "O:SYD:(A;;CC;;;DA)",
                "AuthorizedInitiator": "O:SYD:(A;;CC;;;AU)",
                "CollectComments": False,
                "CollectRequestPriority": False,
                "DefaultRequestPriority": 0,
                "Documents": [],
                "Enabled": True,
                "EnrollAgentRequired": False,
                "OneTimePasswordPolicy": None,
                "Personalization": None,
                "PolicyDataCollection": copy.deepcopy(items),
                "SelfServiceEnabled": True,
            }
        return json_reply(200, policy)

    def get_smartcard_policy(self, request, params, checked):
        tid = path_guid(params, "id", "profile template id")
        checked()
        with self.state.lock:
            tpl = self.state.templates.get(tid)
            if tpl is None or tpl["config"] is None:
                return no_content()  # no such template, or a software template
            return json_reply(200, dict(tpl["config"]))

    # -- requests ------------------------------------------------------------------------------------
    def create_request(self, request, params, checked):
        body = json_body(request, ("profiletemplateuuid", "datacollection", "target", "type", "comment",
                                   "priority", "smartcard"), ("datacollection", "type", "comment"))
        rtype = enum_value(body["type"], tuple(REQUEST_TYPE), "The request type")
        items = parse_data_collection(body["datacollection"])
        if not isinstance(body["comment"], str):
            raise bad("The field 'comment' must be a string (it may be empty).")
        template_uuid = body_guid(body["profiletemplateuuid"], "profiletemplateuuid") \
            if body.get("profiletemplateuuid") is not None else None
        card_uuid = body_guid(body["smartcard"], "smartcard") if body.get("smartcard") is not None else None
        if template_uuid is None and card_uuid is None:
            raise bad("The field 'profiletemplateuuid' is required (or 'smartcard' for a request on a card).")
        target = body_guid(body["target"], "target") if body.get("target") is not None else CURRENT_USER
        priority = body.get("priority")
        if priority is not None:
            if isinstance(priority, str) and re.fullmatch(r"-?[0-9]{1,9}", priority.strip()):
                priority = int(priority)
            if isinstance(priority, bool) or not isinstance(priority, int):
                raise bad("The field 'priority' must be an integer (or a string holding one).")
        checked()
        with self.state.lock:
            card = None
            if card_uuid is not None:
                card = self.state.smartcards.get(card_uuid)
                if card is None:
                    raise forbidden(f"The smart card {card_uuid} does not exist.")
                if template_uuid is not None and template_uuid != card["ProfileTemplateUuid"]:
                    raise forbidden(f"The smart card {card_uuid} is not governed by profile template {template_uuid}.")
                template_uuid = card["ProfileTemplateUuid"]
            tpl = self.state.templates.get(template_uuid)
            if tpl is None:
                raise forbidden(f"The profile template {template_uuid} does not exist or you may not enroll for it.")
            if rtype in SMARTCARD_ONLY_TYPES and not tpl["IsSmartcardProfileTemplate"]:
                raise forbidden(f"A {rtype} request is not valid for the software profile template {template_uuid}.")
            if rtype != "Enroll" and card is None and tpl["IsSmartcardProfileTemplate"]:
                raise forbidden(f"A {rtype} request needs the field 'smartcard' (the smart card it is for).")
            policy_items = tpl["items"].get(POLICY_OF_REQUEST_TYPE[rtype], [])
            given = {name.lower(): (name, value) for name, value in items}
            known = {item["Name"].lower() for item in policy_items}
            for name, _ in items:
                if name.lower() not in known:
                    raise bad(f"The data collection item '{name}' is not defined by the {rtype} policy of the "
                              "profile template.")
            data = []
            for item in policy_items:
                value = given.get(item["Name"].lower(), (None, None))[1]
                if item["Required"] and not value:
                    raise bad(f"The data collection item '{item['Name']}' is required.")
                data.append({"Name": item["Name"], "Value": value})
            new_uuid = str(uuid.uuid4())
            profile = card["_profile"] if card else ZERO_GUID
            record = request_record(
                new_uuid, REQUEST_TYPE[rtype], REQUEST_STATUS["Approved"], data, json_net_utc(utc_now()),
                template_uuid, security_descriptor(14134865), new_profile=profile, old_profile=profile,
                new_card=card["Uuid"] if card else ZERO_GUID, old_card=card["Uuid"] if card else ZERO_GUID,
                complete=bool(policy_items), comment=body["comment"], priority=priority or 0, target=target,
                smartcard=tpl["IsSmartcardProfileTemplate"])
            self.state.requests[new_uuid] = record
        return json_reply(201, f"api/v1.0/requests/{new_uuid}")

    def _request_filters(self, request):
        target = self._targetuser(request)
        status = query_param(request.query, "status", False)
        if status is not None:
            status = REQUEST_STATUS[enum_value(status, REQUEST_STATUS_FILTER, "The status")]
        return target, status

    @staticmethod
    def _request_matches(record, target, status):
        return (target is None or record["TargetUserUuid"] == CURRENT_USER) and \
            (status is None or record["Status"] == status)

    def list_requests(self, request, params, checked):
        target, status = self._request_filters(request)
        checked()
        with self.state.lock:
            found = [public(r, REQUEST_FIELDS) for r in self.state.requests.values()
                     if self._request_matches(r, target, status)]
        return json_reply(200, found) if found else no_content()

    def get_request(self, request, params, checked):
        rid = path_guid(params, "id", "request id")
        target, status = self._request_filters(request)
        checked()
        with self.state.lock:
            record = self.state.requests.get(rid)
            if record is None or not self._request_matches(record, target, status):
                return no_content()
            return json_reply(200, public(record, REQUEST_FIELDS))

    def _assign_profile(self, record):
        """NewProfileUuid of a request that produces certificates (first issuance or completion)."""
        if record["NewProfileUuid"] == ZERO_GUID:
            record["NewProfileUuid"] = record.get("_complete", {}).get("NewProfileUuid") or str(uuid.uuid4())
        return record["NewProfileUuid"]

    def set_request_status(self, request, params, checked):
        rid = path_guid(params, "id", "request id")
        body = json_body(request, ("status",), ("status",))
        status = enum_value(body["status"], ("Completed", "Canceled", "Abandoned"), "The request status")
        checked()
        with self.state.lock:
            record = self.state.requests.get(rid)
            if record is None:
                raise forbidden(f"The request {rid} does not exist.")
            if record["Status"] in FINAL_REQUEST_STATUSES:
                raise forbidden(f"The request {rid} is already {REQUEST_STATUS_NAME[record['Status']]}.")
            record["Status"] = REQUEST_STATUS[status]
            if status == "Completed":
                record["Completed"] = record.get("_complete", {}).get("Completed") or json_net_utc(utc_now())
                if record["RequestType"] == REQUEST_TYPE["Enroll"]:
                    self._assign_profile(record)
                card = self.state.smartcards.get(record["NewSmartcardUuid"])
                if card is not None:
                    if card["_profile"] == ZERO_GUID:
                        card["_profile"] = record["NewProfileUuid"]
                    if card["Status"] == SMARTCARD_STATUS["Assigned"] and \
                            record["RequestType"] == REQUEST_TYPE["Enroll"]:
                        card["Status"] = SMARTCARD_STATUS["Active"]
            return json_reply(200, public(record, REQUEST_FIELDS))

    def _executable_request(self, rid):
        record = self.state.requests.get(rid)
        if record is None:
            raise forbidden(f"The request {rid} does not exist.")
        if record["Status"] not in (REQUEST_STATUS["Approved"], REQUEST_STATUS["Executing"]):
            raise forbidden(f"The request {rid} is {REQUEST_STATUS_NAME[record['Status']]}, not Approved: it "
                            "cannot be executed.")
        return record

    def get_crgo(self, request, params, checked):
        rid = path_guid(params, "id", "request id")
        checked()
        with self.state.lock:
            record = self._executable_request(rid)
            return json_reply(200, [dict(self.state.templates[record["ProfileTemplateUuid"]]["crgo"])])

    def certificate_data(self, request, params, checked):
        rid = path_guid(params, "id", "request id")
        body = json_body(request, ("pfxpassword", "certificaterequests", "comments"), ("certificaterequests",))
        for name in ("pfxpassword", "comments"):
            if body.get(name) is not None and not isinstance(body[name], str):
                raise bad(f"The field '{name}' must be a string.")
        csrs = body["certificaterequests"]
        if not isinstance(csrs, list) or not csrs:
            raise bad("The field 'certificaterequests' must be a non-empty array of base64 PKCS#10 requests.")
        ders = []
        for i, csr in enumerate(csrs):
            text = re.sub(r"\s+", "", csr) if isinstance(csr, str) else None
            if not text or not BASE64_RE.match(text):
                raise bad(f"certificaterequests[{i}] is not a base64 string.")
            ders.append(base64.b64decode(text))
        if len(ders) != 1:
            raise bad(f"The request needs 1 certificate request (see certificaterequestgenerationoptions), "
                      f"not {len(ders)}.")
        checked()
        with self.state.lock:
            record = self._executable_request(rid)
            if record.get("_issuing") or record.get("_issued"):
                raise forbidden(f"The certificates of request {rid} were already issued.")
            tpl = self.state.templates[record["ProfileTemplateUuid"]]
            card = None
            if tpl["IsSmartcardProfileTemplate"]:
                card = self.state.smartcards.get(record["NewSmartcardUuid"])
                if card is None:
                    raise forbidden(f"No smart card is assigned to request {rid} (POST smartcards first).")
            record["_issuing"] = True
        results, infos = [], []
        try:
            for der in ders:
                try:
                    pkcs7, info = issue_certificate(self.state.cert_dir, der, tpl["cert_template"])
                except IssueError as e:
                    results.append(self._certificate(tpl, None, f"The CA denied the request: {e}"))
                    continue
                except CaMissing as e:
                    return error_reply(500, f"An error has occurred: {e}.")
                results.append(self._certificate(tpl, base64_lines(pkcs7), None))
                infos.append(info)
        finally:
            with self.state.lock:
                record.pop("_issuing", None)
                if infos:
                    record["_issued"] = True
                    record["Status"] = REQUEST_STATUS["Executing"]
                    owner = self._assign_profile(record)
                    if card is not None:
                        card["_certificates"].extend(infos)
                    else:
                        profile = self.state.profiles.setdefault(owner, {
                            "Uuid": owner, "Status": PROFILE_ACTIVE, "Flags": 1, "ParentProfileUuid": ZERO_GUID,
                            "PrimaryProfileUuid": ZERO_GUID, "AssignedUserUuid": record["TargetUserUuid"],
                            "ProfileTemplateUuid": tpl["Uuid"], "ProfileTemplateVersion": tpl["version"],
                            "Comment": "", "ProfileOperations": ["renew", "disable", "recover"],
                            "_certificates": []})
                        profile["_certificates"].extend(infos)
                    for info in infos:
                        self.state.issued.insert(0, info)
        return json_reply(200, results)

    @staticmethod
    def _certificate(tpl, pkcs7, error):
        return {"TemplateCommonName": tpl["cert_template"], "CertificateId": 0, "Flags": 65536,
                "UseLocalMachineStore": False, "Error": error, "Pkcs7": pkcs7, "Pfx": None, "IsExternal": False,
                "isServerGenerated": False, "isPfx": False, "isPkcs7": pkcs7 is not None, "isKeyHistory": False}

    # -- smart cards ---------------------------------------------------------------------------------
    def assign_smartcard(self, request, params, checked):
        body = json_body(request, ("requestid", "cardid", "atr"), ("requestid", "cardid"))
        rid = body_guid(body["requestid"], "requestid")
        card_id = check_card_id(body["cardid"], "The field 'cardid'")
        atr = check_atr(body["atr"], "The field 'atr'") if body.get("atr") is not None else None
        checked()
        with self.state.lock:
            record = self._executable_request(rid)
            tpl = self.state.templates[record["ProfileTemplateUuid"]]
            if not tpl["IsSmartcardProfileTemplate"]:
                raise forbidden(f"The request {rid} is for a software profile, not a smart card.")
            bound = [c for c in self.state.smartcards.values() if c["_request"] == rid]
            for card in bound:
                if card["_cardid"] != card_id:
                    raise forbidden(f"The request {rid} is already bound to another card ({card['SerialNumber']}).")
                record["NewSmartcardUuid"] = card["Uuid"]  # the same card again: the same smart card
                if atr is not None:
                    card["Atr"] = atr
                return json_reply(201, f"api/v1.0/smartcards/{card['Uuid']}")
            if record["NewSmartcardUuid"] != ZERO_GUID:
                raise forbidden(f"The request {rid} already has the smart card {record['NewSmartcardUuid']}.")
            new_uuid = RESERVED_SMARTCARDS.get((rid, card_id))
            if new_uuid is None or new_uuid in self.state.smartcards:
                new_uuid = str(uuid.uuid4())
            card = smartcard_record(new_uuid, SMARTCARD_STATUS["Assigned"], card_id, tpl["Uuid"], tpl["version"],
                                    request=rid, atr=atr, runtime=True)
            card["AssignedUserUuid"] = record["TargetUserUuid"]
            self.state.smartcards[new_uuid] = card
            record["NewSmartcardUuid"] = new_uuid
        return json_reply(201, f"api/v1.0/smartcards/{new_uuid}")

    def find_smartcards(self, request, params, checked):
        card_id = query_param(request.query, "cardid", False)
        if card_id is not None:
            check_card_id(card_id, "The query parameter 'cardid'")
        checked()
        with self.state.lock:
            cards = list(self.state.smartcards.values())
            if card_id is None:
                found = [public(c, SMARTCARD_FIELDS) for c in cards]
                return json_reply(200, found) if found else no_content()
            matching = [c for c in cards if c["_cardid"] == card_id]
            live = [c for c in matching if c["Status"] != SMARTCARD_STATUS["Retired"]]
            chosen = (live or matching)[-1:]
            return json_reply(200, public(chosen[0], SMARTCARD_FIELDS)) if chosen else no_content()

    def get_smartcard(self, request, params, checked):
        sid = path_guid(params, "id", "smart card id")
        checked()
        with self.state.lock:
            card = self.state.smartcards.get(sid)
            return json_reply(200, public(card, SMARTCARD_FIELDS)) if card else no_content()

    def _card_of_request(self, params, card_id):
        """(request, card, template) for /requests/{reqid}/smartcards/{scid}/... with the cardid check."""
        rid = params["reqid"]
        sid = params["scid"]
        record = self.state.requests.get(rid)
        if record is None:
            raise forbidden(f"The request {rid} does not exist.")
        card = self.state.smartcards.get(sid)
        if card is None:
            raise forbidden(f"The smart card {sid} does not exist.")
        if not self.state.card_belongs_to(card, record):
            raise forbidden(f"The smart card {sid} does not belong to the request {rid}.")
        if card_id is not None and card_id != card["_cardid"]:
            raise forbidden(f"The card id {card_id} is not the card bound to smart card {sid} "
                            f"({card['SerialNumber']}).")
        if card["Status"] == SMARTCARD_STATUS["Retired"]:
            raise forbidden(f"The smart card {sid} is retired.")
        return record, card, self.state.templates[card["ProfileTemplateUuid"]]

    def _card_query(self, request, params):
        params = dict(params)
        params["reqid"] = path_guid(params, "reqid", "request id")
        params["scid"] = path_guid(params, "scid", "smart card id")
        card_id = check_card_id(query_param(request.query, "cardid", True), "The query parameter 'cardid'")
        atr = query_param(request.query, "atr", False)
        if atr is not None:
            check_atr(atr, "The query parameter 'atr'")
        return params, card_id

    def get_diversified_key(self, request, params, checked):
        params, card_id = self._card_query(request, params)
        checked()
        with self.state.lock:
            _, card, tpl = self._card_of_request(params, card_id)
            if not tpl["config"]["DiversifyAdminKey"]:
                return no_content()  # the template does not diversify the admin key
            return json_reply(200, base64.b64encode(self.state.card_key(card)).decode("ascii"))

    def authentication_response(self, request, params, checked):
        params, card_id = self._card_query(request, params)
        challenge = query_param(request.query, "challenge", True)
        if not BASE64_RE.match(challenge):
            raise bad(f"The query parameter 'challenge' ('{challenge}') is not valid base64 (a '+' must be sent "
                      "percent-encoded as %2B).")
        raw = base64.b64decode(challenge)
        if len(raw) != 8:
            raise bad(f"The query parameter 'challenge' decodes to {len(raw)} bytes; a 3DES challenge is 8.")
        diversified = parse_bool(query_param(request.query, "diversified", True), "diversified")
        checked()
        with self.state.lock:
            _, card, tpl = self._card_of_request(params, card_id)
            key = self.state.card_key(card) if diversified else bytes.fromhex(tpl["config"]["DefaultAdminKeyHex"])
        return json_reply(200, base64.b64encode(tdes_ede_encrypt(key, raw)).decode("ascii"))

    def update_smartcard_status(self, request, params, checked):
        rid = path_guid(params, "reqid", "request id")
        sid = path_guid(params, "scid", "smart card id")
        body = json_body(request, ("status",), ("status",))
        status = enum_value(body["status"], tuple(SMARTCARD_STATUS), "The smart card status")
        checked()
        with self.state.lock:
            record = self.state.requests.get(rid)
            card = self.state.smartcards.get(sid)
            if record is None:
                raise forbidden(f"The request {rid} does not exist.")
            if card is None:
                raise forbidden(f"The smart card {sid} does not exist.")
            if not self.state.card_belongs_to(card, record):
                raise forbidden(f"The smart card {sid} does not belong to the request {rid}.")
            card["Status"] = SMARTCARD_STATUS[status]
            if status == "Retired":
                for cert in card["_certificates"]:
                    cert["_retired"] = True
            return json_reply(200, public(card, SMARTCARD_FIELDS))

    # -- profiles --------------------------------------------------------------------------------------
    @staticmethod
    def _profile_status(request):
        status = query_param(request.query, "status", False)
        if status is None:
            return None
        name = enum_value(status, PROFILE_STATUS_FILTER, "The status")
        return {"Active": PROFILE_ACTIVE, "None": 0}.get(name, -1)  # the emulator's profiles are all Active

    def _profiles(self, predicate, status):
        with self.state.lock:
            return [public(p, PROFILE_FIELDS) for p in self.state.profiles.values()
                    if predicate(p) and (status is None or p["Status"] == status)]

    def list_profiles(self, request, params, checked):
        status = self._profile_status(request)
        checked()
        found = self._profiles(lambda p: True, status)
        return json_reply(200, found) if found else no_content()

    def get_profile(self, request, params, checked):
        pid = path_guid(params, "id", "profile id")
        status = self._profile_status(request)
        checked()
        found = self._profiles(lambda p: p["Uuid"] == pid, status)
        return json_reply(200, found) if found else no_content()

    def list_request_profiles(self, request, params, checked):
        rid = path_guid(params, "id", "request id")
        status = self._profile_status(request)
        checked()
        with self.state.lock:
            record = self.state.requests.get(rid)
            ids = {record["NewProfileUuid"], record["OldProfileUuid"]} - {ZERO_GUID} if record else set()
        found = self._profiles(lambda p: p["Uuid"] in ids, status)
        return json_reply(200, found) if found else no_content()

    def get_profile_operations(self, request, params, checked):
        pid = path_guid(params, "id", "profile id")
        checked()
        with self.state.lock:
            profile = self.state.profiles.get(pid)
            operations = list(profile["ProfileOperations"]) if profile else []
        return json_reply(200, operations) if operations else no_content()

    def get_smartcard_operations(self, request, params, checked):
        sid = path_guid(params, "id", "smart card id")
        checked()
        with self.state.lock:
            card = self.state.smartcards.get(sid)
            if card is None:
                return no_content()
            operations = card["_operations"] if card["_operations"] is not None and \
                card["Status"] == SMARTCARD_STATUS["Active"] else SMARTCARD_OPERATIONS[card["Status"]]
        return json_reply(200, list(operations)) if operations else no_content()

    # -- certificates ------------------------------------------------------------------------------------
    def get_profile_certificates(self, request, params, checked):
        pid = path_guid(params, "id", "profile id")
        checked()
        with self.state.lock:
            profile = self.state.profiles.get(pid)
            found = [public(c, CERT_SHORT) for c in (profile["_certificates"] if profile else [])]
        return json_reply(200, found) if found else no_content()

    def get_smartcard_certificates(self, request, params, checked):
        sid = path_guid(params, "id", "smart card id")
        checked()
        with self.state.lock:
            card = self.state.smartcards.get(sid)
            found = [public(c, CERT_SHORT) for c in (card["_certificates"] if card else [])]
        return json_reply(200, found) if found else no_content()

    def get_user_certificates(self, request, params, checked):
        checked()
        with self.state.lock:
            found = [public(c, CERT_LONG) for c in self.state.issued + self.state.user_certificates
                     if not c.get("_retired")]
        return json_reply(200, found) if found else no_content()


class _Fault(ApiError):
    def __init__(self, reply):
        super().__init__(reply.status, "")
        self.reply = reply


# ---------------------------------------------------------------------------------------------------
# Control API additions (registered by cm_emulator.py under /_emulator/)
# ---------------------------------------------------------------------------------------------------

def fault_text(request):
    """What a fault's request_contains is looked for in: the path, the raw query and the body."""
    return request.path + "?" + request.raw_query + "\n" + request.body.decode("utf-8", errors="replace")


IMF_FIXDATE = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} "
                         r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} "
                         r"[0-9]{2}:[0-9]{2}:[0-9]{2} GMT")


def validate_retry_after(name, value):
    """A fault's "retry_after": delay seconds (0 to 86400) or an IMF-fixdate string (RFC 9110
    §5.6.7) naming a real date and its weekday. Anything else raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"{name}: \"retry_after\" must be an integer of seconds or an HTTP-date string")
    if isinstance(value, int):
        if not 0 <= value <= 86400:
            raise ValueError(f"{name}: \"retry_after\" seconds must be from 0 to 86400")
        return
    try:
        if not IMF_FIXDATE.fullmatch(value):
            raise ValueError("not an IMF-fixdate")
        parsed = datetime.datetime.strptime(value, "%a, %d %b %Y %H:%M:%S GMT")
        if parsed.strftime("%a, %d %b %Y %H:%M:%S GMT") != value:
            raise ValueError("not a real date, or not its weekday")
    except ValueError as e:
        raise ValueError(f"{name}: \"retry_after\" {value!r} is not an HTTP-date like "
                         f"\"Sun, 06 Nov 1994 08:49:37 GMT\" ({e})") from None


def validate_faults(value):
    """Body of PUT /_emulator/faults: {"<operation>": {"status": 403, "times": 1, "message": "..."} | null}.
    Returns the normalized dict or raises ValueError."""
    if not isinstance(value, dict) or not value:
        raise ValueError("body must be a non-empty object {\"<operation>\": {\"status\": N, \"times\": N} | null}")
    result = {}
    for name, fault in value.items():
        if name not in OPERATIONS:
            raise ValueError(f"unknown operation {name!r}; the operations are the names of endpoints.tsv: "
                             + ", ".join(OPERATIONS))
        if fault is None:
            result[name] = None
            continue
        if not isinstance(fault, dict) or "status" not in fault or \
                set(fault) - {"status", "times", "message", "correlation_id", "body", "retry_after",
                              "request_contains"}:
            raise ValueError(f"{name}: a fault is {{\"status\": N, \"times\": N, \"message\": \"...\", "
                             "\"correlation_id\": \"...\", \"body\": <JSON>, \"retry_after\": N | \"<HTTP-date>\", "
                             "\"request_contains\": \"...\"}} (status required)")
        status, times = fault["status"], fault.get("times", 1)
        lowest = 200 if "body" in fault else 400
        if isinstance(status, bool) or not isinstance(status, int) or not lowest <= status <= 599 or \
                status in (204, 304):
            raise ValueError(f"{name}: \"status\" must be an integer from {lowest} to 599 (not 204 or 304)")
        if "body" in fault and set(fault) & {"message", "correlation_id"}:
            raise ValueError(f"{name}: \"body\" replaces \"message\" and \"correlation_id\"")
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError(f"{name}: \"times\" must be a positive integer")
        for key in ("message", "correlation_id"):
            if key in fault and not isinstance(fault[key], str):
                raise ValueError(f"{name}: \"{key}\" must be a string")
        if "retry_after" in fault:
            validate_retry_after(name, fault["retry_after"])
        if "request_contains" in fault:
            scope = fault["request_contains"]
            if not isinstance(scope, str) or not 1 <= len(scope) <= 200 or not scope.isprintable():
                raise ValueError(f"{name}: \"request_contains\" must be 1 to 200 printable characters "
                                 "found in the request's path, query or body (e.g. a fresh id or comment)")
        result[name] = dict(fault, times=times)
    return result


def routes(state):
    """(method, path after /api/v1.0, handler, operation) of every stateful operation."""
    return CmApiRoutes(state).routes()
