// The benchmarks' command lines: one parser for every program, and one way to stop on an error.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace mimcm_bench {

/// The running program's name, for its messages (set by parse_args from argv[0]).
inline std::string program_name = "bench";

/// Prints "PROGRAM: why" and exits with status 1.
[[noreturn]] inline void fail(const std::string& why) {
    std::fprintf(stderr, "%s: %s\n", program_name.c_str(), why.c_str());
    std::exit(1);
}

/// What a flag's handler reads after the flag.
class ArgValue {
  public:
    ArgValue(int argc, char** argv, int& at) : argc_(argc), argv_(argv), at_(at) {}

    /// The next argument as it is.
    [[nodiscard]] std::string text() {
        if (at_ + 1 >= argc_)
            fail(std::string("missing value after ") + argv_[at_]);
        return argv_[++at_];
    }

    /// The next argument as a whole number of at least `min`.
    [[nodiscard]] long number(long min) {
        const std::string flag = argv_[at_];
        return parse_number(flag, text(), min);
    }

    /// The next argument as a comma-separated list of whole numbers of at least `min`.
    [[nodiscard]] std::vector<long> numbers(long min) {
        const std::string flag = argv_[at_];
        const std::string list = text();
        std::vector<long> values;
        for (std::size_t start = 0; start <= list.size();) {
            std::size_t end = list.find(',', start);
            if (end == std::string::npos)
                end = list.size();
            values.push_back(parse_number(flag, list.substr(start, end - start), min));
            start = end + 1;
        }
        return values;
    }

  private:
    static long parse_number(const std::string& flag, const std::string& text, long min) {
        char* end = nullptr;
        errno = 0;
        const long value = std::strtol(text.c_str(), &end, 10);
        if (text.empty() || *end != '\0' || errno != 0 || value < min)
            fail(flag + " takes whole numbers of at least " + std::to_string(min) + ", not '" +
                 text + "'");
        return value;
    }

    int argc_;
    char** argv_;
    int& at_;
};

/// Walks the command line: on_flag(flag, value) handles one argument (reading what follows it
/// through value) and returns false for one it does not know, which fails with the usage line.
template <class OnFlag>
void parse_args(int argc, char** argv, std::string_view usage, OnFlag on_flag) {
    if (argc > 0) {
        const std::string_view path = argv[0];
        program_name = std::string(path.substr(path.find_last_of('/') + 1));
    }
    for (int i = 1; i < argc; ++i) {
        ArgValue value(argc, argv, i);
        if (!on_flag(std::string_view(argv[i]), value))
            fail("unknown argument " + std::string(argv[i]) + "\nusage: " + std::string(usage));
    }
}

}  // namespace mimcm_bench
