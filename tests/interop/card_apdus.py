#!/usr/bin/python3
"""Raw-APDU checks of the rig's virtual cards (tests/rig/virtual_card.py) on a
real pcscd: every strict refusal a real GIDS or PIV applet makes must be made
by the virtual card too (see tests/rig/README.md, "What the card answers").

    card_apdus.py RIG_DIR [CASE...]     # default: every case

Each case inserts its own card(s) with tests/rig/pcsc-rig.sh (slot 0, slot 1
for the second card), sends APDUs through libpcsclite (ctypes, no other
module) on one connection, and compares status words and data.  Prints one
line per case; exit 0 only when every case passed.
"""

import ctypes
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RIG = os.path.join(os.path.dirname(HERE), "rig")
sys.path.insert(0, RIG)
import virtual_card as vc  # noqa: E402  (the card's own 3DES/AES, DER-free helpers)

# --------------------------------------------------------------------------
# PC/SC through ctypes
# --------------------------------------------------------------------------
DWORD = ctypes.c_ulong           # pcsc-lite on Linux: DWORD is unsigned long
SCARDCONTEXT = ctypes.c_long
SCARDHANDLE = ctypes.c_long
SCARD_SHARE_SHARED = 2
SCARD_PROTOCOL_T0, SCARD_PROTOCOL_T1 = 1, 2
SCARD_LEAVE_CARD, SCARD_RESET_CARD = 0, 1


class IoRequest(ctypes.Structure):
    _fields_ = [("dwProtocol", DWORD), ("cbPciLength", DWORD)]


LIB = ctypes.CDLL("libpcsclite.so.1")
for name in ("SCardEstablishContext", "SCardReleaseContext", "SCardListReaders",
             "SCardConnect", "SCardDisconnect", "SCardTransmit"):
    getattr(LIB, name).restype = ctypes.c_long


def check(rc, what):
    rc &= 0xFFFFFFFF
    if rc:
        raise RuntimeError("%s failed: 0x%08X" % (what, rc))


class Card:
    """One PC/SC connection to the card in vpcd slot SLOT."""

    def __init__(self, slot):
        self.ctx = SCARDCONTEXT()
        check(LIB.SCardEstablishContext(2, None, None, ctypes.byref(self.ctx)),
              "SCardEstablishContext")
        size = DWORD(0)
        check(LIB.SCardListReaders(self.ctx, None, None, ctypes.byref(size)), "SCardListReaders")
        buf = ctypes.create_string_buffer(size.value)
        check(LIB.SCardListReaders(self.ctx, None, buf, ctypes.byref(size)), "SCardListReaders")
        readers = [r for r in buf.raw[:size.value].split(b"\0") if r]
        wanted = ("Virtual PCD 00 0%d" % slot).encode()
        matching = [r for r in readers if r.startswith(wanted)]
        if not matching:
            raise RuntimeError("no reader %r in %r" % (wanted, readers))
        self.handle = SCARDHANDLE()
        self.protocol = DWORD()
        check(LIB.SCardConnect(self.ctx, matching[0], SCARD_SHARE_SHARED,
                               SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                               ctypes.byref(self.handle), ctypes.byref(self.protocol)),
              "SCardConnect")

    def transmit(self, apdu):
        """(data, sw) of one APDU given as hex (spaces allowed) or bytes."""
        if isinstance(apdu, str):
            apdu = bytes.fromhex(apdu.replace(" ", ""))
        pci = IoRequest(self.protocol.value, ctypes.sizeof(IoRequest))
        out = ctypes.create_string_buffer(65538)
        out_len = DWORD(len(out))
        check(LIB.SCardTransmit(self.handle, ctypes.byref(pci), apdu, DWORD(len(apdu)), None,
                                out, ctypes.byref(out_len)), "SCardTransmit")
        raw = out.raw[:out_len.value]
        return raw[:-2], (raw[-2] << 8) | raw[-1]

    def close(self, disposition=SCARD_LEAVE_CARD):
        LIB.SCardDisconnect(self.handle, disposition)
        LIB.SCardReleaseContext(self.ctx)


# --------------------------------------------------------------------------
# Test plumbing
# --------------------------------------------------------------------------
class Failure(Exception):
    pass


def expect(card, apdu, sw, data=None, what=""):
    got_data, got_sw = card.transmit(apdu)
    if got_sw != sw:
        raise Failure("%s: %s -> SW %04X, expected %04X" % (what or apdu, apdu, got_sw, sw))
    if data is not None and got_data != data:
        raise Failure("%s: data %s, expected %s" % (what or apdu, got_data.hex(), data.hex()))
    return got_data


def insert(rig_dir, slot, *options):
    subprocess.run([os.path.join(RIG, "pcsc-rig.sh"), "insert", rig_dir, str(slot)] + list(options),
                   check=True, stderr=subprocess.DEVNULL)


def remove(rig_dir, slot):
    subprocess.run([os.path.join(RIG, "pcsc-rig.sh"), "remove", rig_dir, str(slot)],
                   check=True, stderr=subprocess.DEVNULL)


GIDS_SELECT = "00A4040009A0000003974254465900"
GIDS_MSE_EXTERNAL = "0022 81A4 03 830180"
GIDS_MSE_MUTUAL = "0022 C1A4 03 830180"
GIDS_ASK_CHALLENGE = "0087 0000 04 7C028100 00"
CHALLENGE = bytes.fromhex("d61143f9ccffd2ca")   # the MIM CM docs example
ZERO_KEY = bytes(24)
NEW_KEY = bytes.fromhex("0102030405060708" * 3)


def gids_response(key, challenge):
    return "0087 0000 0C 7C0A8208" + vc.des3_ede_encrypt(key, challenge).hex()


def put_admin_key(key):
    return "00DB 3FFF 26 7024 840180 A51F 8718" + key.hex() + "8803B073DC"


def gids_login(card, key=ZERO_KEY):
    expect(card, GIDS_MSE_EXTERNAL, 0x9000)
    answer = expect(card, GIDS_ASK_CHALLENGE, 0x9000)
    if answer[:4] != bytes.fromhex("7C0A8108") or len(answer) != 12:
        raise Failure("challenge template: %s" % answer.hex())
    expect(card, gids_response(key, answer[4:]), 0x9000, what="external authentication")


# --------------------------------------------------------------------------
# Cases: GIDS
# --------------------------------------------------------------------------
def case_gids_refuses_iso_challenge(rig):
    insert(rig, 0, "--profile", "gids")
    card = Card(0)
    fci = expect(card, GIDS_SELECT, 0x9000)
    if bytes.fromhex("730340 01C0") not in fci or not fci.startswith(bytes.fromhex("6112 4F0B")):
        raise Failure("GIDS FCI without 73 03 40 01 C0: %s" % fci.hex())
    expect(card, "0084000008", 0x6D00, what="GET CHALLENGE")
    expect(card, "0082008008" + "00" * 8, 0x6D00, what="EXTERNAL AUTHENTICATE")
    card.close()


def case_gids_external_auth(rig):
    insert(rig, 0, "--profile", "gids", "--challenge", CHALLENGE.hex())
    card = Card(0)
    expect(card, GIDS_SELECT, 0x9000)
    expect(card, put_admin_key(NEW_KEY), 0x6982, what="PUT DATA admin key, not authenticated")
    expect(card, "0087 0001 04 7C028100 00", 0x6A86, what="GENERAL AUTHENTICATE P2 01")
    expect(card, GIDS_ASK_CHALLENGE, 0x9000, bytes.fromhex("7C0A8108") + CHALLENGE)
    expect(card, gids_response(ZERO_KEY, CHALLENGE), 0x6F00, what="response without MSE SET")
    expect(card, gids_response(ZERO_KEY, CHALLENGE), 0x6985, what="response, no challenge")
    expect(card, GIDS_MSE_EXTERNAL, 0x9000)
    expect(card, GIDS_ASK_CHALLENGE, 0x9000)
    expect(card, gids_response(NEW_KEY, CHALLENGE), 0x6982, what="wrong response")
    expect(card, gids_response(ZERO_KEY, CHALLENGE), 0x6985, what="challenge used up")
    expect(card, GIDS_ASK_CHALLENGE, 0x9000)
    expect(card, "00CBA012045C02DF2000", 0x9000, what="GET DATA between challenge and response")
    expect(card, gids_response(ZERO_KEY, CHALLENGE), 0x9000, what="right response (docs example)")
    if vc.des3_ede_encrypt(ZERO_KEY, CHALLENGE).hex() != "17466e766e303cb6":
        raise Failure("3DES of the docs example")
    expect(card, put_admin_key(NEW_KEY), 0x9000, what="PUT DATA admin key")
    gids_login(card, NEW_KEY)
    card.close()


def case_gids_reselect_kills_challenge_and_login(rig):
    insert(rig, 0, "--profile", "gids")
    card = Card(0)
    expect(card, GIDS_SELECT, 0x9000)
    expect(card, GIDS_MSE_EXTERNAL, 0x9000)
    answer = expect(card, GIDS_ASK_CHALLENGE, 0x9000)
    expect(card, GIDS_SELECT, 0x9000, what="re-SELECT")
    expect(card, GIDS_MSE_EXTERNAL, 0x9000)
    expect(card, gids_response(ZERO_KEY, answer[4:]), 0x6985, what="response after re-SELECT")
    gids_login(card)
    expect(card, "00A4000C023FFF", 0x9000, what="SELECT 3FFF by file id keeps the login")
    expect(card, "00CB3FFF045C027F7100", 0x9000, what="PIN status")
    expect(card, GIDS_SELECT, 0x9000, what="re-SELECT")
    expect(card, put_admin_key(ZERO_KEY), 0x6982, what="PUT DATA after re-SELECT")
    card.close()


def case_gids_pin_unblock_logs_admin_out(rig):
    insert(rig, 0, "--profile", "gids", "--pin", "1234")
    card = Card(0)
    expect(card, GIDS_SELECT, 0x9000)
    expect(card, "00CB3FFF045C027F7100", 0x9000, bytes.fromhex("7F7106 970103 930103"))
    expect(card, "0020008004" + b"9999".hex(), 0x63C2, what="wrong PIN")
    expect(card, "00CB3FFF045C027F7100", 0x9000, bytes.fromhex("7F7106 970102 930103"))
    expect(card, "002C028004" + b"4321".hex(), 0x6982, what="unblock, not authenticated")
    gids_login(card)
    expect(card, "002C028004" + b"4321".hex(), 0x9000, what="unblock")
    expect(card, "00CB3FFF045C027F7100", 0x9000, bytes.fromhex("7F7106 970103 930103"))
    expect(card, "002C028004" + b"5678".hex(), 0x6982, what="second unblock, logged out")
    expect(card, "0020008004" + b"4321".hex(), 0x9000, what="new PIN")
    card.close()


def case_gids_mutual_auth(rig):
    insert(rig, 0, "--profile", "gids", "--admin-key", NEW_KEY.hex())
    card = Card(0)
    expect(card, GIDS_SELECT, 0x9000)
    expect(card, GIDS_MSE_MUTUAL, 0x9000)
    r1 = os.urandom(16)
    answer = expect(card, "0087 0000 14 7C128110" + r1.hex() + "00", 0x9000)
    if answer[:4] != bytes.fromhex("7C128110") or len(answer) != 20:
        raise Failure("mutual challenge template: %s" % answer.hex())
    r2 = answer[4:]
    z1 = os.urandom(7) + b"\x80"
    proof = vc.des3_cbc(NEW_KEY, r2 + r1 + z1)
    answer = expect(card, "0087 0000 2C 7C2A8228" + proof.hex() + "00", 0x9000)
    plain = vc.des3_cbc(NEW_KEY, answer[4:], decrypt=True)
    if answer[:4] != bytes.fromhex("7C2A8228") or plain[:16] != r1 or plain[16:32] != r2:
        raise Failure("card's mutual proof does not check out")
    expect(card, put_admin_key(NEW_KEY), 0x9000, what="PUT DATA after mutual auth")
    card.close()


def case_gids_select_by_file_id(rig):
    insert(rig, 0, "--profile", "gids")
    card = Card(0)
    expect(card, "00A40000023F00", 0x6A82, what="SELECT 3F00 before the applet")
    expect(card, GIDS_SELECT, 0x9000)
    fci = expect(card, "00A40000023F0000", 0x9000, what="SELECT MF 3F00")
    if fci != bytes.fromhex("6207 820138 83023F00"):
        raise Failure("3F00 FCI: %s" % fci.hex())
    expect(card, "00A40000023FFF00", 0x9000, what="SELECT 3FFF")
    expect(card, "00A4080002A01200", 0x9000, bytes.fromhex("6207 820101 8302A012"), "A012 FCI")
    expect(card, "00A4080402A01200", 0x9000, bytes.fromhex("6207 820101 8302A012"), "FCP A012")
    expect(card, "00A4000C02A099", 0x6A82, what="SELECT unknown EF")
    card.close()


def case_gids_legacy_challenge(rig):
    insert(rig, 0, "--profile", "gids", "--legacy-challenge", "--challenge", CHALLENGE.hex())
    card = Card(0)
    expect(card, GIDS_SELECT, 0x9000)
    expect(card, GIDS_MSE_EXTERNAL, 0x6D00, what="MSE SET on a legacy card")
    expect(card, GIDS_ASK_CHALLENGE, 0x6D00, what="GENERAL AUTHENTICATE on a legacy card")
    expect(card, "0084000008", 0x9000, CHALLENGE)
    expect(card, "0082008008" + vc.des3_ede_encrypt(ZERO_KEY, CHALLENGE).hex(), 0x9000)
    expect(card, put_admin_key(NEW_KEY), 0x9000)
    expect(card, "0084000008", 0x9000, CHALLENGE)
    expect(card, GIDS_SELECT, 0x9000, what="re-SELECT")
    expect(card, "0082008008" + vc.des3_ede_encrypt(NEW_KEY, CHALLENGE).hex(), 0x6985,
           what="EXTERNAL AUTHENTICATE after re-SELECT")
    card.close()


# --------------------------------------------------------------------------
# Cases: PIV
# --------------------------------------------------------------------------
PIV_SELECT = "00A4040009A0000003080000100000"
PIV_CHUID = "00CB3FFF055C035FC102"


def piv_get_data_all(card, apdu):
    """An object read with Le 00, following 61xx with GET RESPONSE; returns
    (data, number of GET RESPONSEs)."""
    data, sw = card.transmit(apdu + "00")
    rounds = 0
    while sw >> 8 == 0x61 and rounds < 64:
        if len(data) != 256 and rounds == 0:
            raise Failure("first part of a chained answer has %d bytes" % len(data))
        more, sw = card.transmit("00C00000%02X" % (sw & 0xFF))
        data += more
        rounds += 1
    if sw != 0x9000:
        raise Failure("%s -> %04X" % (apdu, sw))
    return data, rounds


def tlv_value(data, tag):
    """The value of the first TLV with that 1- or 2-byte tag at the start of data."""
    tag_bytes = bytes([tag]) if tag < 0x100 else tag.to_bytes(2, "big")
    if not data.startswith(tag_bytes):
        raise Failure("expected tag %X in %s" % (tag, data[:8].hex()))
    i = len(tag_bytes)
    length = data[i]
    i += 1
    if length == 0x81:
        length, i = data[i], i + 1
    elif length == 0x82:
        length, i = int.from_bytes(data[i:i + 2], "big"), i + 2
    return data[i:i + length]


def piv_external_response(alg, key, challenge):
    size = vc.BLOCK_SIZE[alg]
    return "0087%02X9B%02X7C%02X82%02X%s" % (alg, size + 4, size + 2, size,
                                             vc.block_encrypt(alg, key, challenge).hex())


def piv_ask_challenge(card, alg=vc.ALG_3DES):
    size = vc.BLOCK_SIZE[alg]
    answer = expect(card, "0087%02X9B047C02810000" % alg, 0x9000)
    if answer[:4] != bytes([0x7C, size + 2, 0x81, size]) or len(answer) != size + 4:
        raise Failure("challenge template: %s" % answer.hex())
    return answer[4:]


def set_mgmt_key(alg, key):
    return "00FFFFFF1B%02X9B18%s" % (alg, key.hex())


def case_piv_objects_chaining_and_le(rig):
    insert(rig, 1, "--profile", "piv")
    card = Card(1)
    expect(card, PIV_SELECT, 0x9000)
    chuid, rounds = piv_get_data_all(card, PIV_CHUID)
    if rounds < 1:
        raise Failure("a signed CHUID over 256 bytes came without 61xx (%d bytes)" % len(chuid))
    body = tlv_value(chuid, 0x53)
    if bytes.fromhex("3410") + bytes.fromhex("3ff188bcba833740826246eba1291c6e") not in body:
        raise Failure("CHUID without the card id GUID")
    if b"\x3e\x82" not in body:
        raise Failure("CHUID signature (3E) empty or short")
    first, sw = card.transmit(PIV_CHUID + "08")
    if len(first) != 8 or sw >> 8 != 0x61 or first != chuid[:8]:
        raise Failure("Le 08 not honoured: %d bytes, SW %04X" % (len(first), sw))
    if sw != 0x6100 | (min(len(chuid) - 8, 256) & 0xFF):
        raise Failure("61xx after Le 08: %04X for %d bytes left" % (sw, len(chuid) - 8))
    rest, sw = card.transmit("00C0000010")
    if rest != chuid[8:24] or sw >> 8 != 0x61:
        raise Failure("GET RESPONSE with Le 10: %d bytes, SW %04X" % (len(rest), sw))
    for name, tag in (("CCC", "5FC107"), ("Security Object", "5FC106"),
                      ("PIV authentication certificate", "5FC105"),
                      ("card authentication certificate", "5FC101")):
        data, _ = piv_get_data_all(card, "00CB3FFF055C03" + tag)
        body = tlv_value(data, 0x53)
        if name.endswith("certificate") and not tlv_value(body, 0x70).startswith(b"\x30\x82"):
            raise Failure("%s is no DER certificate" % name)
        if name == "CCC" and not tlv_value(body, 0xF0).startswith(bytes.fromhex("A000000116")):
            raise Failure("CCC without card identifier")
    expect(card, "00CB3FFF055C035FC10300", 0x6982, what="fingerprints without the PIN")
    expect(card, "00CB3FFF055C035FC10A00", 0x6A82, what="digital signature certificate: absent")
    expect(card, "0020008008" + b"12345678".hex(), 0x9000, what="PIN")
    expect(card, "00CB3FFF055C035FC10300", 0x9000, what="fingerprints after the PIN")
    card.close()


def case_piv_mgmt_key_3des(rig):
    insert(rig, 1, "--profile", "piv", "--admin-key", NEW_KEY.hex())
    card = Card(1)
    alg = vc.ALG_3DES
    expect(card, PIV_SELECT, 0x9000)
    expect(card, "00F7009B00", 0x9000, bytes.fromhex("010103 02020001 050101"), "metadata")
    expect(card, piv_external_response(alg, NEW_KEY, bytes(8)), 0x6A80, what="no challenge")
    challenge = piv_ask_challenge(card)
    expect(card, piv_external_response(alg, ZERO_KEY, challenge), 0x6A80, what="wrong response")
    expect(card, piv_external_response(alg, NEW_KEY, challenge), 0x6A80, what="challenge used up")
    challenge = piv_ask_challenge(card)
    expect(card, PIV_SELECT, 0x9000, what="re-SELECT")
    expect(card, piv_external_response(alg, NEW_KEY, challenge), 0x6A80, what="after re-SELECT")
    expect(card, "00870A9B047C02810000", 0x6A80, what="AES-192 on a 3DES key")
    expect(card, set_mgmt_key(alg, ZERO_KEY), 0x6982, what="SET MANAGEMENT KEY, not admin")
    challenge = piv_ask_challenge(card)
    expect(card, "00CB3FFF035C017E00", 0x9000, what="GET DATA between challenge and response")
    expect(card, piv_external_response(alg, NEW_KEY, challenge), 0x9000, what="right response")
    expect(card, PIV_SELECT, 0x9000, what="re-SELECT")
    expect(card, set_mgmt_key(alg, ZERO_KEY), 0x6982, what="SET MANAGEMENT KEY after re-SELECT")
    # mutual, as yubico-piv-tool and piv-tool -A M:9B:03 do it
    answer = expect(card, "0087039B047C02800000", 0x9000)
    witness = vc.block_decrypt(alg, NEW_KEY, tlv_value(tlv_value(answer, 0x7C), 0x80))
    host_challenge = os.urandom(8)
    answer = expect(card, "0087039B167C1480" + "08" + witness.hex() + "8108" + host_challenge.hex()
                    + "00", 0x9000)
    if tlv_value(tlv_value(answer, 0x7C), 0x82) != vc.block_encrypt(alg, NEW_KEY, host_challenge):
        raise Failure("card's mutual answer is not E(K, challenge)")
    expect(card, set_mgmt_key(alg, ZERO_KEY), 0x9000, what="SET MANAGEMENT KEY")
    expect(card, "00F7009B00", 0x9000, bytes.fromhex("010103 02020001 050100"), "metadata")
    card.close()


def case_piv_mgmt_key_aes192(rig):
    insert(rig, 1, "--profile", "piv", "--mgmt-key-alg", "0A", "--admin-key", NEW_KEY.hex())
    card = Card(1)
    alg = vc.ALG_AES192
    expect(card, PIV_SELECT, 0x9000)
    expect(card, "00F7009B00", 0x9000, bytes.fromhex("01010A 02020001 050101"), "metadata")
    expect(card, "0087039B047C02810000", 0x6A80, what="3DES on an AES-192 key")
    challenge = piv_ask_challenge(card, alg)
    expect(card, piv_external_response(alg, ZERO_KEY, challenge), 0x6A80, what="wrong response")
    challenge = piv_ask_challenge(card, alg)
    expect(card, piv_external_response(alg, NEW_KEY, challenge), 0x9000, what="right response")
    expect(card, set_mgmt_key(alg, ZERO_KEY), 0x9000, what="SET MANAGEMENT KEY")
    card.close()


def case_piv_chuid_variants(rig):
    insert(rig, 1, "--profile", "piv", "--no-chuid")
    card = Card(1)
    expect(card, PIV_SELECT, 0x9000)
    expect(card, PIV_CHUID + "00", 0x6A82, what="--no-chuid")
    card.close()
    insert(rig, 1, "--profile", "piv", "--chuid-guid", "zero")
    card = Card(1)
    expect(card, PIV_SELECT, 0x9000)
    chuid, _ = piv_get_data_all(card, PIV_CHUID)
    if bytes.fromhex("3410") + bytes(16) not in tlv_value(chuid, 0x53):
        raise Failure("--chuid-guid zero: GUID not zero")
    card.close()


def case_piv_puk_resets_pin(rig):
    insert(rig, 1, "--profile", "piv", "--puk", "87654321")
    card = Card(1)
    expect(card, PIV_SELECT, 0x9000)

    def padded(text):
        return text.encode().ljust(8, b"\xff").hex()
    expect(card, "002C008010" + padded("12345678") + padded("222222"), 0x63C2, what="wrong PUK")
    expect(card, "002C008010" + padded("87654321") + padded("222222"), 0x9000, what="PUK")
    expect(card, "0020008008" + padded("12345678"), 0x63C2, what="old PIN")
    expect(card, "0020008008" + padded("222222"), 0x9000, what="new PIN")
    card.close()


# --------------------------------------------------------------------------
# Cases: transport options
# --------------------------------------------------------------------------
def case_t0_get_response(rig):
    insert(rig, 1, "--profile", "piv", "--t0")
    card = Card(1)
    if card.protocol.value != SCARD_PROTOCOL_T0:
        raise Failure("--t0 card not negotiated as T=0")
    fci, sw = card.transmit(PIV_SELECT)
    if fci or sw >> 8 != 0x61:
        raise Failure("T=0 SELECT: %d bytes, SW %04X" % (len(fci), sw))
    fci = expect(card, "00C00000%02X" % (sw & 0xFF), 0x9000, what="GET RESPONSE")
    if not fci.startswith(b"\x61"):
        raise Failure("T=0 FCI: %s" % fci.hex())
    data, sw = card.transmit(PIV_CHUID)
    if data or sw != 0x6100:
        raise Failure("T=0 CHUID (over 256 bytes): %d bytes, SW %04X" % (len(data), sw))
    chuid, rounds = b"", 0
    while sw >> 8 == 0x61 and rounds < 16:
        more, sw = card.transmit("00C00000%02X" % (sw & 0xFF))
        chuid += more
        rounds += 1
    if sw != 0x9000 or len(tlv_value(chuid, 0x53)) + 4 != len(chuid):
        raise Failure("T=0 CHUID through GET RESPONSE: %d bytes, SW %04X" % (len(chuid), sw))
    card.close()


def case_le_quirk(rig):
    insert(rig, 0, "--profile", "gids", "--le-quirk")
    card = Card(0)
    expect(card, "00A4040009A0000003974254465914", 0x9000, what="SELECT with the exact Le")
    expect(card, "00CBA012045C02DF2000", 0x6C13, what="GET DATA card id, Le 00")
    expect(card, "00CBA012045C02DF2013", 0x9000, what="GET DATA card id, Le 13")
    card.close()
    insert(rig, 1, "--profile", "piv", "--le-quirk")
    card = Card(1)
    expect(card, PIV_SELECT[:-2] + "34", 0x9000, what="PIV SELECT with the exact Le")
    expect(card, PIV_CHUID + "08", 0x6C00, what="CHUID over 256 bytes, Le 08")
    data, sw = card.transmit(PIV_CHUID + "00")
    if len(data) != 256 or sw >> 8 != 0x61:
        raise Failure("CHUID with Le 00 under --le-quirk: %d bytes, SW %04X" % (len(data), sw))
    card.close()


CASES = [(name[len("case_"):], fn) for name, fn in sorted(globals().items())
         if name.startswith("case_")]


def main(argv):
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    rig_dir, wanted = argv[0], argv[1:]
    known = dict(CASES)
    unknown = [w for w in wanted if w not in known]
    if unknown:
        print("unknown case(s): %s; known: %s" % (" ".join(unknown), " ".join(known)),
              file=sys.stderr)
        return 2
    failed = 0
    for name, fn in CASES:
        if wanted and name not in wanted:
            continue
        try:
            fn(rig_dir)
            print("PASS %s" % name, flush=True)
        except (Failure, RuntimeError, subprocess.CalledProcessError) as err:
            failed += 1
            print("FAIL %s: %s" % (name, err), flush=True)
        finally:
            for slot in (0, 1):
                remove(rig_dir, slot)
    print("%d case(s) failed" % failed if failed else "all cases passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
