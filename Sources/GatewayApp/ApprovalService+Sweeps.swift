import Foundation
import GatewayCore

/// What one sweep did.
public struct SweepReport: Sendable, Hashable {
    public var expired: [Int64] = []
    public var reminded: [Int64] = []
    public var locked: [AccessLock] = []
}

extension ApprovalService {
    /// Expires every pending request past its deadline (AUTHZ-5), each with its outcome emails.
    public func expireOverdueRequests() async throws -> [Int64] {
        let now = self.now
        return try await storage.write { [self] tx in
            let ids = try tx.overdueRequestIDs(now: now, requester: nil, resource: nil)
            for id in ids { try expire(requestID: id, in: tx, now: now) }
            return ids
        }
    }

    /// Queues one reminder for each pending request whose deadline is within `lead`, to the people
    /// who were notified and may still decide (rights re-checked now). Each request is reminded once.
    public func sendReminders(lead: TimeInterval) async throws -> [Int64] {
        let now = self.now
        return try await storage.write { tx in
            let ids = try tx.requestsToRemind(now: now, until: now.addingTimeInterval(lead))
            for id in ids {
                try tx.markReminded(requestID: id, now: now)
                guard let request = try tx.request(id: id), let resource = try tx.resource(named: request.resource) else { continue }
                let current = Set(NotificationRecipients.forNewRequest(
                    request, resource: resource, users: try tx.users(), groups: try tx.groups(), preferences: try tx.notificationPreferences()
                ).map(\.email))
                for email in try tx.notifiedRecipients(requestID: id) where current.contains(email) {
                    try tx.enqueue(.reminder, requestID: id, recipient: NotificationRecipient(email: email, reason: "notified"), context: [:], now: now)
                }
            }
            return ids
        }
    }

    /// Locks every user who has not used an auto-locking resource for its period. The period counts
    /// from the last use or grant, and restarts from the last unlock.
    public func autoLock() async throws -> [AccessLock] {
        let now = self.now
        return try await storage.write { tx in
            var locks: [AccessLock] = []
            for candidate in try tx.autoLockCandidates() {
                let period = TimeInterval(candidate.lockAfterDays) * 86_400
                guard candidate.lastActive.addingTimeInterval(period) <= now else { continue }
                if let lifted = candidate.lastLifted, lifted.addingTimeInterval(period) > now { continue }
                let lock = try tx.insertLock(user: candidate.user, resource: candidate.resource, now: now)
                try tx.audit(.lock, .accepted, actor: nil, reason: "unused_for_\(candidate.lockAfterDays)_days", detail: ["user": lock.user, "resource": lock.resource], at: now)
                locks.append(lock)
            }
            return locks
        }
    }
}
