// tests/rig/fault_server.py, started by a test: an HTTP server that misbehaves on purpose.
#pragma once

#include <catch2/catch.hpp>

#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "rig.hpp"

namespace mimcm_test {

/// fault_server.py on a port the OS chose, stopped (and reaped) when this dies. The server also
/// exits by itself after two minutes.
class FaultServer {
  public:
    FaultServer() {
        char dir_template[] = "/tmp/mimcm-fault-XXXXXX";
        REQUIRE(::mkdtemp(dir_template) != nullptr);
        dir_ = dir_template;
        port_file_ = dir_ + "/port";
        const std::string script = mimcm_test::rig::source_dir() + "/tests/rig/fault_server.py";
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            std::freopen("/dev/null", "w", stdout);
            ::execlp("python3", "python3", script.c_str(), "--port-file", port_file_.c_str(),
                     "--lifetime", "120", static_cast<char*>(nullptr));
            std::_Exit(127);
        }
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
        while (std::chrono::steady_clock::now() < deadline) {
            std::ifstream in(port_file_);
            if (in >> port_)
                break;
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        INFO("fault_server.py did not write its port within 15 s");
        REQUIRE(port_ > 0);
    }
    ~FaultServer() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            int status = 0;
            ::waitpid(pid_, &status, 0);
        }
        std::remove(port_file_.c_str());
        ::rmdir(dir_.c_str());
    }
    FaultServer(const FaultServer&) = delete;
    FaultServer& operator=(const FaultServer&) = delete;

    /// The base URL whose first path segment selects the fault.
    [[nodiscard]] std::string url(const std::string& mode) const {
        return "http://127.0.0.1:" + std::to_string(port_) + "/" + mode;
    }

  private:
    std::string dir_;
    std::string port_file_;
    pid_t pid_ = -1;
    int port_ = 0;
};

}  // namespace mimcm_test
