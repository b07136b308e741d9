/// Exponential backoff with jitter for reconnecting to a mail server (IMAP-5).
///
/// The delay doubles after each failed or dropped connection, up to a cap, with random jitter so
/// that many clients do not reconnect in step. It goes back to the start only once a connection
/// has proved healthy: it stayed up for ``Policy/healthyAfter``, or the caller reported a
/// completed poll or IDLE cycle. Resetting as soon as a login succeeds would let a server that
/// accepts logins and then drops the connection cause a reconnect storm.
///
/// Rejected credentials back off on their own, slower schedule (``Policy/authenticationInitialDelay``):
/// retrying a wrong password quickly only gets the account locked.
///
/// A value type with no clock of its own: callers pass the time in, so it is easy to test.
public struct ReconnectBackoff: Sendable, Hashable {
    /// The timing rules.
    public struct Policy: Sendable, Hashable {
        /// Delay before the first reconnect after a failure.
        public var initialDelay: Duration
        /// The largest delay.
        public var maximumDelay: Duration
        /// Growth factor per consecutive failure.
        public var multiplier: Double
        /// Fraction of each delay that is random: the delay is drawn from `[d * (1 - jitter), d]`.
        public var jitter: Double
        /// How long a connection must stay up before the backoff resets.
        public var healthyAfter: Duration
        /// Delay before retrying after the server rejected the credentials; grows the same way.
        public var authenticationInitialDelay: Duration

        public init(
            initialDelay: Duration = .seconds(1),
            maximumDelay: Duration = .seconds(300),
            multiplier: Double = 2,
            jitter: Double = 0.5,
            healthyAfter: Duration = .seconds(300),
            authenticationInitialDelay: Duration = .seconds(60)
        ) {
            self.initialDelay = initialDelay
            self.maximumDelay = maximumDelay
            self.multiplier = max(1, multiplier)
            self.jitter = min(1, max(0, jitter))
            self.healthyAfter = healthyAfter
            self.authenticationInitialDelay = authenticationInitialDelay
        }
    }

    /// The rules in force.
    public let policy: Policy
    /// Consecutive connection failures (including drops) since the last reset.
    public private(set) var failures = 0
    /// Consecutive authentication failures since the last successful login.
    public private(set) var authenticationFailures = 0
    /// When the current connection was established, if one is up.
    public private(set) var connectedAt: ContinuousClock.Instant?

    public init(policy: Policy = Policy()) {
        self.policy = policy
    }

    /// Records a failed connection attempt or a dropped connection.
    public mutating func recordFailure(authentication: Bool = false) {
        connectedAt = nil
        failures += 1
        if authentication { authenticationFailures += 1 }
    }

    /// Records a successful connection and login. Does not reset the backoff by itself.
    public mutating func recordConnected(at now: ContinuousClock.Instant) {
        connectedAt = now
        authenticationFailures = 0
    }

    /// Resets the backoff if the current connection has been up for ``Policy/healthyAfter``, or
    /// unconditionally when `cycleCompleted` says a poll or IDLE cycle finished on it.
    /// Returns true when it reset.
    @discardableResult
    public mutating func recordHealthy(at now: ContinuousClock.Instant, cycleCompleted: Bool = false) -> Bool {
        guard let connectedAt, failures > 0 else { return false }
        if cycleCompleted || now - connectedAt >= policy.healthyAfter {
            failures = 0
            return true
        }
        return false
    }

    /// The wait before the next connection attempt: zero before any failure.
    public func delay<R: RandomNumberGenerator>(using random: inout R) -> Duration {
        guard failures > 0 else { return .zero }
        var base = exponential(policy.initialDelay, steps: failures - 1)
        if authenticationFailures > 0 {
            base = max(base, exponential(policy.authenticationInitialDelay, steps: authenticationFailures - 1))
        }
        let low = base.seconds * (1 - policy.jitter)
        let seconds = low + Double.random(in: 0...1, using: &random) * (base.seconds - low)
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// The wait before the next connection attempt, with the system's random numbers.
    public func delay() -> Duration {
        var random = SystemRandomNumberGenerator()
        return delay(using: &random)
    }

    /// The largest delay ``delay(using:)`` can return for the current state (no jitter).
    public var delayUpperBound: Duration {
        guard failures > 0 else { return .zero }
        var base = exponential(policy.initialDelay, steps: failures - 1)
        if authenticationFailures > 0 {
            base = max(base, exponential(policy.authenticationInitialDelay, steps: authenticationFailures - 1))
        }
        return base
    }

    private func exponential(_ start: Duration, steps: Int) -> Duration {
        let capped = min(steps, 64)
        let seconds = start.seconds * pow2(policy.multiplier, capped)
        return seconds >= policy.maximumDelay.seconds ? policy.maximumDelay : .milliseconds(Int64((seconds * 1000).rounded()))
    }

    private func pow2(_ base: Double, _ exponent: Int) -> Double {
        var result = 1.0
        for _ in 0..<exponent {
            result *= base
            if result > 1e12 { break }
        }
        return result
    }
}
