import Foundation
import GRDB
import GatewayCore

extension SQLiteStore {
    public func setApproverGroups(_ groups: [String], resource: String, actor: String, channel: DecisionChannel, now: Date) async throws -> Resource {
        try await pool.write { db in
            guard let resourceID = try db.resourceID(name: resource) else {
                throw DirectoryEditError(.unknownResource, "there is no resource named \"\(resource)\"")
            }
            let wanted = Array(Set(groups)).sorted()
            var groupIDs: [Int64] = []
            for name in wanted {
                guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM groups WHERE name = ?", arguments: [name]) else {
                    throw DirectoryEditError(.unknownGroup, "there is no group named \"\(name)\"")
                }
                groupIDs.append(id)
            }
            let before = try db.approverGroupNames(resourceID: resourceID)
            try db.execute(sql: "DELETE FROM resource_approver_groups WHERE resource_id = ?", arguments: [resourceID])
            for id in groupIDs {
                try db.execute(sql: "INSERT INTO resource_approver_groups (resource_id, group_id) VALUES (?, ?)", arguments: [resourceID, id])
            }
            try db.appendAudit(
                at: now, action: "approver_groups", actor: EmailAddress.normalize(actor), requestID: nil, channel: channel,
                outcome: "accepted", reason: nil,
                detail: ["resource": resource, "before": before.joined(separator: ","), "after": wanted.joined(separator: ",")]
            )
            return try db.fetchResource(name: resource)!
        }
    }

    public func setGroupMembers(_ members: [String], group: String, create: Bool, actor: String, channel: DecisionChannel, now: Date) async throws -> Group {
        try await pool.write { db in
            var groupID = try Int64.fetchOne(db, sql: "SELECT id FROM groups WHERE name = ?", arguments: [group])
            if groupID == nil, create {
                try db.execute(sql: "INSERT INTO groups (name) VALUES (?)", arguments: [group])
                groupID = db.lastInsertedRowID
            }
            guard let groupID else { throw DirectoryEditError(.unknownGroup, "there is no group named \"\(group)\"") }
            let wanted = Array(Set(members.map(EmailAddress.normalize))).sorted()
            var userIDs: [Int64] = []
            for email in wanted {
                guard let id = try db.userID(email: email) else {
                    throw DirectoryEditError(.unknownUser, "\(email) is not a user of the directory")
                }
                userIDs.append(id)
            }
            let before = try db.fetchGroups().first { $0.name == group }?.members.sorted() ?? []
            try db.execute(sql: "DELETE FROM group_members WHERE group_id = ?", arguments: [groupID])
            for id in userIDs {
                try db.execute(sql: "INSERT INTO group_members (group_id, user_id) VALUES (?, ?)", arguments: [groupID, id])
            }
            try db.appendAudit(
                at: now, action: "group_members", actor: EmailAddress.normalize(actor), requestID: nil, channel: channel,
                outcome: "accepted", reason: nil,
                detail: ["group": group, "before": before.joined(separator: ","), "after": wanted.joined(separator: ",")]
            )
            return Group(name: group, members: Set(wanted))
        }
    }

    /// The SQL condition (on `res`, the resource) that limits requests to those `viewer` may review.
    private static func reviewableCondition(_ db: Database, viewer: String) throws -> (sql: String, arguments: StatementArguments)? {
        guard let user = try db.fetchUser(email: viewer), user.isActive else { return nil }
        if user.role.reviewsEverything { return ("1", []) }
        return ("""
            res.id IN (SELECT a.resource_id FROM resource_approver_groups a
                       JOIN group_members m ON m.group_id = a.group_id
                       JOIN users mu ON mu.id = m.user_id WHERE mu.email = ?)
            """, [user.email])
    }

    public func requests(reviewableBy viewer: String, filter: RequestFilter) async throws -> [AccessRequest] {
        try await pool.read { db in
            guard let reviewable = try Self.reviewableCondition(db, viewer: viewer) else { return [] }
            var conditions = [reviewable.sql]
            var arguments = reviewable.arguments
            if let states = filter.states {
                guard !states.isEmpty else { return [] }
                conditions.append("r.state IN (\(states.map { _ in "?" }.joined(separator: ", ")))")
                arguments += StatementArguments(states.map(\.rawValue).sorted())
            }
            if let resource = filter.resource {
                conditions.append("res.name = ?")
                arguments += [resource]
            }
            if let requester = filter.requester {
                conditions.append("u.email = ?")
                arguments += [requester]
            }
            if let since = filter.resolvedSince {
                conditions.append("(r.state = 'pending' OR r.resolved_at >= ?)")
                arguments += [since]
            }
            arguments += [filter.limit, filter.offset]
            return try Row.fetchAll(
                db,
                sql: Database.requestSelect + " WHERE " + conditions.joined(separator: " AND ")
                    + " ORDER BY r.created_at DESC, r.id DESC LIMIT ? OFFSET ?",
                arguments: arguments
            ).map(AccessRequest.init(row:))
        }
    }

    public func openRequestCount(decidableBy viewer: String, now: Date) async throws -> Int {
        try await pool.read { db in
            guard let reviewable = try Self.reviewableCondition(db, viewer: viewer) else { return 0 }
            return try Int.fetchOne(db, sql: """
                SELECT count(*) FROM access_requests r
                JOIN users u ON u.id = r.requester_id JOIN resources res ON res.id = r.resource_id
                WHERE r.state = 'pending' AND r.expires_at > ? AND u.email <> ? AND res.active AND \(reviewable.sql)
                """, arguments: [now, EmailAddress.normalize(viewer)] + reviewable.arguments) ?? 0
        }
    }

    public func grants(user: String) async throws -> [Grant] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT g.*, u.email, res.name FROM grants g
                JOIN users u ON u.id = g.user_id JOIN resources res ON res.id = g.resource_id
                WHERE u.email = ? ORDER BY g.starts_at DESC, g.id DESC
                """, arguments: [EmailAddress.normalize(user)]).map(Grant.init(row:))
        }
    }

    public func gatewayCounts(latencyBounds: [Double]) async throws -> GatewayCounts {
        try await pool.read { db in
            var states = Dictionary(uniqueKeysWithValues: RequestState.allCases.map { ($0, 0) })
            for row in try Row.fetchAll(db, sql: "SELECT state, count(*) AS n FROM access_requests GROUP BY state") {
                if let state = RequestState(rawValue: row["state"]) { states[state] = row["n"] }
            }
            var emails = Dictionary(uniqueKeysWithValues: OutboxStatus.allCases.map { ($0, 0) })
            for row in try Row.fetchAll(db, sql: "SELECT status, count(*) AS n FROM outbox GROUP BY status") {
                if let status = OutboxStatus(rawValue: row["status"]) { emails[status] = row["n"] }
            }
            var inbound: [String: Int] = [:]
            if try db.tableExists("inbound_messages") {
                for row in try Row.fetchAll(db, sql: "SELECT outcome, count(*) AS n FROM inbound_messages GROUP BY outcome") {
                    inbound[row["outcome"]] = row["n"]
                }
            }
            let latency = "(julianday(resolved_at) - julianday(created_at)) * 86400.0"
            let decided = "decision_action IS NOT NULL AND resolved_at IS NOT NULL"
            let total = try Row.fetchOne(db, sql: "SELECT count(*) AS n, coalesce(sum(\(latency)), 0) AS s FROM access_requests WHERE \(decided)")
            var buckets: [HistogramBucket] = []
            for bound in latencyBounds.sorted() {
                let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM access_requests WHERE \(decided) AND \(latency) <= ?", arguments: [bound]) ?? 0
                buckets.append(HistogramBucket(upperBound: bound, count: count))
            }
            return GatewayCounts(
                requestsByState: states, emailsByStatus: emails, inboundByOutcome: inbound,
                decisionLatencyBuckets: buckets, decisionLatencyCount: total?["n"] ?? 0, decisionLatencySum: total?["s"] ?? 0
            )
        }
    }
}
