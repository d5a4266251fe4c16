// Runs mimcm-cli for end-to-end tests and reads what it printed.
#pragma once

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
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

/// What an interrupted run of mimcm-cli did.
struct Interrupted {
    int code = -1;           ///< exit status; -1 when it had to be killed
    double exit_ms = -1;     ///< from the signal to its exit
    bool signalled = false;  ///< ready() came true and the signal was sent
    std::string out;
    std::string err;
};

/// Runs mimcm-cli with args (and NAME=value environment entries), sends it `signal` as soon as
/// `ready()` says so (polled every 20 ms, for at most 20 s), and waits at most 10 s for its exit.
inline Interrupted interrupt_cli(const std::vector<std::string>& args,
                                 const std::function<bool()>& ready, int signal = SIGINT,
                                 const std::vector<std::string>& env = {}) {
    const std::string out = mimcm_test::rig_path("cli-interrupted.out");
    const std::string err = mimcm_test::rig_path("cli-interrupted.err");
    const std::string program = rig::cli_path();
    std::vector<std::string> argv_text{program};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_text)
        argv.push_back(&a[0]);
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const int in = ::open("/dev/null", O_RDONLY);
        const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || o < 0 || e < 0)
            ::_exit(127);
        ::dup2(in, 0);
        ::dup2(o, 1);
        ::dup2(e, 2);
        // Default actions, whatever the test runner ignores: the CLI decides for itself.
        ::signal(SIGINT, SIG_DFL);
        ::signal(SIGTERM, SIG_DFL);
        for (const auto& assignment : env)
            ::putenv(const_cast<char*>(assignment.c_str()));
        ::execv(program.c_str(), argv.data());
        ::_exit(127);
    }
    using Clock = std::chrono::steady_clock;
    Interrupted run;
    int status = 0;
    bool exited = false;
    const auto give_up = Clock::now() + std::chrono::seconds(20);
    while (Clock::now() < give_up) {
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            exited = true;  // ended before it was ready: a failure the caller sees in code
            break;
        }
        if (ready()) {
            run.signalled = true;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!exited) {
        const auto sent = Clock::now();
        ::kill(pid, run.signalled ? signal : SIGKILL);
        const auto limit = sent + std::chrono::seconds(10);
        while (!exited && Clock::now() < limit) {
            if (::waitpid(pid, &status, WNOHANG) == pid) {
                exited = true;
                run.exit_ms =
                    std::chrono::duration<double, std::milli>(Clock::now() - sent).count();
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        if (!exited) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
        }
    }
    run.code = exited && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
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
