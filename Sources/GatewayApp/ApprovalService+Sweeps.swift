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
                let users = try tx.users()
                let groups = try tx.groups()
                var current = Set(NotificationRecipients.forNewRequest(
                    request, resource: resource, users: users, groups: groups, preferences: try tx.notificationPreferences()
                ).map(\.email))
                if request.escalatedAt != nil {
                    current.formUnion(NotificationRecipients.forEscalation(request, resource: resource, users: users, groups: groups).map(\.email))
                }
                // Someone who already approved has nothing left to do.
                current.subtract(try tx.approvals(requestID: id).map(\.reviewer))
                for email in try tx.notifiedRecipients(requestID: id) where current.contains(email) {
                    try tx.enqueue(.reminder, requestID: id, recipient: NotificationRecipient(email: email, reason: "notified"), context: [:], now: now)
                }
            }
            return ids
        }
    }

    /// Escalates every pending request that has waited its resource's `escalate_after`: the
    /// escalation reviewers get the request with their own links and reply address (and may now
    /// decide it), the reviewers first notified and the requester are told. Each request is
    /// escalated once: the conditional update lets one of two concurrent sweeps win.
    public func escalateOverdueRequests() async throws -> [Int64] {
        let now = self.now
        return try await storage.write { tx in
            var escalated: [Int64] = []
            for candidate in try tx.escalationCandidates(now: now) where candidate.dueAt <= now {
                guard try tx.markEscalated(requestID: candidate.requestID, now: now) else { continue }
                guard let request = try tx.request(id: candidate.requestID), let resource = try tx.resource(named: request.resource) else { continue }
                let users = try tx.users()
                let notified = try tx.notifiedRecipients(requestID: request.id)
                let targets = NotificationRecipients.forEscalation(request, resource: resource, users: users, groups: try tx.groups())
                let escalatedTo = resource.escalationGroups.isEmpty
                    ? "the gateway's admins"
                    : "the escalation group\(resource.escalationGroups.count == 1 ? "" : "s") \(resource.escalationGroups.sorted().joined(separator: ", "))"
                let context = ["escalate_after_seconds": String(candidate.escalateAfterSeconds), "escalated_to": escalatedTo]
                for target in targets {
                    try tx.enqueue(.escalated, requestID: request.id, recipient: target, context: context, now: now)
                }
                // The reviewers first notified (who may still decide) and the requester hear of it.
                let active = Set(users.filter(\.isActive).map(\.email))
                let told = Set(targets.map(\.email))
                var notice = [NotificationRecipient(email: request.requester, reason: "requester")]
                notice += notified.filter { active.contains($0) && !told.contains($0) }.map { NotificationRecipient(email: $0, reason: "notified") }
                for recipient in notice {
                    try tx.enqueue(.escalationNotice, requestID: request.id, recipient: recipient, context: context, now: now)
                }
                try tx.audit(
                    .escalate, .accepted, actor: nil, requestID: request.id,
                    reason: "pending_for_\(DurationText.format(seconds: candidate.escalateAfterSeconds))",
                    detail: ["escalated_to": targets.map(\.email).joined(separator: ","), "escalation_groups": resource.escalationGroups.sorted().joined(separator: ",")],
                    at: now
                )
                escalated.append(request.id)
            }
            return escalated
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
