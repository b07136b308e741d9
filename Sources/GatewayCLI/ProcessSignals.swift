#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Process-wide signal set-up, done first thing in `main`.
enum ProcessSignals {
    /// Unblocks every signal. A process inherits its parent's signal mask, and some parents (process
    /// supervisors, test runners, language runtimes that spawn from worker threads) start children
    /// with SIGTERM and SIGINT blocked, which would make `serve` deaf to a graceful shutdown.
    static func unblockAll() {
        var empty = sigset_t()
        sigemptyset(&empty)
        sigprocmask(SIG_SETMASK, &empty, nil)
    }
}

@available(macOS 15, *)
extension ApprovalGatewayCommand {
    /// Prepares the process (signals) and runs the command line.
    public static func start() async {
        ProcessSignals.unblockAll()
        await runMain()
    }
}
