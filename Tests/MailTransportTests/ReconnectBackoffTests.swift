import Testing
@testable import MailTransport

/// A deterministic random source for jitter tests.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Reconnect backoff (IMAP-5)")
struct ReconnectBackoffTests {
    @Test("delays grow exponentially with jitter and stay under the cap")
    func growth() {
        var backoff = ReconnectBackoff(policy: .init(initialDelay: .seconds(1), maximumDelay: .seconds(300), jitter: 0.5))
        var random = SeededRandom(state: 42)
        #expect(backoff.delay(using: &random) == .zero)
        var previousBound = Duration.zero
        for failure in 1...15 {
            backoff.recordFailure()
            let bound = backoff.delayUpperBound
            #expect(bound >= previousBound)
            #expect(bound <= .seconds(300))
            for _ in 0..<50 {
                let d = backoff.delay(using: &random)
                #expect(d <= bound && d >= bound / 2, "failure \(failure): \(d) not in [\(bound / 2), \(bound)]")
            }
            previousBound = bound
        }
        #expect(backoff.delayUpperBound == .seconds(300))
    }

    @Test("jitter spreads the delays")
    func jitterSpreads() {
        var backoff = ReconnectBackoff(policy: .init(initialDelay: .seconds(8)))
        backoff.recordFailure()
        var random = SeededRandom(state: 7)
        let delays = Set((0..<20).map { _ in backoff.delay(using: &random) })
        #expect(delays.count > 10)
    }

    @Test("a successful login alone does not reset the backoff; staying up or a completed cycle does")
    func resetOnlyWhenHealthy() {
        var backoff = ReconnectBackoff(policy: .init(healthyAfter: .seconds(300)))
        let t0 = ContinuousClock.now
        backoff.recordFailure()
        backoff.recordFailure()
        backoff.recordConnected(at: t0)
        #expect(backoff.recordHealthy(at: t0 + .seconds(5)) == false)
        #expect(backoff.failures == 2)
        #expect(backoff.recordHealthy(at: t0 + .seconds(301)) == true)
        #expect(backoff.failures == 0)
        backoff.recordFailure()
        backoff.recordConnected(at: t0)
        #expect(backoff.recordHealthy(at: t0 + .seconds(1), cycleCompleted: true) == true)
        #expect(backoff.failures == 0)
    }

    @Test("authentication failures back off on their own, slower schedule")
    func authenticationSchedule() {
        var backoff = ReconnectBackoff(policy: .init(initialDelay: .seconds(1), authenticationInitialDelay: .seconds(60)))
        backoff.recordFailure(authentication: true)
        #expect(backoff.delayUpperBound == .seconds(60))
        backoff.recordFailure(authentication: true)
        #expect(backoff.delayUpperBound == .seconds(120))
        backoff.recordConnected(at: .now)
        backoff.recordFailure()
        #expect(backoff.delayUpperBound == .seconds(4))
    }

    @Test("IMAP-5: a server that accepts the login and then drops the connection gets few attempts in 10 minutes")
    func noReconnectStorm() {
        // Simulated time: each attempt logs in, survives 2 s, is dropped, then waits the delay.
        let policy = ReconnectBackoff.Policy(initialDelay: .seconds(1), maximumDelay: .seconds(300), jitter: 0.5, healthyAfter: .seconds(300))
        var backoff = ReconnectBackoff(policy: policy)
        var random = SeededRandom(state: 1)
        let start = ContinuousClock.now
        var now = start
        var attempts = 0
        while now - start < .seconds(600) {
            attempts += 1
            backoff.recordConnected(at: now)
            now += .seconds(2)
            backoff.recordHealthy(at: now)  // a command succeeded before the drop
            backoff.recordFailure()
            now += backoff.delay(using: &random)
        }
        // 1+2+4+...+256 s of waiting plus 2 s per session: at most 13 attempts fit in 600 s
        // even if every jittered delay came out at its lower bound.
        #expect(attempts <= 13, "\(attempts) attempts in 10 minutes")
        #expect(attempts >= 5)
    }
}
