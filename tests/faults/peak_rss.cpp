// peak_rss FILE SECONDS COMMAND [ARGS...]: runs COMMAND, writes its peak resident memory in KiB
// (ru_maxrss from wait4) to FILE and exits with COMMAND's exit status (128 + the signal if it was
// killed). COMMAND is killed (SIGKILL) if it runs longer than SECONDS.
//
// Linux keeps a process's resident high-water mark across execve, so a command started straight
// from a big parent (the Python fault matrix) would report at least the parent's size. Started
// from this small program, the figure is the command's own (plus this program's few pages).
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace {

volatile sig_atomic_t child_pid = 0;

void on_alarm(int) {
    if (child_pid > 0)
        ::kill(child_pid, SIGKILL);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: peak_rss FILE SECONDS COMMAND [ARGS...]\n");
        return 125;
    }
    char* end = nullptr;
    const long seconds = std::strtol(argv[2], &end, 10);
    if (*end != '\0' || seconds <= 0) {
        std::fprintf(stderr, "peak_rss: SECONDS must be a positive number, got '%s'\n", argv[2]);
        return 125;
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
        std::perror("peak_rss: fork");
        return 125;
    }
    if (pid == 0) {
        ::execv(argv[3], argv + 3);
        std::perror("peak_rss: exec");
        std::_Exit(127);
    }
    child_pid = pid;
    struct sigaction action {};
    action.sa_handler = on_alarm;
    ::sigaction(SIGALRM, &action, nullptr);
    ::alarm(static_cast<unsigned>(seconds));

    int status = 0;
    rusage usage{};
    while (::wait4(pid, &status, 0, &usage) < 0) {
        if (errno != EINTR) {
            std::perror("peak_rss: wait4");
            return 125;
        }
    }
    ::alarm(0);
    std::FILE* out = std::fopen(argv[1], "w");
    if (!out) {
        std::perror("peak_rss: cannot write FILE");
        return 125;
    }
    std::fprintf(out, "%ld\n", usage.ru_maxrss);
    std::fclose(out);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
