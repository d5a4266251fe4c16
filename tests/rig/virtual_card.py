#!/usr/bin/python3
"""A virtual smart card for the mimcm test rig.

The card connects to vpcd (the vsmartcard reader driver loaded by pcscd) and
answers APDUs like a Microsoft GIDS card, a NIST SP 800-73-4 PIV card, or a
card with no known applet.  See tests/rig/README.md ("Virtual card") for the
command line and the behaviour of each profile.

Layout of this file:
  * Apdu / CardError / helpers     parsing and encoding
  * des3_ede_encrypt, des3_cbc,     3DES-EDE / AES-192 for the admin and
    block_encrypt                   management key challenge-responses
  * ChallengeSource                 fixed or random challenges
  * CardSecrets                     admin key, PIN, PUK, admin state; the --state-file
  * Applet, GidsApplet              one class per card edge (add commands here)
  * der_*, PivSigner, PivApplet     DER, X.509 and CMS of the PIV objects; PIV
  * VirtualCardOS                   applet selection plus the transport shaping
                                    (Le with 61xx, T=0 GET RESPONSE, 6C retry, log)
  * VpcdLink, main()                the vpcd connection and process lifetime

Strict like the real applets (GidsApplet, PivApplet on Java Card; see
tests/rig/README.md): a SELECT of an applet by AID -- also of the applet that
is already selected -- drops every pending challenge and the admin and PIN
authentication, as a card reset or power-off does.  GIDS has no GET
CHALLENGE / EXTERNAL AUTHENTICATE (6D 00) unless --legacy-challenge asks for a
card that has only those.
"""

import argparse
import importlib.util
import json
import logging
import os
import signal
import socket
import struct
import sys

# Debian installs the virtualsmartcard package outside sys.path.
VSMARTCARD_PATH = "/usr/lib/python3/site-packages/virtualsmartcard"


def alias_pycryptodome():
    """virtualsmartcard imports 'Crypto'; Debian ships pycryptodome as 'Cryptodome'."""
    if importlib.util.find_spec("Crypto") is not None:
        return                      # a classic PyCrypto(dome) install
    import Cryptodome
    import Cryptodome.Cipher
    import Cryptodome.Hash
    sys.modules["Crypto"] = Cryptodome
    sys.modules["Crypto.Cipher"] = Cryptodome.Cipher
    sys.modules["Crypto.Hash"] = Cryptodome.Hash


sys.path.insert(0, VSMARTCARD_PATH)
alias_pycryptodome()
from virtualsmartcard.VirtualSmartcard import SmartcardOS, VirtualICC  # noqa: E402

try:  # Debian's pycryptodome
    from Cryptodome.Cipher import AES, DES, DES3
    from Cryptodome.Hash import SHA256
    from Cryptodome.PublicKey import ECC
    from Cryptodome.Signature import DSS
except ImportError:  # a classic install under the name Crypto
    from Crypto.Cipher import AES, DES, DES3
    from Crypto.Hash import SHA256
    from Crypto.PublicKey import ECC
    from Crypto.Signature import DSS

VPCD_HOST = "localhost"
VPCD_BASE_PORT = 35963  # slot 0; slot 1 is 35964

DEFAULT_CARD_ID = "3ff188bcba833740826246eba1291c6e"
DEFAULT_ADMIN_KEY = bytes(24)   # GIDS default admin key / the MIM CM docs' example key
DEFAULT_PIN = "12345678"
DEFAULT_PUK = "12345678"
PIN_TRIES = 3
PUK_TRIES = 3

# Exit codes (2 is argparse's bad command line; SIGTERM/SIGINT exit 0).
EXIT_VPCD_GONE = 3      # vpcd closed the connection: pcscd stopped
EXIT_NO_VPCD = 4        # cannot connect: pcscd/vpcd not running
EXIT_PULLED = 5         # --fault pull: the card left the reader on purpose

# Default ATRs per profile: (T=1 ATR, T=0 ATR).
# gids T=1: a Microsoft virtual (TPM) smart card, historical bytes 80 FB <GIDS AID>.
# piv  T=1: an Oberthur ID-One PIV End Point card (listed in pcsc-tools).
# none T=1: a minimal T=1 ATR with a single category byte.
# The T=0 variants carry the same historical bytes with no TD1 (T=0 only, no TCK);
# 3b021450 is a Schlumberger Multiflex, which pcscd negotiates as T=0.
DEFAULT_ATRS = {
    "gids": ("3b8d0180fba000000397425446590301c8", "3b0d80fba000000397425446590301"),
    "piv": ("3bdb960081b1fe451f0380f9a0000003080000100018",
            "3b0b80f9a00000030800001000"),
    "none": ("3b81018000", "3b021450"),
}

# Status words
SW_OK = 0x9000
SW_NO_PRECISE_DIAGNOSIS = 0x6F00  # GidsApplet: a response with no key selected by MSE SET
SW_AUTH_FAILED = 0x6300          # EXTERNAL AUTHENTICATE: wrong response
SW_WRONG_LENGTH = 0x6700
SW_SECURITY_NOT_SATISFIED = 0x6982
SW_AUTH_BLOCKED = 0x6983
SW_CHAINING_UNSUPPORTED = 0x6884
SW_CONDITIONS_NOT_SATISFIED = 0x6985
SW_WRONG_DATA = 0x6A80
SW_NOT_FOUND = 0x6A82
SW_FUNC_NOT_SUPPORTED = 0x6A81
SW_WRONG_P1P2 = 0x6A86
SW_REF_NOT_FOUND = 0x6A88
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00

INS_SELECT = 0xA4
INS_GET_DATA = 0xCB
INS_GET_CHALLENGE = 0x84
INS_GENERAL_AUTHENTICATE = 0x87
INS_GET_RESPONSE = 0xC0
INS_EXTERNAL_AUTHENTICATE = 0x82
INS_PUT_DATA = 0xDB
INS_RESET_RETRY_COUNTER = 0x2C
INS_VERIFY = 0x20
INS_MSE = 0x22                    # MANAGE SECURITY ENVIRONMENT
INS_SET_MANAGEMENT_KEY = 0xFF     # Yubico PIV extension
INS_GET_METADATA = 0xF7           # Yubico PIV extension

# Commands that need a selected applet; before the SELECT they answer 69 85.
APPLET_COMMANDS = (INS_GET_DATA, INS_GET_CHALLENGE, INS_GENERAL_AUTHENTICATE,
                   INS_EXTERNAL_AUTHENTICATE, INS_PUT_DATA, INS_RESET_RETRY_COUNTER, INS_VERIFY,
                   INS_SET_MANAGEMENT_KEY, INS_MSE, INS_GET_METADATA)


# --------------------------------------------------------------------------
# APDU parsing and encoding helpers
# --------------------------------------------------------------------------

class CardError(Exception):
    """Raised by a command handler to answer a bare status word."""

    def __init__(self, sw):
        super().__init__("SW %04X" % sw)
        self.sw = sw


class Apdu:
    """A parsed short command APDU (ISO 7816-4 cases 1 to 4).

    le is None when the command has no Le field, else 1..256 (00 means 256).
    Extended-length APDUs are refused with 67 00.
    """

    def __init__(self, raw):
        if len(raw) < 4:
            raise CardError(SW_WRONG_LENGTH)
        self.raw = bytes(raw)
        self.cla, self.ins, self.p1, self.p2 = raw[0], raw[1], raw[2], raw[3]
        self.data = b""
        self.le = None
        body = raw[4:]
        if len(body) == 1:                      # case 2
            self.le = body[0] or 256
        elif len(body) > 1:
            lc = body[0]
            if lc == 0:                         # extended length: not supported
                raise CardError(SW_WRONG_LENGTH)
            if len(body) == 1 + lc:             # case 3
                self.data = bytes(body[1:])
            elif len(body) == 2 + lc:           # case 4
                self.data = bytes(body[1:-1])
                self.le = body[-1] or 256
            else:
                raise CardError(SW_WRONG_LENGTH)

    @property
    def p1p2(self):
        return (self.p1 << 8) | self.p2


def ber_length(n):
    if n < 0x80:
        return bytes([n])
    if n < 0x100:
        return bytes([0x81, n])
    return bytes([0x82, n >> 8, n & 0xFF])


def tlv(tag, value):
    """BER-TLV with a 1- or 2-byte tag given as an int."""
    tag_bytes = bytes([tag]) if tag < 0x100 else struct.pack(">H", tag)
    return tag_bytes + ber_length(len(value)) + value


def sw_bytes(sw):
    return struct.pack(">H", sw)


def more_data(remaining):
    """61 xx: xx more bytes wait for GET RESPONSE (00 = 256 or more)."""
    return bytes([0x61, min(remaining, 256) & 0xFF])


def le_of(raw):
    """The Le byte of a command as sent (None without one), parse errors aside."""
    try:
        le = Apdu(raw).le
    except CardError:
        return None
    return None if le is None else le & 0xFF


def parse_hex(text, length=None):
    """argparse type: a hex string, optionally of an exact byte length."""
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a hex string: %r" % text)
    if not value:
        raise argparse.ArgumentTypeError("empty value")
    if length is not None and len(value) != length:
        raise argparse.ArgumentTypeError(
            "need %d bytes (%d hex digits), got %d bytes" % (length, 2 * length, len(value)))
    return value


def parse_pin(text):
    """argparse type: a PIN of 4..16 bytes (UTF-8)."""
    if not 4 <= len(text.encode()) <= 16:
        raise argparse.ArgumentTypeError("a PIN has 4 to 16 bytes, got %d" % len(text.encode()))
    return text


# --------------------------------------------------------------------------
# 3DES
# --------------------------------------------------------------------------

def _des3_ede(key, block, decrypt):
    """3DES-EDE (ECB, no padding) of one 8-byte block with a 24-byte key.
    pycryptodome's DES3 refuses degenerate keys (K1 == K2 or K2 == K3, e.g.
    the all-zero GIDS default key or the PIV vendor default 0102030405060708
    x 3), so those are computed from single DES."""
    if len(key) != 24 or len(block) != 8:
        raise ValueError("3DES-EDE needs a 24-byte key and an 8-byte block")
    try:
        cipher = DES3.new(key, DES3.MODE_ECB)
        return cipher.decrypt(block) if decrypt else cipher.encrypt(block)
    except ValueError:
        pass
    k1, k2, k3 = key[:8], key[8:16], key[16:]
    if decrypt:
        step = DES.new(k3, DES.MODE_ECB).decrypt(block)
        step = DES.new(k2, DES.MODE_ECB).encrypt(step)
        return DES.new(k1, DES.MODE_ECB).decrypt(step)
    step = DES.new(k1, DES.MODE_ECB).encrypt(block)
    step = DES.new(k2, DES.MODE_ECB).decrypt(step)
    return DES.new(k3, DES.MODE_ECB).encrypt(step)


def des3_ede_encrypt(key, block):
    """E(K3, D(K2, E(K1, block))): what MIM CM computes as the admin challenge
    response.  Check: all-zero key, challenge d61143f9ccffd2ca ->
    17466e766e303cb6 (the MIM CM docs example, base64 1hFD+cz/0so= ->
    F0Zudm4wPLY=)."""
    return _des3_ede(key, block, decrypt=False)


def des3_ede_decrypt(key, block):
    return _des3_ede(key, block, decrypt=True)


def des3_cbc(key, data, decrypt=False):
    """3DES-EDE in CBC mode with a zero IV, no padding (GIDS mutual
    authentication; for one block it equals ECB)."""
    if len(data) % 8:
        raise ValueError("3DES-CBC needs whole 8-byte blocks")
    out, prev = b"", bytes(8)
    for i in range(0, len(data), 8):
        block = data[i:i + 8]
        if decrypt:
            out += bytes(a ^ b for a, b in zip(des3_ede_decrypt(key, block), prev))
            prev = block
        else:
            prev = des3_ede_encrypt(key, bytes(a ^ b for a, b in zip(block, prev)))
            out += prev
    return out


def block_encrypt(alg, key, block):
    """One block of the PIV management key algorithm: 03 = 3DES (8-byte
    blocks), 0A = AES-192 (16-byte blocks); ECB, no padding."""
    if alg == ALG_AES192:
        return AES.new(key, AES.MODE_ECB).encrypt(block)
    return des3_ede_encrypt(key, block)


def block_decrypt(alg, key, block):
    if alg == ALG_AES192:
        return AES.new(key, AES.MODE_ECB).decrypt(block)
    return des3_ede_decrypt(key, block)


ALG_3DES = 0x03
ALG_AES192 = 0x0A
BLOCK_SIZE = {ALG_3DES: 8, ALG_AES192: 16}


# --------------------------------------------------------------------------
# Challenges
# --------------------------------------------------------------------------

class ChallengeSource:
    """8-byte challenges: the fixed --challenge value, or fresh random bytes."""

    def __init__(self, fixed=None):
        self.fixed = fixed

    def next(self, length=8):
        """A challenge of length bytes; a fixed 8-byte value is repeated for
        16-byte (AES) challenges."""
        if self.fixed is not None:
            return (self.fixed * (length // 8 + 1))[:length]
        return os.urandom(length)


# --------------------------------------------------------------------------
# Card secrets and the state file
# --------------------------------------------------------------------------

class CardSecrets:
    """The admin key, the user PIN with its retry counter, and the session's
    admin/PIN authentication state: one set per card, shared by its applets.

    With a state file, every change (and the start) rewrites it atomically
    (temporary file + rename) as
      {"admin_key": "<hex>", "pin": "<text>", "admin_authenticated": bool,
       "pin_tries_left": n}
    so tests can assert what the card holds.
    """

    def __init__(self, admin_key, pin, state_file=None, puk=DEFAULT_PUK):
        self.admin_key = admin_key
        self.pin = pin
        self.puk = puk
        self.pin_tries_left = PIN_TRIES
        self.puk_tries_left = PUK_TRIES
        self.admin_authenticated = False
        self.pin_verified = False
        self.state_file = state_file
        self.save()

    def snapshot(self):
        return {"admin_key": self.admin_key.hex(), "pin": self.pin,
                "admin_authenticated": self.admin_authenticated,
                "pin_tries_left": self.pin_tries_left,
                "puk_tries_left": self.puk_tries_left}

    def save(self):
        if self.state_file is None:
            return
        directory = os.path.dirname(os.path.abspath(self.state_file))
        tmp = os.path.join(directory, ".%s.%d.tmp" % (os.path.basename(self.state_file),
                                                      os.getpid()))
        with open(tmp, "w") as f:
            json.dump(self.snapshot(), f)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.state_file)

    def end_session(self):
        """Reset, power-off, a SELECT of an applet (also the one already
        selected) or a logout: admin and PIN authentication are gone."""
        changed = self.admin_authenticated
        self.admin_authenticated = False
        self.pin_verified = False
        if changed:
            self.save()

    def set_admin(self, value):
        if self.admin_authenticated != value:
            self.admin_authenticated = value
            self.save()

    def set_admin_key(self, key):
        self.admin_key = key
        self.save()

    def set_pin(self, pin):
        """RESET RETRY COUNTER: new PIN, tries back to PIN_TRIES."""
        self.pin = pin
        self.pin_tries_left = PIN_TRIES
        self.pin_verified = False
        self.save()

    def verify_pin(self, candidate):
        """VERIFY with data: 90 00, 63 Cx (x tries left) or 69 83 (blocked)."""
        if self.pin_tries_left == 0:
            raise CardError(SW_AUTH_BLOCKED)
        if candidate == self.pin.encode():
            self.pin_verified = True
            if self.pin_tries_left != PIN_TRIES:
                self.pin_tries_left = PIN_TRIES
                self.save()
            return
        self.pin_verified = False
        self.pin_tries_left -= 1
        self.save()
        raise CardError(0x63C0 | self.pin_tries_left)

    def pin_status(self):
        """VERIFY without data: 90 00 when verified in this session, else 63 Cx
        (69 83 when blocked)."""
        if self.pin_tries_left == 0:
            raise CardError(SW_AUTH_BLOCKED)
        if not self.pin_verified:
            raise CardError(0x63C0 | self.pin_tries_left)

    def check_response(self, challenge, response):
        """Is response 3DES-EDE(admin key, challenge)?"""
        return des3_ede_encrypt(self.admin_key, challenge) == response

    def unblock_with_puk(self, puk, new_pin):
        """PIV RESET RETRY COUNTER: 90 00 (new PIN, PIN tries back), 63 Cx
        (x PUK tries left) or 69 83 (PUK blocked)."""
        if self.puk_tries_left == 0:
            raise CardError(SW_AUTH_BLOCKED)
        if puk != self.puk.encode():
            self.puk_tries_left -= 1
            self.save()
            raise CardError(0x63C0 | self.puk_tries_left)
        self.puk_tries_left = PUK_TRIES
        self.set_pin(new_pin)


# --------------------------------------------------------------------------
# Applets (one per card edge)
# --------------------------------------------------------------------------

class Applet:
    """Base class of a card application.

    A subclass sets FULL_AID and MIN_AID_LEN (the shortest AID prefix a SELECT
    may use), implements fci() and registers its command handlers in
    self.handlers (INS -> method(apdu) returning the response data, or raising
    CardError).  Per-session state (challenges, the key chosen by MSE SET) is
    dropped by reset(), which the card OS calls on reset/power-off and on every
    SELECT of an applet by AID -- selecting the applet that is already selected
    counts as a deselect, as on Java Card; the authentication state lives in
    the shared CardSecrets and is dropped at the same moments.
    """

    NAME = "applet"
    FULL_AID = b""
    MIN_AID_LEN = 0

    def __init__(self, challenges, secrets):
        self.challenges = challenges
        self.secrets = secrets
        self.handlers = {}
        self.last_challenge = None

    def matches_aid(self, aid):
        return len(aid) >= self.MIN_AID_LEN and self.FULL_AID.startswith(aid)

    def fci(self):
        return b""

    def select_file(self, apdu):
        """SELECT by file id or path (P1 00/08); applets without a file
        system answer 6A 82."""
        raise CardError(SW_NOT_FOUND)

    def reset(self):
        """Called on card reset/power-off and on every SELECT by AID."""
        self.last_challenge = None

    def handle(self, apdu):
        handler = self.handlers.get(apdu.ins)
        if handler is None:
            raise CardError(SW_INS_NOT_SUPPORTED)
        return handler(apdu)

    def issue_challenge(self, length=8):
        """Make a new challenge and remember it for a later authentication."""
        self.last_challenge = self.challenges.next(length)
        return self.last_challenge

    def take_challenge(self):
        """The pending challenge, used up by this call (None when there is none)."""
        challenge, self.last_challenge = self.last_challenge, None
        return challenge

    def require_admin(self):
        if not self.secrets.admin_authenticated:
            raise CardError(SW_SECURITY_NOT_SATISFIED)


def parse_tlvs(data):
    """A list of (tag, value) of a flat BER-TLV string with 1-byte tags and
    lengths 00..7F, 81 xx, 82 xxxx; CardError(6A 80) when malformed."""
    items, i = [], 0
    while i < len(data):
        if i + 2 > len(data):
            raise CardError(SW_WRONG_DATA)
        tag, length = data[i], data[i + 1]
        i += 2
        if length == 0x81 and i < len(data):
            length, i = data[i], i + 1
        elif length == 0x82 and i + 1 < len(data):
            length, i = (data[i] << 8) | data[i + 1], i + 2
        elif length >= 0x80:
            raise CardError(SW_WRONG_DATA)
        if i + length > len(data):
            raise CardError(SW_WRONG_DATA)
        items.append((tag, data[i:i + length]))
        i += length
    return items


def dynamic_auth_template(data):
    """The contents of a GENERAL AUTHENTICATE 7C template as {tag: value}."""
    items = parse_tlvs(data)
    if len(items) != 1 or items[0][0] != 0x7C:
        raise CardError(SW_WRONG_DATA)
    inner = {}
    for tag, value in parse_tlvs(items[0][1]):
        if tag in inner:
            raise CardError(SW_WRONG_DATA)
        inner[tag] = value
    return inner


class GidsApplet(Applet):
    """Microsoft Generic Identity Device Specification (GIDS) v2 card edge,
    as the GidsApplet Java Card applet behaves.

    Files live in DOs inside EFs and are located through the master file
    table (EF A000, DO DF1F), like the Windows GIDS minidriver does.  The
    admin key (key reference 80) is authenticated with MSE SET + GENERAL
    AUTHENTICATE, externally (8-byte challenge) or mutually (16-byte randoms,
    3DES-CBC); GET CHALLENGE and EXTERNAL AUTHENTICATE exist only with
    legacy=True (--legacy-challenge), which refuses MSE SET and GENERAL
    AUTHENTICATE instead.
    """

    NAME = "gids"
    FULL_AID = bytes.fromhex("A000000397425446590201")   # RID/PIX + version 02 01
    MIN_AID_LEN = 9                                        # sent without the version

    MF_EF, MF_DO = 0xA000, 0xDF1F
    APPLET_FID = 0x3FFF            # the GIDS application DF
    MF_FID = 0x3F00
    PIN_STATUS_DOS = (0x7F71, 0x7F72)

    # (directory, file, DO, EF) as in the minidriver spec's default profile.
    LAYOUT_DEFAULT = [
        ("mscp", "", 0x0000, 0xA000),
        ("", "cardid", 0xDF20, 0xA012),
        ("", "cardapps", 0xDF21, 0xA010),
        ("", "cardcf", 0xDF22, 0xA010),
        ("mscp", "cmapfile", 0xDF23, 0xA010),
    ]
    # The card id elsewhere and late in the table, so hard-coded A012/DF20 fails.
    LAYOUT_ALT = [
        ("mscp", "", 0x0000, 0xA000),
        ("", "cardapps", 0xDF21, 0xA010),
        ("", "cardcf", 0xDF22, 0xA010),
        ("mscp", "cmapfile", 0xDF23, 0xA010),
        ("", "cardid", 0xDF24, 0xA013),
    ]

    # PUT DATA of the admin key (EF B080, key 80, 3DES, 24 bytes), the exact
    # bytes of the minidriver spec ("Create EF for Admin Key"):
    #   00 DB 3F FF 26 70 24 84 01 80 A5 1F 87 18 <key> 88 03 B0 73 DC
    ADMIN_KEY_PREFIX = bytes.fromhex("7024 840180 A51F 8718")
    ADMIN_KEY_SUFFIX = bytes.fromhex("8803B073DC")
    KEY_ADMIN = 0x80
    PIN_REF = 0x80
    PIN_LOGOUT_REF = 0x82          # VERIFY 00 20 00 82: log every PIN and the admin out

    # MSE SET P1: 81 external authentication (verification), C1 mutual; P2 A4
    # (authentication template); data 83 01 <key reference>.
    MSE_SET_AUTH = (0x81, 0xC1)
    MSE_AUTH_TEMPLATE = 0xA4
    EXTERNAL, MUTUAL = "external", "mutual"

    def __init__(self, challenges, secrets, card_id, layout="default", legacy=False):
        super().__init__(challenges, secrets)
        self.card_id = card_id
        self.legacy = legacy
        self.records = self.LAYOUT_ALT if layout == "alt" else self.LAYOUT_DEFAULT
        contents = {
            "cardid": card_id,
            "cardapps": b"mscp".ljust(8, b"\0"),   # list of 8-byte application names
            "cardcf": bytes(6),                    # cache freshness counters
            "cmapfile": b"",                       # no key containers yet
        }
        # (EF, DO) -> content
        self.objects = {(self.MF_EF, self.MF_DO): self.master_file_table()}
        for directory, name, do, ef in self.records:
            if name:
                self.objects[(ef, do)] = contents[name]
        self.efs = sorted({ef for _, _, _, ef in self.records})
        self.handlers = {
            INS_GET_DATA: self.get_data,
            INS_PUT_DATA: self.put_data,
            INS_RESET_RETRY_COUNTER: self.reset_retry_counter,
            INS_VERIFY: self.verify,
        }
        if legacy:
            self.handlers[INS_GET_CHALLENGE] = self.get_challenge
            self.handlers[INS_EXTERNAL_AUTHENTICATE] = self.external_authenticate
        else:
            self.handlers[INS_MSE] = self.manage_security_environment
            self.handlers[INS_GENERAL_AUTHENTICATE] = self.general_authenticate
        self.reset()

    def reset(self):
        super().reset()
        self.key_ref = None          # the key chosen by MSE SET
        self.auth_mode = None        # EXTERNAL or MUTUAL while a challenge is pending
        self.host_random = None      # R1 of a mutual authentication

    def logout(self):
        """GidsApplet's DeauthenticateAllPin: PIN and admin logged out, the
        pending challenge and the MSE SET key choice dropped."""
        self.reset()
        self.secrets.end_session()

    def master_file_table(self):
        table = bytearray([0x01])
        for directory, name, do, ef in self.records:
            table += struct.pack("<9s9s2xII", directory.encode(), name.encode(), do, ef)
        return bytes(table)

    def fci(self):
        # 73 03 40 01 C0: cryptographic mechanisms (external and mutual
        # authentication), which tells Windows to use the 8-byte external form.
        return tlv(0x61, tlv(0x4F, self.FULL_AID) + bytes.fromhex("730340 01C0"))

    def fcp(self, fid, is_df):
        descriptor = b"\x38" if is_df else b"\x01"   # DF / transparent working EF
        return tlv(0x62, tlv(0x82, descriptor) + tlv(0x83, struct.pack(">H", fid)))

    def select_file(self, apdu):
        """SELECT by file id (P1 00: 3FFF or 3F00 = the application DF, or one
        of its EFs; no data = the DF) or by path from the MF (P1 08).  This is
        not an applet selection: challenge and login stay.  P2 00 and 04
        answer the FCP (62 ...), 0C nothing.  (GidsApplet answers P2 00 with
        its 61 application template for the DF and 6A 86 for an EF; OpenSC,
        which asks with P2 00, accepts only 62 or 6F there.)"""
        if apdu.p2 & 0xF3:
            raise CardError(SW_WRONG_P1P2)
        data = apdu.data
        if apdu.p1 == 0x00:
            if len(data) not in (0, 2):
                raise CardError(SW_WRONG_LENGTH)
        elif apdu.p1 == 0x08:
            if not data or len(data) % 2:
                raise CardError(SW_WRONG_LENGTH)
            if data[:2] == struct.pack(">H", self.APPLET_FID):
                data = data[2:]
            if len(data) > 2:
                raise CardError(SW_NOT_FOUND)
        else:
            raise CardError(SW_WRONG_P1P2)
        fid = struct.unpack(">H", data)[0] if data else self.APPLET_FID
        is_df = fid in (self.APPLET_FID, self.MF_FID)
        if not is_df and fid not in self.efs:
            raise CardError(SW_NOT_FOUND)
        what = apdu.p2 & 0x0C
        if what == 0x0C:
            return b""
        if what in (0x00, 0x04):
            return self.fcp(fid, is_df)
        raise CardError(SW_WRONG_P1P2)

    def get_data(self, apdu):
        data = apdu.data
        if len(data) != 4 or data[0] != 0x5C or data[1] != 0x02:
            raise CardError(SW_WRONG_DATA)
        do = (data[2] << 8) | data[3]
        if apdu.p1p2 == self.APPLET_FID:
            # 00 CB 3F FF 04 5C 02 7F 71 00 -> 7F 71 06 97 01 <tries left> 93 01 <max>
            if do not in self.PIN_STATUS_DOS:
                raise CardError(SW_WRONG_DATA)
            return tlv(do, tlv(0x97, bytes([self.secrets.pin_tries_left]))
                       + tlv(0x93, bytes([PIN_TRIES])))
        content = self.objects.get((apdu.p1p2, do))
        if content is None:
            raise CardError(SW_NOT_FOUND)
        return tlv(do, content)

    # -- admin authentication, GIDS style --------------------------------
    def manage_security_environment(self, apdu):
        """00 22 81|C1 A4 03 83 01 80: the admin key for external or mutual
        authentication."""
        if apdu.p1 not in self.MSE_SET_AUTH:
            raise CardError(SW_FUNC_NOT_SUPPORTED)
        items = dict(parse_tlvs(apdu.data))
        key = items.get(0x83)
        if apdu.p2 != self.MSE_AUTH_TEMPLATE or key is None or len(key) != 1:
            raise CardError(SW_WRONG_DATA)
        if key[0] != self.KEY_ADMIN:
            raise CardError(SW_WRONG_DATA)
        self.key_ref = key[0]
        return b""

    def general_authenticate(self, apdu):
        """00 87 00 00 Lc 7C ...:
          7C 02 81 00            -> 7C 0A 81 08 <8-byte challenge>   (external)
          7C 12 81 10 <R1>       -> 7C 12 81 10 <R2>                  (mutual)
          7C 0A 82 08 <3DES(K, challenge)>                  -> 90 00 / 69 82
          7C 2A 82 28 <3DES-CBC(K, R2 | R1 | Z1)>
                                  -> 7C 2A 82 28 <3DES-CBC(K, R1 | R2 | Z2)>
        A response with no pending challenge: 69 85; without MSE SET: 6F 00.
        The challenge is used up either way."""
        if apdu.p1p2 != 0x0000:
            raise CardError(SW_WRONG_P1P2)
        inner = dynamic_auth_template(apdu.data)
        if 0x81 in inner:
            host_random = inner[0x81]
            self.reset_challenge()
            self.secrets.set_admin(False)   # GidsApplet clears its auth status here
            if len(host_random) == 0:
                self.auth_mode = self.EXTERNAL
                return tlv(0x7C, tlv(0x81, self.issue_challenge(8)))
            if len(host_random) == 16:
                self.auth_mode = self.MUTUAL
                self.host_random = host_random
                self.last_challenge = os.urandom(16)
                return tlv(0x7C, tlv(0x81, self.last_challenge))
            raise CardError(SW_WRONG_DATA)
        if 0x82 not in inner:
            raise CardError(SW_WRONG_DATA)
        response = inner[0x82]
        if len(response) > 40:
            raise CardError(SW_WRONG_DATA)
        mode, challenge, host_random = self.auth_mode, self.last_challenge, self.host_random
        self.reset_challenge()
        if mode is None or challenge is None:
            raise CardError(SW_CONDITIONS_NOT_SATISFIED)
        if self.key_ref is None:
            raise CardError(SW_NO_PRECISE_DIAGNOSIS)
        key = self.secrets.admin_key
        if mode == self.EXTERNAL:
            if len(response) != 8 or not self.secrets.check_response(challenge, response):
                self.secrets.set_admin(False)
                raise CardError(SW_SECURITY_NOT_SATISFIED)
            self.secrets.set_admin(True)
            return b""
        if len(response) != 40:
            self.secrets.set_admin(False)
            raise CardError(SW_SECURITY_NOT_SATISFIED)
        plain = des3_cbc(key, response, decrypt=True)
        if plain[:16] != challenge or plain[16:32] != host_random or plain[39] != 0x80:
            self.secrets.set_admin(False)
            raise CardError(SW_SECURITY_NOT_SATISFIED)
        self.secrets.set_admin(True)
        proof = des3_cbc(key, host_random + challenge + os.urandom(7) + b"\x80")
        return tlv(0x7C, tlv(0x82, proof))

    def reset_challenge(self):
        self.last_challenge = None
        self.auth_mode = None
        self.host_random = None

    # -- admin authentication, legacy ISO style (--legacy-challenge) ------
    def get_challenge(self, apdu):
        if apdu.p1p2 != 0:
            raise CardError(SW_WRONG_P1P2)
        if apdu.le is None:
            raise CardError(SW_WRONG_LENGTH)
        return self.issue_challenge(8)

    def external_authenticate(self, apdu):
        """00 82 00 80 08 <3DES-EDE(admin key, last challenge)>: 90 00 and admin
        state, 63 00 when wrong, 69 85 with no pending challenge.  The
        challenge is used up either way."""
        if apdu.p1 != 0x00:
            raise CardError(SW_WRONG_P1P2)
        if apdu.p2 != self.KEY_ADMIN:
            raise CardError(SW_REF_NOT_FOUND)
        if len(apdu.data) != 8:
            raise CardError(SW_WRONG_LENGTH)
        challenge = self.take_challenge()
        if challenge is None:
            raise CardError(SW_CONDITIONS_NOT_SATISFIED)
        if not self.secrets.check_response(challenge, apdu.data):
            self.secrets.set_admin(False)
            raise CardError(SW_AUTH_FAILED)
        self.secrets.set_admin(True)
        return b""

    # -- admin commands ---------------------------------------------------
    def put_data(self, apdu):
        """Only the admin key object (admin authenticated, else 69 82)."""
        if apdu.p1p2 != self.APPLET_FID:
            raise CardError(SW_WRONG_P1P2)
        data = apdu.data
        if (len(data) != 2 + 0x24 or not data.startswith(self.ADMIN_KEY_PREFIX)
                or not data.endswith(self.ADMIN_KEY_SUFFIX)):
            raise CardError(SW_WRONG_DATA)
        self.require_admin()
        self.secrets.set_admin_key(data[len(self.ADMIN_KEY_PREFIX):-len(self.ADMIN_KEY_SUFFIX)])
        return b""

    def reset_retry_counter(self, apdu):
        """00 2C 02 80 Lc <new PIN, 4..16 bytes>: admin only (else 69 82).
        The admin is logged out afterwards, as on GidsApplet."""
        if apdu.p1 != 0x02:
            raise CardError(SW_WRONG_P1P2)
        if apdu.p2 != self.PIN_REF:
            raise CardError(SW_REF_NOT_FOUND)
        self.require_admin()
        if not 4 <= len(apdu.data) <= 16:
            raise CardError(SW_WRONG_LENGTH)
        try:
            pin = apdu.data.decode()
        except UnicodeDecodeError:
            raise CardError(SW_WRONG_DATA)
        self.secrets.set_pin(pin)
        self.logout()
        return b""

    def verify(self, apdu):
        """00 20 00 80 Lc <PIN>: 90 00 / 63 Cx; without data: 63 Cx (tries
        left); 00 20 00 82: log out (PIN and admin)."""
        if apdu.p1 != 0x00:
            raise CardError(SW_WRONG_P1P2)
        if apdu.p2 == self.PIN_LOGOUT_REF and not apdu.data:
            self.logout()
            return b""
        if apdu.p2 != self.PIN_REF:
            raise CardError(SW_REF_NOT_FOUND)
        if not apdu.data:
            self.secrets.pin_status()
            return b""
        self.secrets.verify_pin(apdu.data)
        return b""


# --------------------------------------------------------------------------
# DER, X.509 and CMS for the PIV data objects
# --------------------------------------------------------------------------

def der(tag, value):
    """DER TLV with a 1-byte tag."""
    return bytes([tag]) + ber_length(len(value)) + value


def der_seq(*items):
    return der(0x30, b"".join(items))


def der_set(*items):
    return der(0x31, b"".join(sorted(items)))


def der_int(n):
    body = n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big")
    return der(0x02, body)


def der_oid(dotted):
    parts = [int(p) for p in dotted.split(".")]
    body = bytes([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        p >>= 7
        while p:
            chunk.append(0x80 | (p & 0x7F))
            p >>= 7
        body += bytes(reversed(chunk))
    return der(0x06, body)


def der_name(common_name):
    return der_seq(der_set(der_seq(der_oid("2.5.4.3"), der(0x0C, common_name.encode()))))


OID_SHA256 = "2.16.840.1.101.3.4.2.1"
OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2"


class PivSigner:
    """An ECDSA P-256 key with a certificate, which issues the card's
    certificates and signs the CHUID and the Security Object (CMS
    SignedData, as SP 800-73-4 asks; a test card's own throwaway issuer)."""

    def __init__(self, name):
        self.key = ECC.generate(curve="P-256")
        self.name = name
        self.serial = int.from_bytes(os.urandom(8), "big") >> 1
        self.cert = self.issue(name, self.key, self.serial)

    def sign(self, data):
        return DSS.new(self.key, "fips-186-3", encoding="der").sign(SHA256.new(data))

    def issue(self, subject, key, serial):
        """A DER X.509 v3 certificate for key, issued (and signed) by this signer."""
        alg = der_seq(der_oid(OID_ECDSA_SHA256))
        validity = der_seq(der(0x17, b"250101000000Z"), der(0x17, b"491231235959Z"))
        tbs = der_seq(der(0xA0, der_int(2)), der_int(serial), alg, der_name(self.name),
                      validity, der_name(subject), key.public_key().export_key(format="DER"))
        return der_seq(tbs, alg, der(0x03, b"\x00" + self.sign(tbs)))

    def cms(self, content_type, content, detached):
        """CMS SignedData (RFC 5652) over content with signed attributes;
        detached: the content itself is not included (the CHUID signature)."""
        digest_alg = der_seq(der_oid(OID_SHA256))
        attrs = [der_seq(der_oid("1.2.840.113549.1.9.3"), der_set(der_oid(content_type))),
                 der_seq(der_oid("1.2.840.113549.1.9.4"),
                         der_set(der(0x04, SHA256.new(content).digest())))]
        signature = self.sign(der_set(*attrs))
        signer_info = der_seq(der_int(1), der_seq(der_name(self.name), der_int(self.serial)),
                              digest_alg, der(0xA0, b"".join(sorted(attrs))),
                              der_seq(der_oid(OID_ECDSA_SHA256)), der(0x04, signature))
        encap = der_oid(content_type)
        if not detached:
            encap += der(0xA0, der(0x04, content))
        signed_data = der_seq(der_int(3), der_set(digest_alg), der_seq(encap),
                              der(0xA0, self.cert), der_set(signer_info))
        return der_seq(der_oid("1.2.840.113549.1.7.2"), der(0xA0, signed_data))


def encode_fascn(agency, system, credential, cs, ici, pi, oc, oi, poa):
    """Encode a FASC-N (SP 800-73-4 / TIG SCEPACS): 40 five-bit characters,
    each 4 data bits LSB first plus an odd parity bit, ending with an LRC."""
    START, FIELD_SEP, END = 0xB, 0xD, 0xF
    chars = [START]
    for field in (agency, system, credential, cs, ici):
        chars += [int(d) for d in field] + [FIELD_SEP]
    chars += [int(d) for d in pi + oc + oi + poa] + [END]
    lrc = 0
    for c in chars:
        lrc ^= c
    chars.append(lrc)
    bits = ""
    for c in chars:
        data_bits = "".join(str((c >> i) & 1) for i in range(4))
        parity = "0" if data_bits.count("1") % 2 else "1"
        bits += data_bits + parity
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


class PivApplet(Applet):
    """NIST SP 800-73-4 PIV card application, as PivApplet (YubiKey
    compatible) behaves: data objects, the 9B management key (3DES or
    AES-192; external and mutual authentication), the PIN and the PUK."""

    NAME = "piv"
    FULL_AID = bytes.fromhex("A000000308000010000100")
    MIN_AID_LEN = 5                                        # the RID alone is accepted

    KEY_CARD_MANAGEMENT = 0x9B
    EXPIRY = b"20301231"
    # Agency code 9999 (test/non-federal): clients then use the GUID as card id.
    FASCN = encode_fascn("9999", "9999", "999999", "1", "1", "9999999999", "1", "9999", "1")
    YUBIKEY_DEFAULT_KEY = bytes.fromhex("0102030405060708" * 3)

    PIN_REF = 0x80
    PUK_REF = 0x81
    PIN_LENGTH = 8                                         # padded with FF
    PIN_PROTECTED = (bytes.fromhex("5FC103"), bytes.fromhex("5FC108"))  # fingerprints, face

    # OIDs of the signed objects (SP 800-73-4 / ICAO 9303)
    OID_CHUID_SECURITY_OBJECT = "2.16.840.1.101.3.6.1"
    OID_LDS_SECURITY_OBJECT = "2.23.136.1.1.1"

    def __init__(self, challenges, secrets, card_id, mgmt_alg=ALG_3DES, chuid=True):
        super().__init__(challenges, secrets)
        self.card_id = card_id
        self.mgmt_alg = mgmt_alg
        signer = PivSigner("mimcm virtual PIV content signer")
        certs = {bytes.fromhex("5FC105"): "mimcm virtual PIV authentication",
                 bytes.fromhex("5FC101"): "mimcm virtual PIV card authentication"}
        # GET DATA tag list (the bytes after 5C) -> full response data
        self.objects = {
            bytes.fromhex("7E"): tlv(0x7E, tlv(0x4F, self.FULL_AID) + tlv(0x5F2F, b"\x40\x00")),
            bytes.fromhex("5FC107"): tlv(0x53, self.ccc()),
            # PIN-protected mandatory objects (empty biometric records here).
            bytes.fromhex("5FC103"): tlv(0x53, tlv(0xBC, b"") + tlv(0xFE, b"")),
            bytes.fromhex("5FC108"): tlv(0x53, tlv(0xBC, b"") + tlv(0xFE, b"")),
        }
        for tag, subject in certs.items():
            cert = signer.issue(subject, ECC.generate(curve="P-256"),
                                int.from_bytes(os.urandom(8), "big") >> 1)
            self.objects[tag] = tlv(0x53, tlv(0x70, cert) + tlv(0x71, b"\x00") + tlv(0xFE, b""))
        if chuid:
            unsigned = tlv(0x30, self.FASCN) + tlv(0x34, card_id) + tlv(0x35, self.EXPIRY)
            signature = signer.cms(self.OID_CHUID_SECURITY_OBJECT, unsigned, detached=True)
            chuid_object = tlv(0x53, unsigned + tlv(0x3E, signature) + tlv(0xFE, b""))
            self.objects[bytes.fromhex("5FC102")] = chuid_object
            # Security Object: data group 1 = the CHUID (container 3000), its
            # SHA-256 in an LDS security object signed by the content signer.
            chuid_hash = der(0x04, SHA256.new(chuid_object).digest())
            lds = der_seq(der_int(0), der_seq(der_oid(OID_SHA256)),
                          der_seq(der_seq(der_int(1), chuid_hash)))
            security_object = (tlv(0xBA, bytes.fromhex("013000"))
                               + tlv(0xBB, signer.cms(self.OID_LDS_SECURITY_OBJECT, lds, False))
                               + tlv(0xFE, b""))
            self.objects[bytes.fromhex("5FC106")] = tlv(0x53, security_object)
        self.handlers = {
            INS_GET_DATA: self.get_data,
            INS_GENERAL_AUTHENTICATE: self.general_authenticate,
            INS_SET_MANAGEMENT_KEY: self.set_management_key,
            INS_RESET_RETRY_COUNTER: self.reset_retry_counter,
            INS_VERIFY: self.verify,
            INS_GET_METADATA: self.get_metadata,
        }
        self.reset()

    def reset(self):
        super().reset()
        self.pending_mode = None     # "external" (81) or "mutual" (80) with last_challenge

    def ccc(self):
        """Card Capability Container (SP 800-73-4 part 1, table 8)."""
        card_identifier = bytes.fromhex("A000000116FF01") + self.card_id[:14]
        return (tlv(0xF0, card_identifier) + tlv(0xF1, b"\x21") + tlv(0xF2, b"\x21")
                + tlv(0xF3, b"") + tlv(0xF4, b"\x00") + tlv(0xF5, b"\x10") + tlv(0xF6, b"")
                + tlv(0xF7, b"") + tlv(0xFA, b"") + tlv(0xFB, b"") + tlv(0xFC, b"")
                + tlv(0xFD, b"") + tlv(0xFE, b""))

    def fci(self):
        # Application Property Template: PIX of the application, its authority.
        return tlv(0x61, tlv(0x4F, self.FULL_AID[5:])
                   + tlv(0x79, tlv(0x4F, self.FULL_AID[:5]))
                   + tlv(0x50, b"mimcm virtual PIV")
                   + tlv(0xAC, tlv(0x80, b"\x03") + tlv(0x80, b"\x0A") + tlv(0x80, b"\x11")
                         + tlv(0x06, b"\x00")))

    def get_data(self, apdu):
        if apdu.p1p2 != 0x3FFF:
            raise CardError(SW_WRONG_P1P2)
        data = apdu.data
        if len(data) < 3 or data[0] != 0x5C or data[1] != len(data) - 2:
            raise CardError(SW_WRONG_DATA)
        content = self.objects.get(bytes(data[2:]))
        if content is None:
            raise CardError(SW_NOT_FOUND)
        if bytes(data[2:]) in self.PIN_PROTECTED and not self.secrets.pin_verified:
            raise CardError(SW_SECURITY_NOT_SATISFIED)
        return content

    def general_authenticate(self, apdu):
        """The 9B management key (algorithm --mgmt-key-alg: 03 3DES, 8-byte
        blocks; 0A AES-192, 16-byte blocks), as PivApplet answers:
          external: 7C 02 81 00 -> 7C L 81 n <challenge>;
                    7C L 82 n <E(K, challenge)> -> 90 00
          mutual:   7C 02 80 00 -> 7C L 80 n <E(K, witness)>;
                    7C L 80 n <witness> 81 n <C> [82 00] -> 7C L 82 n <E(K, C)>
        A wrong answer, no pending challenge (used up, re-SELECT, reset) or
        the wrong algorithm: 6A 80."""
        if apdu.p2 != self.KEY_CARD_MANAGEMENT:
            raise CardError(SW_WRONG_P1P2)
        if apdu.p1 != self.mgmt_alg:
            raise CardError(SW_WRONG_DATA)
        inner = dynamic_auth_template(apdu.data)
        size = BLOCK_SIZE[self.mgmt_alg]
        key = self.secrets.admin_key
        tags = sorted(inner)
        if tags == [0x81] and not inner[0x81]:
            self.pending_mode = "external"
            return tlv(0x7C, tlv(0x81, self.issue_challenge(size)))
        if tags == [0x80] and not inner[0x80]:
            self.pending_mode = "mutual"
            witness = self.issue_challenge(size)
            return tlv(0x7C, tlv(0x80, block_encrypt(self.mgmt_alg, key, witness)))
        mode, expected = self.pending_mode, self.take_challenge()
        self.pending_mode = None
        if tags == [0x82] and mode == "external" and expected is not None:
            if inner[0x82] == block_encrypt(self.mgmt_alg, key, expected):
                self.secrets.set_admin(True)
                return b""
        elif (tags in ([0x80, 0x81], [0x80, 0x81, 0x82]) and mode == "mutual"
              and expected is not None and not inner.get(0x82)
              and len(inner[0x81]) == size and inner[0x80] == expected):
            self.secrets.set_admin(True)
            return tlv(0x7C, tlv(0x82, block_encrypt(self.mgmt_alg, key, inner[0x81])))
        self.secrets.set_admin(False)
        raise CardError(SW_WRONG_DATA)

    def set_management_key(self, apdu):
        """Yubico SET MANAGEMENT KEY 00 FF FF FF|FE 1B <alg 03|0A> 9B 18
        <24-byte key>: admin only (else 69 82); the algorithm changes too."""
        if apdu.p1 != 0xFF or apdu.p2 not in (0xFF, 0xFE):
            raise CardError(SW_WRONG_P1P2)
        data = apdu.data
        if (len(data) != 27 or data[0] not in BLOCK_SIZE
                or data[1:3] != bytes([self.KEY_CARD_MANAGEMENT, 24])):
            raise CardError(SW_WRONG_DATA)
        self.require_admin()
        self.mgmt_alg = data[0]
        self.secrets.set_admin_key(data[3:])
        return b""

    def get_metadata(self, apdu):
        """Yubico GET METADATA 00 F7 00 <ref>: 9B -> 01 01 <alg> 02 02 00 01
        05 01 <is YubiKey default key>; 80/81 (PIN/PUK) -> 01 01 FF 05 01
        <default> 06 02 <max> <left>; other references 6A 88."""
        if apdu.p1 != 0x00:
            raise CardError(SW_WRONG_P1P2)
        secrets = self.secrets
        if apdu.p2 == self.KEY_CARD_MANAGEMENT:
            default = secrets.admin_key == self.YUBIKEY_DEFAULT_KEY
            return (tlv(0x01, bytes([self.mgmt_alg])) + tlv(0x02, b"\x00\x01")
                    + tlv(0x05, bytes([default])))
        if apdu.p2 == self.PIN_REF:
            return (tlv(0x01, b"\xFF") + tlv(0x05, bytes([secrets.pin == DEFAULT_PIN]))
                    + tlv(0x06, bytes([PIN_TRIES, secrets.pin_tries_left])))
        if apdu.p2 == self.PUK_REF:
            return (tlv(0x01, b"\xFF") + tlv(0x05, bytes([secrets.puk == DEFAULT_PUK]))
                    + tlv(0x06, bytes([PUK_TRIES, secrets.puk_tries_left])))
        raise CardError(SW_REF_NOT_FOUND)

    def reset_retry_counter(self, apdu):
        """00 2C 00 80 10 <PUK FF-padded to 8> <new PIN FF-padded to 8>: the
        PIV PIN is reset with the PUK (never with the management key)."""
        if apdu.p1 != 0x00:
            raise CardError(SW_WRONG_P1P2)
        if apdu.p2 != self.PIN_REF:
            raise CardError(SW_REF_NOT_FOUND)
        if len(apdu.data) != 2 * self.PIN_LENGTH:
            raise CardError(SW_WRONG_LENGTH)
        puk, pin = apdu.data[:8].rstrip(b"\xff"), apdu.data[8:].rstrip(b"\xff")
        if len(pin) < 6:
            raise CardError(SW_WRONG_DATA)
        try:
            new_pin = pin.decode()
        except UnicodeDecodeError:
            raise CardError(SW_WRONG_DATA)
        self.secrets.unblock_with_puk(puk, new_pin)
        return b""

    def verify(self, apdu):
        """00 20 00 80 08 <PIN padded with FF to 8>: 90 00 / 63 Cx; without data:
        63 Cx (tries left)."""
        if apdu.p1 != 0x00:
            raise CardError(SW_WRONG_P1P2)
        if apdu.p2 != self.PIN_REF:
            raise CardError(SW_REF_NOT_FOUND)
        if not apdu.data:
            self.secrets.pin_status()
            return b""
        if len(apdu.data) != self.PIN_LENGTH:
            raise CardError(SW_WRONG_LENGTH)
        self.secrets.verify_pin(apdu.data.rstrip(b"\xff"))
        return b""


# --------------------------------------------------------------------------
# Faults (--fault): a card that misbehaves on purpose
# --------------------------------------------------------------------------

class CardPulled(Exception):
    """--fault pull: the card leaves the reader instead of answering."""


class FaultInjector:
    """A card that breaks the rules, for tests of a client's bounds.  Nothing
    changes unless --fault asks for it.

    The fault starts at a trigger and then lasts: after --fault-after N
    command APDUs were answered normally, at the first command whose INS is
    --fault-on (if given).  From then on, every answer the card would give
    with success (90 00 or 61 xx) is replaced; error answers pass unchanged
    (so a GIDS card still answers 6A 82 to a PIV SELECT).  The command is
    still executed: only its answer is lost or garbled, as on a card whose
    transport fails after the work was done.

      61xx-forever   16 bytes and 61 10, and every GET RESPONSE again 16
                     bytes and 61 10, without end
      6cxx-forever   6C xx, xx never the Le the command had (a resend with
                     that Le gets 6C again)
      short-answer   one byte: SW1 only.  (No answer at all cannot be sent:
                     vpcd waits for at least one byte, as a reader waits for
                     a mute card; bounding that is the reader driver's job.)
      truncated-tlv  the answer's data cut to half its length, with 90 00 (a
                     TLV cut short); answers without data are unchanged
      oversized      65533 bytes and 61 00 (the largest answer vpcd carries),
                     and every GET RESPONSE the same, without end
      long-cardid    not a transport fault: the card id is 64 bytes (the
                     --card-id repeated 4 times) in the GIDS cardid file and
                     the PIV CHUID GUID; the triggers do not apply
      pull           the card process closes its connection to vpcd and
                     exits (status 5) instead of answering: pcscd sees the
                     card removed in the middle of an APDU.  The command is
                     not carried out
      pull-after-command  the same, after the command was carried out (a
                     card pulled after it wrote, before it answered)
    """

    KINDS = ("61xx-forever", "6cxx-forever", "short-answer", "truncated-tlv", "oversized",
             "long-cardid", "pull", "pull-after-command")
    CHAIN_PART = 16                     # 61xx-forever: bytes per answer
    OVERSIZED_PART = 0xFFFF - 2         # vpcd's length prefix is 2 bytes

    def __init__(self, kind=None, after=0, on_ins=None):
        self.kind = kind
        self.after = after
        self.on_ins = on_ins
        self.seen = 0
        self.active = False
        self.chain = False              # an endless GET RESPONSE chain is going on

    @property
    def transport(self):
        """True for the faults that act on the APDU exchange."""
        return self.kind is not None and self.kind != "long-cardid"

    def observe(self, raw):
        """Called for every command APDU before it is processed; True when the
        fault is on for it."""
        if not self.transport:
            return False
        if not self.active:
            self.seen += 1
            ins = raw[1] if len(raw) > 1 else None
            if self.seen > self.after and (self.on_ins is None or ins == self.on_ins):
                self.active = True
        return self.active

    def chained_answer(self, raw):
        """The answer to a GET RESPONSE of an endless chain, or None."""
        if not self.chain or len(raw) < 2 or raw[1] != INS_GET_RESPONSE:
            return None
        return self.chain_part()

    def chain_part(self):
        self.chain = True
        if self.kind == "oversized":
            return b"\xAA" * self.OVERSIZED_PART + b"\x61\x00"
        return b"\xAA" * self.CHAIN_PART + bytes([0x61, self.CHAIN_PART])

    def cut(self, data):
        """truncated-tlv: the data an answer carries, cut short."""
        if self.active and self.kind == "truncated-tlv" and data:
            return data[:len(data) // 2]
        return data

    def rewrite(self, apdu_le, response):
        """The answer the faulty card gives instead of a successful one."""
        success = len(response) >= 2 and (response[-2:] == sw_bytes(SW_OK)
                                          or response[-2] == 0x61)
        if not self.active or not success:
            return response
        if self.kind in ("61xx-forever", "oversized"):
            return self.chain_part()
        if self.kind == "6cxx-forever":
            return bytes([0x6C, 0x20 if apdu_le == 0x10 else 0x10])
        if self.kind == "short-answer":
            return response[-2:-1]
        return response


# --------------------------------------------------------------------------
# The card OS: selection plus transport shaping
# --------------------------------------------------------------------------

class VirtualCardOS(SmartcardOS):
    """Dispatches APDUs to the selected applet and shapes the responses.

    Shaping, applied in this order to a command that answers data:
      * le_quirk: a present Le that differs from the data length -> 6C xx;
      * t0: the data is held back, 61 xx is answered, and GET RESPONSE
        (00 C0 00 00 xx) delivers it (partly, with 61 yy, if xx is short).
    """

    def __init__(self, atr, applets, t0=False, le_quirk=False, log_file=None, secrets=None,
                 faults=None):
        self.atr = atr
        self.faults = faults if faults is not None else FaultInjector()
        self.applets = applets
        self.secrets = secrets
        self.t0 = t0
        self.le_quirk = le_quirk
        self.log_file = log_file
        self.selected = None
        self.pending = b""          # T=0: data waiting for GET RESPONSE
        self.pending_sw = SW_OK

    # -- SmartcardOS interface --------------------------------------
    def getATR(self):
        return self.atr

    def powerUp(self):
        self.reset()

    def powerDown(self):
        self.reset()

    def reset(self):
        self.selected = None
        self.pending = b""
        for applet in self.applets:
            applet.reset()
        if self.secrets is not None:
            self.secrets.end_session()

    def execute(self, msg):
        raw = bytes(msg)
        if self.faults.observe(raw):
            if self.faults.kind.startswith("pull"):
                if self.faults.kind == "pull-after-command":
                    self.process(raw)
                self.log("> %s\n< (card pulled)\n" % raw.hex())
                raise CardPulled()
            response = self.faults.chained_answer(raw)
            if response is None:
                response = self.faults.rewrite(le_of(raw), self.process(raw))
        else:
            response = self.process(raw)
        self.log("> %s\n< %s\n" % (raw.hex(), response.hex()))
        return response

    def log(self, text):
        if self.log_file is not None:
            self.log_file.write(text)
            self.log_file.flush()

    # -- internals ----------------------------------------------------
    def process(self, raw):
        try:
            apdu = Apdu(raw)
            if apdu.cla & 0x10:
                raise CardError(SW_CHAINING_UNSUPPORTED)
            if apdu.cla != 0x00:
                raise CardError(SW_CLA_NOT_SUPPORTED)
            if apdu.ins == INS_GET_RESPONSE and self.pending:
                return self.get_response(apdu)
            self.pending = b""
            data = self.faults.cut(self.dispatch(apdu))
        except CardError as err:
            self.pending = b""
            return sw_bytes(err.sw)
        return self.shape(apdu, data, SW_OK)

    def dispatch(self, apdu):
        if apdu.ins == INS_SELECT:
            return self.select(apdu)
        if not self.applets:
            raise CardError(SW_INS_NOT_SUPPORTED)
        if apdu.ins == INS_GET_RESPONSE:
            raise CardError(SW_CONDITIONS_NOT_SATISFIED)   # nothing pending
        if self.selected is None:
            if apdu.ins in APPLET_COMMANDS:
                raise CardError(SW_CONDITIONS_NOT_SATISFIED)
            raise CardError(SW_INS_NOT_SUPPORTED)
        return self.selected.handle(apdu)

    def select(self, apdu):
        """SELECT by DF name (P1 04) of an applet: it becomes the selected one
        and, like any applet selection on Java Card (selecting the applet that
        is already selected counts as a deselect), every challenge and the
        admin and PIN authentication are dropped.  A SELECT that matches no
        applet answers 6A 82 and changes nothing.  SELECT by file id or path
        (P1 00/08) goes to the selected applet's file system and keeps the
        session."""
        if apdu.p1 in (0x00, 0x08):
            if self.selected is None:
                raise CardError(SW_NOT_FOUND)
            return self.selected.select_file(apdu)
        if apdu.p1 != 0x04 or not apdu.data:
            raise CardError(SW_NOT_FOUND)
        for applet in self.applets:
            if applet.matches_aid(apdu.data):
                if apdu.p2 not in (0x00, 0x0C):
                    raise CardError(SW_WRONG_P1P2)
                if self.selected is not None:
                    self.selected.reset()
                applet.reset()
                if self.secrets is not None:
                    self.secrets.end_session()
                self.selected = applet
                return b"" if apdu.p2 == 0x0C else applet.fci()
        raise CardError(SW_NOT_FOUND)

    def shape(self, apdu, data, sw):
        """Le is honoured: an answer longer than Le (no Le: 256) sends Le
        bytes and 61 xx, the rest comes with GET RESPONSE.  Under --le-quirk a
        Le other than min(length, 256) gets 6C xx instead."""
        if not data:
            return sw_bytes(sw)
        # --le-quirk: the right Le is the length, or 256 (00) for longer answers,
        # which then come in parts with 61xx.
        if self.le_quirk and apdu.le is not None and apdu.le != min(len(data), 256):
            return bytes([0x6C, min(len(data), 256) & 0xFF])
        if self.t0:
            self.pending, self.pending_sw = data, sw
            return more_data(len(data))
        limit = apdu.le if apdu.le is not None else 256
        if len(data) > limit:
            self.pending, self.pending_sw = data[limit:], sw
            return data[:limit] + more_data(len(self.pending))
        return data + sw_bytes(sw)

    def get_response(self, apdu):
        if apdu.p1p2 != 0:
            self.pending = b""
            return sw_bytes(SW_WRONG_P1P2)
        if apdu.le is None or apdu.data:
            self.pending = b""
            return sw_bytes(SW_WRONG_LENGTH)
        available = len(self.pending)
        if apdu.le < available:
            part, self.pending = self.pending[:apdu.le], self.pending[apdu.le:]
            return part + more_data(len(self.pending))
        if apdu.le > available and self.le_quirk:
            return bytes([0x6C, available & 0xFF])
        part, self.pending = self.pending, b""
        return part + sw_bytes(self.pending_sw)


# --------------------------------------------------------------------------
# vpcd connection
# --------------------------------------------------------------------------

class VpcdLink:
    """The card's end of the vpcd protocol: each message is a 2-byte big-endian
    length and a payload.  A 1-byte payload is a control message (power off,
    power on, reset, ATR request); anything else is a command APDU.

    vpcd writes the length prefix and the APDU in two send() calls; with Nagle
    on vpcd's side and delayed ACK on ours every APDU would wait ~40 ms.
    TCP_QUICKACK is not sticky on Linux, so it is set again before every recv.
    """

    TCP_QUICKACK = getattr(socket, "TCP_QUICKACK", 12)
    CTRL_OFF, CTRL_ON, CTRL_RESET, CTRL_ATR = 0, 1, 2, 4

    def __init__(self, sock):
        self.sock = sock
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def recv_exact(self, n):
        """n bytes, or None when vpcd closed the connection."""
        data = b""
        while len(data) < n:
            self.sock.setsockopt(socket.IPPROTO_TCP, self.TCP_QUICKACK, 1)
            try:
                chunk = self.sock.recv(n - len(data))
            except OSError:
                return None
            if not chunk:
                return None
            data += chunk
        return data

    def send(self, payload):
        """False when vpcd is gone."""
        try:
            self.sock.sendall(struct.pack(">H", len(payload)) + payload)
        except OSError:
            return False
        return True

    def serve(self, card_os):
        """Answer vpcd until it closes the connection."""
        while True:
            header = self.recv_exact(2)
            if header is None:
                return
            (size,) = struct.unpack(">H", header)
            payload = self.recv_exact(size) if size else b""
            if payload is None:
                return
            if size == 1 and payload[0] in (self.CTRL_OFF, self.CTRL_ON,
                                            self.CTRL_RESET, self.CTRL_ATR):
                if payload[0] == self.CTRL_OFF:
                    card_os.powerDown()
                elif payload[0] == self.CTRL_ON:
                    card_os.powerUp()
                elif payload[0] == self.CTRL_RESET:
                    card_os.reset()
                elif not self.send(card_os.getATR()):
                    return
            elif size:
                # A command APDU.  A 1-byte one (not a control code) is answered
                # too, or vpcd and so the reader would wait for it forever.
                try:
                    answer = card_os.execute(payload)
                except CardPulled:
                    self.pull()
                    raise
                if not self.send(answer):
                    return

    def pull(self):
        """The card leaves the reader: the connection closes without an answer."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class Terminated(BaseException):
    """Raised from the SIGTERM handler to leave the receive loop."""


def on_sigterm(signum, frame):
    raise Terminated()


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Virtual GIDS/PIV smart card for vpcd (mimcm test rig).")
    parser.add_argument("--slot", type=int, choices=(0, 1), required=True,
                        help="vpcd reader slot: 0 = 'Virtual PCD 00 00' (port 35963), "
                             "1 = 'Virtual PCD 00 01' (port 35964)")
    parser.add_argument("--profile", choices=("gids", "piv", "none"), required=True,
                        help="card edge to emulate")
    parser.add_argument("--atr", type=parse_hex, metavar="HEX",
                        help="ATR in hex (default depends on --profile and --t0)")
    parser.add_argument("--card-id", type=lambda s: parse_hex(s, 16), metavar="HEX32",
                        default=bytes.fromhex(DEFAULT_CARD_ID),
                        help="16-byte card id in hex (GIDS cardid file / PIV CHUID GUID), "
                             "default %s" % DEFAULT_CARD_ID)
    parser.add_argument("--challenge", type=lambda s: parse_hex(s, 8), metavar="HEX16",
                        help="fixed 8-byte challenge in hex (default: random per request)")
    parser.add_argument("--t0", action="store_true",
                        help="behave like a T=0 card: data only via 61 xx + GET RESPONSE")
    parser.add_argument("--mf-layout", choices=("default", "alt"), default="default",
                        help="GIDS master file layout (alt: cardid in EF A013 / DO DF24)")
    parser.add_argument("--le-quirk", action="store_true",
                        help="answer 6C xx when Le differs from the data length")
    parser.add_argument("--log", metavar="FILE", type=argparse.FileType("a"),
                        help="append '> command' / '< response' hex lines per APDU")
    parser.add_argument("--admin-key", type=lambda s: parse_hex(s, 24), metavar="HEX48",
                        default=DEFAULT_ADMIN_KEY,
                        help="24-byte 3DES admin key (GIDS key 80 / PIV 9B management key), "
                             "default all zero")
    parser.add_argument("--pin", type=parse_pin, default=DEFAULT_PIN, metavar="TEXT",
                        help="user PIN, 4 to 16 bytes (PIV: at most 8), default %s" % DEFAULT_PIN)
    parser.add_argument("--state-file", metavar="FILE",
                        help="JSON file rewritten (atomically) after every change: admin_key, "
                             "pin, admin_authenticated, pin_tries_left")
    parser.add_argument("--legacy-challenge", action="store_true",
                        help="GIDS: answer GET CHALLENGE / EXTERNAL AUTHENTICATE (ISO style) "
                             "and refuse MSE SET / GENERAL AUTHENTICATE with 6D00, unlike a "
                             "real GIDS applet (for testing a client's fallback)")
    parser.add_argument("--mgmt-key-alg", type=lambda s: int(s, 16), choices=(ALG_3DES, ALG_AES192),
                        default=ALG_3DES, metavar="03|0A",
                        help="PIV: algorithm of the 9B management key: 03 3DES (default), "
                             "0A AES-192 (YubiKey 5.7 and later)")
    parser.add_argument("--chuid-guid", choices=("card-id", "zero"), default="card-id",
                        help="PIV: the CHUID GUID (tag 34): the card id (default) or all zero "
                             "(clients then fall back to the FASC-N)")
    parser.add_argument("--no-chuid", action="store_true",
                        help="PIV: no CHUID (nor Security Object) on the card: GET DATA 6A 82, "
                             "like a fresh YubiKey")
    parser.add_argument("--puk", type=parse_pin, default=DEFAULT_PUK, metavar="TEXT",
                        help="PIV: the PUK, at most 8 bytes, default %s; 3 tries" % DEFAULT_PUK)
    parser.add_argument("--fault", choices=FaultInjector.KINDS,
                        help="misbehave on purpose (see FaultInjector): endless 61xx or 6Cxx, "
                             "a 1-byte, truncated or oversized answer, a 64-byte card id, or the "
                             "card pulled mid-APDU")
    parser.add_argument("--fault-after", type=int, default=0, metavar="N",
                        help="--fault starts after N command APDUs were answered normally "
                             "(default 0)")
    parser.add_argument("--fault-on", type=lambda s: int(s, 16), metavar="INS",
                        help="--fault starts at the first command with this INS byte (hex, e.g. "
                             "CB), counted after --fault-after")
    args = parser.parse_args(argv)
    if args.fault is None and (args.fault_after or args.fault_on is not None):
        parser.error("--fault-after and --fault-on need --fault")
    if args.fault_after < 0 or (args.fault_on is not None and not 0 <= args.fault_on <= 0xFF):
        parser.error("--fault-after: N >= 0; --fault-on: one byte")
    if args.fault == "long-cardid" and (args.fault_after or args.fault_on is not None):
        parser.error("--fault long-cardid has no trigger (--fault-after, --fault-on)")
    if args.fault == "long-cardid":
        args.card_id = args.card_id * 4
    if args.profile != "piv" and (args.mgmt_key_alg != ALG_3DES or args.chuid_guid != "card-id"
                                  or args.no_chuid or args.puk != DEFAULT_PUK):
        parser.error("--mgmt-key-alg, --chuid-guid, --no-chuid and --puk apply to --profile piv")
    if args.profile == "piv" and len(args.puk.encode()) > PivApplet.PIN_LENGTH:
        parser.error("--puk: a PIV PUK has at most 8 bytes")
    if args.legacy_challenge and args.profile != "gids":
        parser.error("--legacy-challenge applies to --profile gids only")
    if args.atr is None:
        t1_atr, t0_atr = DEFAULT_ATRS[args.profile]
        args.atr = bytes.fromhex(t0_atr if args.t0 else t1_atr)
    if len(args.atr) > 33:
        parser.error("--atr: an ATR has at most 33 bytes")
    if args.profile == "piv" and len(args.pin.encode()) > PivApplet.PIN_LENGTH:
        parser.error("--pin: a PIV PIN has at most 8 bytes")
    return args


def make_applets(args, challenges, secrets):
    if args.profile == "gids":
        return [GidsApplet(challenges, secrets, args.card_id, args.mf_layout,
                           legacy=args.legacy_challenge)]
    if args.profile == "piv":
        card_id = bytes(16) if args.chuid_guid == "zero" else args.card_id
        return [PivApplet(challenges, secrets, card_id, mgmt_alg=args.mgmt_key_alg,
                          chuid=not args.no_chuid)]
    return []


def main(argv):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, on_sigterm)
    port = VPCD_BASE_PORT + args.slot
    log_file = args.log
    tag = "virtual_card[slot %d, %s]" % (args.slot, args.profile)

    try:
        secrets = CardSecrets(args.admin_key, args.pin, args.state_file, puk=args.puk)
        card_os = VirtualCardOS(args.atr,
                                make_applets(args, ChallengeSource(args.challenge), secrets),
                                t0=args.t0, le_quirk=args.le_quirk, log_file=log_file,
                                secrets=secrets,
                                faults=FaultInjector(args.fault, args.fault_after, args.fault_on))
        try:
            icc = VirtualICC(None, "iso7816", VPCD_HOST, port, logginglevel=logging.ERROR)
        except SystemExit:
            print("%s: cannot connect to vpcd at %s:%d (is pcscd running with vpcd?)"
                  % (tag, VPCD_HOST, port), file=sys.stderr)
            return EXIT_NO_VPCD
        icc.os = card_os
        print("%s: connected to vpcd at %s:%d, ATR %s%s%s%s"
              % (tag, VPCD_HOST, port, args.atr.hex(), " T=0-style" if args.t0 else "",
                 " le-quirk" if args.le_quirk else "",
                 " fault " + args.fault if args.fault else ""), file=sys.stderr, flush=True)
        VpcdLink(icc.sock).serve(icc.os)
        print("%s: vpcd closed the connection (pcscd stopped?)" % tag, file=sys.stderr)
        return EXIT_VPCD_GONE
    except CardPulled:
        print("%s: --fault pull: the card left the reader" % tag, file=sys.stderr)
        return EXIT_PULLED
    except (Terminated, KeyboardInterrupt):
        return 0
    finally:
        if log_file is not None:
            log_file.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
