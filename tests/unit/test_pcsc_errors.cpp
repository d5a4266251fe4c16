// The PC/SC error table (mimcm/pcsc/error.hpp) against the platform's own headers: pcsc-lite
// here, WinSCard in the Windows cross build. No PC/SC call is made.
#include <catch2/catch.hpp>

#include <cstddef>
#include <set>
#include <string>

#include "mimcm/pcsc/error.hpp"

using mimcm::pcsc::Error;
using mimcm::pcsc::ErrorCode;

// Every row's value is the one the platform's headers give its name.
#define MIMCM_TEST_SAME_VALUE(name, value, code, text) \
    static_assert(static_cast<LONG>(value) == static_cast<LONG>(name), #name);
MIMCM_PCSC_ERRORS(MIMCM_TEST_SAME_VALUE)
#if defined(_WIN32)
MIMCM_PCSC_WIN32_ERRORS(MIMCM_TEST_SAME_VALUE)
#endif
#undef MIMCM_TEST_SAME_VALUE

TEST_CASE("every row of the PC/SC error table is found by its value", "[pcsc][errors]") {
    std::set<LONG> seen;
    std::size_t rows = 0;
    for (const auto& row : mimcm::pcsc::detail::error_table) {
        ++rows;
        INFO(row.name);
        const bool first = seen.insert(row.value).second;
        if (first) {
            CHECK(mimcm::pcsc::error_name(row.value) == row.name);
            CHECK(mimcm::pcsc::error_code_of(row.value) == row.code);
            const Error e = Error::from_native("test", row.value, "SCardConnect", "R");
            CHECK(std::string(e.what()) == std::string("SCardConnect(\"R\"): ") + row.text + " (" +
                                               row.name + " " +
                                               mimcm::pcsc::detail::hex32(row.value) + ")");
            CHECK(e.code() == row.code);
        } else {
            // pcsc-lite only: SCARD_E_UNEXPECTED has SCARD_E_UNSUPPORTED_FEATURE's value, and
            // the earlier row wins.
            CHECK(std::string(row.name) == "SCARD_E_UNEXPECTED");
            CHECK(mimcm::pcsc::error_name(row.value) == "SCARD_E_UNSUPPORTED_FEATURE");
        }
        CHECK(std::string(row.text).find_first_not_of(' ') != std::string::npos);
    }
#if defined(_WIN32)
    CHECK(rows == 47);
    CHECK(seen.size() == rows);
    CHECK(mimcm::pcsc::error_name(SCARD_E_UNEXPECTED) == "SCARD_E_UNEXPECTED");
    CHECK(mimcm::pcsc::error_code_of(ERROR_NO_MEDIA_IN_DRIVE) == ErrorCode::no_card);
#else
    CHECK(rows == 45);
    CHECK(seen.size() == rows - 1);
    CHECK(mimcm::pcsc::error_name(1112).empty());  // a Win32 code, only mapped on Windows
#endif
    CHECK(mimcm::pcsc::error_name(SCARD_E_UNSUPPORTED_FEATURE) == "SCARD_E_UNSUPPORTED_FEATURE");
    CHECK(mimcm::pcsc::error_name(static_cast<LONG>(0x80100099)).empty());
    CHECK(mimcm::pcsc::error_code_of(static_cast<LONG>(0x80100099)) == ErrorCode::other);
}
