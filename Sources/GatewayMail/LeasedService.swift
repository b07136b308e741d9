import Foundation
import GatewayApp
import Logging
import ServiceLifecycle

/// Runs a service on one gateway at a time: the gateway that holds the database lease `name` runs
/// it, renewing the lease every third of its duration; the others wait and take the lease over
/// once it runs out (a gateway killed outright) or is given up (a gateway stopped gracefully).
///
/// The inbox processor runs this way so that several gateways on one database never read the
/// mailbox at once. (Were two to overlap for a moment, a reply is still decided once: the decision
/// and the Message-ID dedupe share one transaction.)
public struct LeasedService: Service {
    /// How long a lease lasts without renewal, and how often it is renewed and looked at.
    public struct Timing: Sendable {
        public var duration: TimeInterval
        public var renewEvery: Duration

        /// A gateway killed outright is replaced within `duration` plus `renewEvery`.
        public init(duration: TimeInterval = 5, renewEvery: Duration = .seconds(1)) {
            self.duration = duration
            self.renewEvery = renewEvery
        }
    }

    let name: String
    let holder: String
    let store: any GatewayStorage
    let timing: Timing
    let makeService: @Sendable () throws -> any Service
    let logger: Logger

    /// - Parameters:
    ///   - holder: this gateway's name in the lease (host, process and a random part by default).
    ///   - makeService: builds a fresh service each time the lease is taken.
    public init(
        name: String, holder: String = LeasedService.defaultHolder, store: any GatewayStorage, timing: Timing = Timing(),
        logger: Logger, makeService: @escaping @Sendable () throws -> any Service
    ) {
        self.name = name
        self.holder = holder
        self.store = store
        self.timing = timing
        self.makeService = makeService
        self.logger = logger
    }

    /// `host:pid:random`, unique per process.
    public static let defaultHolder: String = {
        let random = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier):\(random)"
    }()

    struct LeaseLost: Error {}

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let held: Bool
            do {
                held = try await store.holdLease(name, holder: holder, duration: timing.duration)
            } catch {
                logger.warning("lease \(name): cannot reach the database (\(error)); trying again")
                await sleepUnlessShuttingDown(for: timing.renewEvery)
                continue
            }
            guard held else {
                await sleepUnlessShuttingDown(for: timing.renewEvery)
                continue
            }
            logger.info("lease \(name): taken by \(holder); running it here")
            do {
                try await runWhileHeld()
            } catch is LeaseLost {
                logger.warning("lease \(name): lost (this gateway could not renew it in time); another gateway takes over")
                continue
            }
            // The service ended (a graceful stop): give the lease up so that another gateway
            // takes over at once.
            try? await store.releaseLease(name, holder: holder)
            logger.info("lease \(name): released")
            return
        }
    }

    /// Runs the service while renewing the lease; the service is cancelled if a renewal fails.
    private func runWhileHeld() async throws {
        let service = try makeService()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            group.addTask {
                while !Task.isShuttingDownGracefully && !Task.isCancelled {
                    await sleepUnlessShuttingDown(for: timing.renewEvery)
                    if Task.isShuttingDownGracefully || Task.isCancelled { return }
                    let renewed = (try? await store.holdLease(name, holder: holder, duration: timing.duration)) ?? false
                    if !renewed { throw LeaseLost() }
                }
            }
            // The first to finish decides: the service stopping, or the lease lost.
            do {
                try await group.next()
            } catch {
                group.cancelAll()
                throw error
            }
            // On a graceful stop the service finishes what it holds; otherwise it ended on its own
            // and the renewals stop with it.
            if Task.isShuttingDownGracefully {
                try await group.waitForAll()
            } else {
                group.cancelAll()
            }
        }
    }
}
