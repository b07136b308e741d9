import Foundation
import Testing

/// Polls `probe` every 100 ms until it returns a value, and returns it; when `timeout` runs out,
/// records an issue naming `what` and throws. For waiting on another process (a `serve`, the mail
/// lab), never for measuring time.
public func eventually<T>(_ what: String, timeout: Duration = .seconds(20), _ probe: () async throws -> T?) async throws -> T {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if let value = try await probe() { return value }
        try await Task.sleep(for: .milliseconds(100))
    }
    Issue.record("timed out waiting for \(what)")
    throw CancellationError()
}
