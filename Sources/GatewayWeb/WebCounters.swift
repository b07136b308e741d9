import Synchronization

/// In-process counters for `/metrics` (what the database does not already count).
final class WebCounters: Sendable {
    private let values = Mutex<[String: Int]>([:])

    func increment(_ key: String) {
        values.withLock { $0[key, default: 0] += 1 }
    }

    func value(_ key: String) -> Int {
        values.withLock { $0[key] ?? 0 }
    }

    /// Link verification failures (LINK-10), by reason: visitors see one page, operators see why.
    static let linkFailure = "link_failures"
    /// Refused sign-ins through the identity provider, by reason.
    static let signInFailure = "sign_in_failures"
}
