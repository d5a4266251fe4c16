// Runs mimcm-cli for end-to-end tests and reads what it printed.
#pragma once

#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "emulator.hpp"
#include "rig.hpp"

namespace mimcm_test {

struct Run {
    int code = -1;
    std::string out;
    std::string err;
};

/// Runs mimcm-cli with args (and optional environment assignments), capturing both streams.
inline Run cli(const std::vector<std::string>& args, const std::string& env = {}) {
    const std::string out = mimcm_test::rig_path("cli.out");
    const std::string err = mimcm_test::rig_path("cli.err");
    std::string command = env + " " + rig::shell_quote(rig::cli_path());
    for (const auto& a : args)
        command += " " + rig::shell_quote(a);
    command += " >" + rig::shell_quote(out) + " 2>" + rig::shell_quote(err) + " </dev/null";
    const int status = std::system(command.c_str());
    Run run;
    run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.out = slurp(out);
    run.err = slurp(err);
    return run;
}

/// stdout of a --json run: one object with an "outcome" field.
inline rapidjson::Document json_of(const std::string& text) {
    rapidjson::Document doc;
    doc.Parse(text.c_str());
    REQUIRE_FALSE(doc.HasParseError());
    REQUIRE(doc.IsObject());
    REQUIRE(doc.HasMember("outcome"));
    return doc;
}

}  // namespace mimcm_test
