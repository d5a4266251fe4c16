#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/) from the examples of
the CM REST API and smart card references: response bodies, identifiers, card answers. The layout
of the structured inputs (fields with a length first) is the one of fuzz_input.hpp. Run it again
after changing a seed."""
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------------------------------------
# Bodies from the REST API reference (its examples, with the elisions filled in).
TEMPLATES = ('[ {"Name":"FIM CM Sample Profile Template","Description":"Description of the '
             'template goes here","Uuid":"12bd5120-86a2-4ee1-8d05-131066871578",'
             '"IsSmartcardProfileTemplate":true,"IsVirtualSmartcardProfileTemplate":false} ]')
REQUEST = ('{"Uuid":"a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099","RequestType":1,"Status":3,"Flags":2,'
           '"DataCollection":[],"DataCollectionFlags":32,'
           '"OriginatorUserUuid":"97cc3493-f556-4c9b-9d8b-982434201527",'
           '"TargetUserUuid":"97cc3493-f556-4c9b-9d8b-982434201527",'
           '"Submitted":"2015-07-07T23:35:11.193Z","Completed":null,'
           '"NewProfileUuid":"00000000-0000-0000-0000-000000000000",'
           '"OldProfileUuid":"00000000-0000-0000-0000-000000000000",'
           '"NewSmartcardUuid":"00000000-0000-0000-0000-000000000000",'
           '"OldSmartcardUuid":"00000000-0000-0000-0000-000000000000","Priority":0,"Comment":"",'
           '"ProfileTemplateUuid":"a039b4d0-5ce8-4eff-8651-181c6576fda3",'
           '"SecurityDescriptor":"O:SYG:SYD:\\u0000\\u0000","IsSmartcard":true,'
           '"IsEnrollmentAgent":false,"IsDataCollectionComplete":true}')
REQUEST_DC = ('{"uuid":"0c96d73f-967b-420e-854a-43ad2a1504bc","status":"2","priority":"4",'
              '"datacollection":"[{\\"name\\":\\"pavle\\"},{\\"city\\":\\"seattle\\"}]",'
              '"Extra":{"a":[1,2.5,true,null]}}')
GENERATION = ('[{"Subject":"","KeyAlgorithmName":"RSA","KeySize":2048,"FriendlyName":"",'
              '"HashAlgorithmName":"SHA1","KeyStorageProviderNames":["Contoso Smart Card KSP"],'
              '"Exportable":0,"KeyProtectionLevel":0,"KeyUsages":16777215}]')
CERTIFICATES = ('[{"TemplateCommonName":"ContosoVirtualSmartCardLimitedRelease-KSP",'
                '"CertificateId":0,"Flags":65536,"UseLocalMachineStore":false,"Error":null,'
                '"Pkcs7":"MIIUhgYJKoZIhvcNAQcCoIIUdzCC\\r\\nAQEx","Pfx":null,"IsExternal":false,'
                '"isServerGenerated":false,"isPfx":false,"isPkcs7":true,"isKeyHistory":false}]')
SMARTCARD = ('{"Uuid":"438d1b30-f3b4-4bed-85fa-285e08605ba7","Status":3,"Flags":1,'
             '"ParentSmartcardUuid":"00000000-0000-0000-0000-000000000000",'
             '"PrimarySmartcardUuid":"438d1b30-f3b4-4bed-85fa-285e08605ba7",'
             '"PermanentSmartcardUuid":"00000000-0000-0000-0000-000000000000",'
             '"AssignedUserUuid":"97cc3493-f556-4c9b-9d8b-982434201527",'
             '"ProfileTemplateUuid":"a039b4d0-5ce8-4eff-8651-181c6576fda3",'
             '"ProfileTemplateVersion":1,"Comment":"",'
             '"SerialNumber":"{bc88f13f-83ba-4037-8262-46eba1291c6e}","Middleware":"MSBaseCSP",'
             '"Atr":"3B8D0180FBA000000397425446590301C8"}')
PROFILES = ('[{"Uuid":"c0dd5c7d-ec35-4346-baca-3ad711e9722f","Status":2,"Flags":1,'
            '"ParentProfileUuid":"1c9e2606-fea2-4048-a6ac-b014e54c22df",'
            '"PrimaryProfileUuid":"c0dd5c7d-ec35-4346-baca-3ad711e9722f",'
            '"AssignedUserUuid":"97cc3493-f556-4c9b-9d8b-982434201527",'
            '"ProfileTemplateUuid":"12bd5120-86a2-4ee1-8d05-131066871578",'
            '"ProfileTemplateVersion":3,"Comment":"","ProfileOperations":["renew","retire"]}]')
CLM_CERTS = ('[{"IsKeyHistory":false,"ArchivedOnCa":false,"CertificateType":1,'
             '"TemplateCommonName":"KSPusercertificate","SerialNumber":"270000013C3A98764EC3",'
             '"Thumbprint":"B6B2A2F3E9A1C7D9","NotAfter":"2016-07-07T23:37:37Z",'
             '"NotBefore":"2015-07-07T23:37:37Z","Issuer":"CN=Contoso CA",'
             '"RequesterName":"CONTOSO\\\\pavle","Status":20}]')
POLICY = ('{"Enabled":true,"SelfServiceEnabled":true,"CollectComments":false,'
          '"CollectRequestPriority":"false","DefaultRequestPriority":"0","ApprovalsNeeded":0,'
          '"EnrollAgentRequired":false,"PolicyDataCollection":[{"Name":"Reason","Required":true}]}')
CARD_POLICY = ('{"DefaultAdminKeyHex":"010203040506070801020304050607080102030405060708",'
               '"DiversifyAdminKey":true,"UserPinOption":"ServerProposed","Unknown":[{}]}')
ERROR = ('{"Message":"An error has occurred.","ExceptionMessage":"The request failed. '
         'Correlation ID: 5c3e1c4a-6a61-4c4f-8b1f-3d6f8ab8c1aa","ExceptionType":"System.Exception"}')
OPERATIONS = '["renew","retire","unblock"]'
PIN = '"00123456"'
URI = '"api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099"'
URI_LONG = '"/CertificateManagement/api/v1.0/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9"'
RESPONSE = '"F0Zudm4wPLY="'
DIVERSIFIED = '"mBVA+HopB/gc+6FuKsQqx+OX01hK1WQI"'

BODIES = {
    "templates": TEMPLATES, "request": REQUEST, "request_dc": REQUEST_DC,
    "generation": GENERATION, "certificates": CERTIFICATES, "smartcard": SMARTCARD,
    "profiles": PROFILES, "clm_certificates": CLM_CERTS, "policy": POLICY,
    "card_policy": CARD_POLICY, "error": ERROR, "operations": OPERATIONS, "pin": PIN, "uri": URI,
    "response": RESPONSE,
}

# The operations of fuzz_client.cpp, in its order, with a body the docs show for a success.
OPERATIONS_BODIES = [
    PIN, TEMPLATES, POLICY, CARD_POLICY, URI, "[" + REQUEST + "]", REQUEST, REQUEST, GENERATION,
    CERTIFICATES, '"api/v1.0/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9"', SMARTCARD,
    SMARTCARD, RESPONSE, DIVERSIFIED, SMARTCARD, OPERATIONS, CLM_CERTS, PROFILES, PROFILES,
    PROFILES, OPERATIONS, CLM_CERTS, CLM_CERTS,
]


def field(data: bytes) -> bytes:
    if len(data) < 255:
        return bytes([len(data)]) + data
    return b"\xff" + struct.pack(">H", len(data)) + data


def response(status: int, body: str = "", headers=(("Content-Type", "application/json"),)) -> bytes:
    out = b"\x00" + struct.pack(">H", status) + bytes([len(headers)])
    for name, value in headers:
        out += field(name.encode()) + field(value.encode())
    return out + field(body.encode())


def client_seeds():
    seeds = {}
    for op, body in enumerate(OPERATIONS_BODIES):
        status = 201 if op in (4, 10) else 200
        seeds[f"op{op:02d}_ok"] = bytes([op, 0]) + response(status, body)
        seeds[f"op{op:02d}_204"] = bytes([op, 0]) + response(204)
    seeds["op05_401_retry"] = bytes([5, 1]) + response(
        401, ERROR, (("WWW-Authenticate", "Bearer"), ("WWW-Authenticate", "Negotiate"))) + \
        response(200, "[" + REQUEST + "]")
    seeds["op06_500"] = bytes([6, 0]) + response(500, ERROR)
    seeds["op12_404_text"] = bytes([12, 0]) + response(
        404, "Not found. Correlation 5c3e1c4a-6a61-4c4f-8b1f-3d6f8ab8c1aa",
        (("Content-Type", "text/plain"),))
    seeds["op03_403"] = bytes([3, 2]) + response(403, '{"message":[[[[1]]]]}')
    # A secret that must never be quoted in a message: in a body the client rejects.
    seeds["op00_bad_pin"] = bytes([0, 0]) + response(200, '"s3cr3t\\u0001"')
    seeds["op14_bad_key"] = bytes([14, 0]) + response(200, '"s3cr3t=="')
    seeds["op03_bad_policy"] = bytes([3, 0]) + response(200, '{"DefaultAdminKeyHex":["s3cr3t"]}')
    seeds["op00_timeout"] = bytes([0, 0, 0x0F])
    seeds["op09_reset"] = bytes([9, 0, 0x4F])
    return seeds


# ---------------------------------------------------------------------------------------------
# Card answers (smart card reference: GIDS and PIV APDUs, with the unit tests' values).
CHALLENGE = bytes.fromhex("d61143f9ccffd2ca")
CARD_ID = bytes.fromhex("3ff188bcba833740826246eba1291c6e")
OK = b"\x90\x00"
GIDS_FCI = bytes.fromhex("61124F0BA0000003974254465902017303 4001C0".replace(" ", ""))
PIV_APT = bytes.fromhex("61114F0600001000010079074F05A000000308")


def tlv(tag: bytes, value: bytes) -> bytes:
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    elif n <= 0xFF:
        length = b"\x81" + bytes([n])
    else:
        length = b"\x82" + struct.pack(">H", n)
    return tag + length + value


def mf_record(directory: str, file: str, data_object: int, ef: int) -> bytes:
    r = bytearray(28)
    r[0:len(directory)] = directory.encode()
    r[9:9 + len(file)] = file.encode()
    r[20:24] = struct.pack("<I", data_object)
    r[24:28] = struct.pack("<I", ef)
    return bytes(r)


MASTER_FILE = tlv(b"\xdf\x1f", b"\x01" + mf_record("mscp", "", 0, 0xA010) +
                  mf_record("", "cardid", 0xDF20, 0xA012) +
                  mf_record("", "cardapps", 0xDF21, 0xA012))
GIDS_CARDID = tlv(b"\xdf\x20", CARD_ID)
CHUID = tlv(b"\x53", tlv(b"\x30", bytes.fromhex("d4e739da739ced39ce739d836858210842108421c84210c3eb"))
            + tlv(b"\x34", CARD_ID) + tlv(b"\x35", b"20300101") + tlv(b"\x3e", b"") + b"\xfe\x00")
CHALLENGE_TEMPLATE = tlv(b"\x7c", tlv(b"\x81", CHALLENGE))
PIV_METADATA = bytes.fromhex("010103020200 01".replace(" ", ""))


def card_seeds():
    def script(resolver: int, answers) -> bytes:
        return bytes([resolver]) + b"".join(field(a) for a in answers)

    gids_session = [GIDS_FCI + OK, MASTER_FILE + OK, GIDS_CARDID + OK,  # resolve, card id
                    OK, CHALLENGE_TEMPLATE + OK,  # MSE SET, GENERAL AUTHENTICATE
                    OK,  # the response
                    OK,  # admin key
                    OK,  # PIN (ends the admin login)
                    OK, tlv(b"\x7c", tlv(b"\x81", bytes(16))) + OK, bytes.fromhex("6982"),
                    bytes.fromhex("6A82")]
    piv_session = [PIV_APT + OK, CHUID + OK, PIV_METADATA + OK, CHALLENGE_TEMPLATE + OK, OK, OK,
                   bytes.fromhex("63C2"), tlv(b"\x7c", tlv(b"\x80", bytes(8))) + OK,
                   bytes.fromhex("6A80")]
    return {
        "gids_session": script(1, gids_session),
        "auto_gids": script(0, [bytes.fromhex("6A82")] + gids_session),
        "piv_session": script(2, piv_session),
        "auto_piv": script(0, piv_session),
        "gids_legacy_challenge": script(1, [GIDS_FCI + OK, MASTER_FILE + OK, GIDS_CARDID + OK,
                                            bytes.fromhex("6D00"), CHALLENGE + OK, OK]),
        "gids_chained": script(1, [bytes.fromhex("6114"), GIDS_FCI + OK,
                                   MASTER_FILE[:40] + bytes.fromhex("61") + bytes([len(MASTER_FILE) - 40]),
                                   MASTER_FILE[40:] + OK, bytes.fromhex("6C12"), GIDS_CARDID + OK]),
    }


def apdu_seeds():
    # A command (CLA INS P1 P2, data field, Le) then the card's answers to it.
    def command(header: bytes, data: bytes, le: int, answers) -> bytes:
        return header + field(data) + bytes([le]) + b"".join(field(a) for a in answers)

    return {
        "select_gids": command(bytes.fromhex("00A40400"), bytes.fromhex("A00000039742544659"),
                               255, [bytes.fromhex("6114"), GIDS_FCI + OK]),
        "get_data_6c": command(bytes.fromhex("00CBA000"), bytes.fromhex("5C02DF1F"), 255,
                               [bytes.fromhex("6C5A"), MASTER_FILE + OK]),
        "master_file": MASTER_FILE + OK,
        "chuid": CHUID,
        "challenge": CHALLENGE_TEMPLATE + OK,
        "long_length": tlv(b"\x5f\xc1\x02", bytes(300)),
        "metadata": PIV_METADATA,
    }


def encoding_seeds():
    return {
        "guid": b"bc88f13f-83ba-4037-8262-46eba1291c6e",
        "guid_braces": b"{BC88F13F-83BA-4037-8262-46EBA1291C6E}",
        "url": b"https://cm.example:8443/CertificateManagement/",
        "url_ipv6": b"http://[::1]:80",
        "atr": b"3b8d0180fba000000397425446590301c8",
        "challenge": b"1hFD+cz/0so=",
        "key": b"mBVA+HopB/gc+6FuKsQqx+OX01hK1WQI",
        "query": b"cardid=bc88f13f&challenge=1hFD%2Bcz%2F0so%3D&diversified=False",
        "uri": b"/CertificateManagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099",
        "message": b"Correlation ID: 5c3e1c4a-6a61-4c4f-8b1f-3d6f8ab8c1aa\r\n",
    }


def write(target: str, seeds) -> None:
    # The seeds have names; the inputs that tests/fuzz/run.sh --merge adds (named by their SHA-1)
    # are left as they are.
    directory = os.path.join(HERE, "corpus", target)
    os.makedirs(directory, exist_ok=True)
    for name, data in seeds.items():
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)


def main() -> int:
    for name, body in BODIES.items():
        if name not in ("pin", "uri", "response"):
            json.loads(body)  # every example is JSON
    write("fuzz_json", BODIES)
    write("fuzz_client", client_seeds())
    write("fuzz_card", card_seeds())
    write("fuzz_apdu", apdu_seeds())
    write("fuzz_encoding", encoding_seeds())
    return 0


if __name__ == "__main__":
    sys.exit(main())
