// Helpers for integration tests against the rig (real pcscd + virtual cards, CM emulator).
//   rig_dir()     the rig's state directory (env MIMCM_RIG_DIR, else the build's)
//   source_dir()  the source tree (env MIMCM_SOURCE_DIR, else the build's)
//   cli_path()    mimcm-cli (env MIMCM_CLI, else the build's)
//   run(cmd)      runs a shell command, returns its exit code and output (stdout + stderr)
//   insert_card / remove_card  tests/rig/pcsc-rig.sh insert|remove <rig_dir> <slot> ...
// A broken rig fails the test loudly (REQUIRE), it never skips.
#pragma once

#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace mimcm_test::rig {

struct RunResult {
    int exit_code = -1;  ///< the command's exit status; 128 + signal when killed by a signal
    std::string output;  ///< stdout and stderr, interleaved
};

/// The environment variable `name` if set, else the build's default for it (a path CMake
/// compiled in); a test fails when neither exists.
inline std::string setting(const char* name, const char* build_default) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0')
        value = build_default;
    INFO(name << " is not set and the build gave no default");
    REQUIRE(value != nullptr);
    REQUIRE(*value != '\0');
    return value;
}

#ifndef MIMCM_TEST_RIG_DIR
#define MIMCM_TEST_RIG_DIR nullptr
#endif
#ifndef MIMCM_TEST_SOURCE_DIR
#define MIMCM_TEST_SOURCE_DIR nullptr
#endif
#ifndef MIMCM_TEST_CLI
#define MIMCM_TEST_CLI nullptr
#endif

inline std::string rig_dir() {
    return setting("MIMCM_RIG_DIR", MIMCM_TEST_RIG_DIR);
}
inline std::string source_dir() {
    return setting("MIMCM_SOURCE_DIR", MIMCM_TEST_SOURCE_DIR);
}
inline std::string cli_path() {
    return setting("MIMCM_CLI", MIMCM_TEST_CLI);
}

/// Single-quotes text for /bin/sh.
inline std::string shell_quote(std::string_view text) {
    std::string out = "'";
    for (const char c : text) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out.push_back(c);
        }
    }
    out += "'";
    return out;
}

/// Runs `command` with /bin/sh (stdin from /dev/null, stderr merged into the output).
inline RunResult run(const std::string& command) {
    RunResult result;
    const std::string full = "( " + command + " ) </dev/null 2>&1";
    FILE* pipe = ::popen(full.c_str(), "r");
    REQUIRE(pipe != nullptr);
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0)
        result.output.append(buffer, n);
    const int status = ::pclose(pipe);
    if (status == -1) {
        result.exit_code = -1;
    } else if (WIFEXITED(status)) {
        result.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        result.exit_code = 128 + WTERMSIG(status);
    }
    return result;
}

/// The reader name of a vpcd slot: "Virtual PCD 00 00" (slot 0), "Virtual PCD 00 01" (slot 1).
inline std::string reader_name(int slot) {
    return "Virtual PCD 00 0" + std::to_string(slot);
}

inline std::string pcsc_rig_script() {
    return source_dir() + "/tests/rig/pcsc-rig.sh";
}

/// Runs pcsc-rig.sh with the given subcommand and arguments (already shell-quoted as needed);
/// REQUIREs a clean exit.
inline RunResult pcsc_rig(const std::string& subcommand, int slot, const std::string& args = {}) {
    const std::string command = shell_quote(pcsc_rig_script()) + " " + subcommand + " " +
                                shell_quote(rig_dir()) + " " + std::to_string(slot) +
                                (args.empty() ? "" : " " + args);
    RunResult result = run(command);
    INFO("command: " << command << "\noutput:\n" << result.output);
    REQUIRE(result.exit_code == 0);
    return result;
}

/// Starts a virtual card in `slot` (replacing any card there) and waits until the reader
/// reports it present. `args` are virtual_card.py options, e.g. "--profile gids --t0".
inline void insert_card(int slot, const std::string& args) {
    pcsc_rig("insert", slot, args);
}

/// Stops the virtual card in `slot` (if any) and waits until the reader is empty.
inline void remove_card(int slot) {
    pcsc_rig("remove", slot);
}

/// Removes the cards of both slots when the test ends (also when it fails), so a test never
/// leaves a card behind for the next one.
class EmptyReadersAtExit {
  public:
    EmptyReadersAtExit() = default;
    EmptyReadersAtExit(const EmptyReadersAtExit&) = delete;
    EmptyReadersAtExit& operator=(const EmptyReadersAtExit&) = delete;
    ~EmptyReadersAtExit() {
        const char* dir = std::getenv("MIMCM_RIG_DIR");
        const char* src = std::getenv("MIMCM_SOURCE_DIR");
        if (!dir)
            dir = MIMCM_TEST_RIG_DIR;
        if (!src)
            src = MIMCM_TEST_SOURCE_DIR;
        if (!dir || !src)
            return;
        for (int slot = 0; slot < 2; ++slot) {
            const std::string command =
                "( " + shell_quote(std::string(src) + "/tests/rig/pcsc-rig.sh") + " remove " +
                shell_quote(dir) + " " + std::to_string(slot) + " ) </dev/null >/dev/null 2>&1";
            FILE* pipe = ::popen(command.c_str(), "r");
            if (pipe)
                ::pclose(pipe);
        }
    }
};

}  // namespace mimcm_test::rig
