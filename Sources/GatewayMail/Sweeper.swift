import Foundation
import GatewayApp
import GatewayCore
import Logging
import ServiceLifecycle

/// The time-driven work: expires pending requests at their deadline (the requester is told through
/// the outbox), sends the one reminder before the deadline, escalates requests pending past their
/// resource's `escalate_after`, and applies usage-based auto-lock.
public struct Sweeper: Service {
    public struct Policy: Sendable {
        public var interval: Duration
        /// `nil` turns reminders off.
        public var reminderLead: TimeInterval?

        public init(interval: Duration, reminderLead: TimeInterval?) {
            self.interval = interval
            self.reminderLead = reminderLead
        }
    }

    let service: ApprovalService
    let policy: Policy
    let logger: Logger

    public init(service: ApprovalService, policy: Policy, logger: Logger) {
        self.service = service
        self.policy = policy
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await sweepOnce()
            } catch {
                logger.error("sweep: \(error)")
            }
            await sleepUnlessShuttingDown(for: policy.interval)
        }
    }

    /// One pass: expiry, reminders, auto-lock.
    public func sweepOnce() async throws {
        for id in try await service.expireOverdueRequests() {
            logger.info("request \(id) expired undecided")
        }
        if let lead = policy.reminderLead {
            for id in try await service.sendReminders(lead: lead) {
                logger.info("reminder sent for request \(id)")
            }
        }
        for id in try await service.escalateOverdueRequests() {
            logger.info("request \(id) escalated: still pending after its resource's escalate_after")
        }
        for lock in try await service.autoLock() {
            logger.info("locked \(lock.user) out of \(lock.resource) after a period without use")
        }
    }
}
