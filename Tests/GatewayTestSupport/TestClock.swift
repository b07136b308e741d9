import Foundation
import GatewayCore
import Synchronization

/// A clock the test moves by hand.
public final class TestClock: GatewayClock, Sendable {
    private let current: Mutex<Date>

    public init(_ start: Date = Date()) { current = Mutex(start) }

    public var now: Date { current.withLock { $0 } }

    public func advance(by seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }

    public func set(_ instant: Date) { current.withLock { $0 = instant } }
}
