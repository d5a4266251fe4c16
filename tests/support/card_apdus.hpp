// The APDUs of the GIDS and PIV profiles as the card tests' scripts spell them, and the docs'
// card id. No test framework here: the benchmarks send the same APDUs.
#pragma once

#include <string>

namespace mimcm_test {

namespace apdu {
inline const std::string select_gids = "00 A4 04 00 09 A0 00 00 03 97 42 54 46 59 00";
inline const std::string select_piv = "00 A4 04 00 09 A0 00 00 03 08 00 00 10 00 00";
inline const std::string get_master_file = "00 CB A0 00 04 5C 02 DF 1F 00";
inline const std::string get_cardid_default = "00 CB A0 12 04 5C 02 DF 20 00";
inline const std::string get_challenge = "00 84 00 00 08";
/// GIDS: MSE SET (external authentication, admin key 80) and GENERAL AUTHENTICATE for a
/// challenge, then for the response.
inline const std::string mse_set = "00 22 81 A4 03 83 01 80";
inline const std::string gids_challenge = "00 87 00 00 04 7C 02 81 00 00";
inline const std::string gids_response_prefix = "00 87 00 00 0C 7C 0A 82 08";
/// PIV: GET METADATA of the 9B management key (YubiKey).
inline const std::string piv_metadata = "00 F7 00 9B 00";
inline const std::string get_chuid = "00 CB 3F FF 05 5C 03 5F C1 02 00";
inline const std::string general_authenticate = "00 87 03 9B 04 7C 02 81 00 00";
/// The card id bytes whose GUID is the docs' bc88f13f-83ba-4037-8262-46eba1291c6e.
inline const std::string card_id_hex = "3ff188bcba833740826246eba1291c6e";
}  // namespace apdu

}  // namespace mimcm_test
