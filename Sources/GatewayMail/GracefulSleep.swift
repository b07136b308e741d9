import ServiceLifecycle

/// Sleeps for `duration`, or less when the service group starts shutting down gracefully (or the
/// task is cancelled): the long-lived loops never hold a shutdown up for a whole interval.
func sleepUnlessShuttingDown(for duration: Duration) async {
    try? await cancelWhenGracefulShutdown {
        try await Task.sleep(for: duration)
    }
}
