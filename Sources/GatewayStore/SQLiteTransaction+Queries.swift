import Foundation
import GRDB
import GatewayApp
import GatewayCore

extension SQLiteTransaction: QueryRepository {
    func requests(_ filter: RequestFilter) throws -> [AccessRequest] {
        try requests(filter, extraCondition: nil)
    }

    func requests(reviewableBy viewer: String, filter: RequestFilter) throws -> [AccessRequest] {
        guard let reviewable = try reviewableCondition(viewer: viewer) else { return [] }
        return try requests(filter, extraCondition: reviewable)
    }

    /// Requests matching `filter` and an extra SQL condition, newest first.
    private func requests(_ filter: RequestFilter, extraCondition: (sql: String, arguments: StatementArguments)?) throws -> [AccessRequest] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let extraCondition {
            conditions.append(extraCondition.sql)
            arguments += extraCondition.arguments
        }
        if let states = filter.states {
            guard !states.isEmpty else { return [] }
            conditions.append("r.state IN (\(states.map { _ in "?" }.joined(separator: ", ")))")
            arguments += StatementArguments(texts: states.map(\.rawValue).sorted())
        }
        // By id, looked up once: the planner then ranges over (resource_id, created_at).
        if let resource = filter.resource {
            conditions.append("r.resource_id = (SELECT id FROM resources WHERE name = ?)")
            arguments += [resource]
        }
        if let requester = filter.requester {
            conditions.append("r.requester_id = (SELECT id FROM users WHERE email = ?)")
            arguments += [requester]
        }
        switch filter.recentCondition {
        case .none:
            break
        case .createdSince(let since):
            conditions.append("r.created_at >= ?")
            arguments += [StoredInstant.value(since)]
        case .pendingOrCreatedSince(let since):
            // The second condition follows from the first (a row is pending, or created since); it
            // lets the created-at indexes start at the oldest row that can qualify.
            conditions.append("(r.state = 'pending' OR r.created_at >= ?)")
            conditions.append("r.created_at >= min(?, coalesce((SELECT min(created_at) FROM access_requests WHERE state = 'pending'), ?))")
            let since = StoredInstant.value(since)
            arguments += [since, since, since]
        }
        // Keyset pagination: the anchor's own stored instant, so the comparison is exact.
        switch filter.position {
        case .newest, .oldest: break
        case .olderThan(let id):
            conditions.append("(r.created_at, r.id) < (SELECT created_at, id FROM access_requests WHERE id = ?)")
            arguments += [id]
        case .newerThan(let id):
            conditions.append("(r.created_at, r.id) > (SELECT created_at, id FROM access_requests WHERE id = ?)")
            arguments += [id]
        }
        let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let order = filter.position.readsOldestFirst ? "r.created_at ASC, r.id ASC" : "r.created_at DESC, r.id DESC"
        arguments += [filter.limit, filter.offset]
        // Cached: the SQL is built from a fixed set of fragments (values are all arguments), so a
        // page compiles each of its few shapes once per connection.
        let rows = try Array(Row.fetchCursor(
            db.cachedStatement(sql: Database.requestSelect + whereClause + " ORDER BY \(order) LIMIT ? OFFSET ?"),
            arguments: arguments
        ).map(AccessRequest.init(row:)))
        return filter.position.readsOldestFirst ? rows.reversed() : rows
    }

    /// The SQL condition (on `r`, the request, and `res`, its resource) that limits requests to those `viewer` may review.
    private func reviewableCondition(viewer: String) throws -> (sql: String, arguments: StatementArguments)? {
        guard let user = try db.fetchUser(email: viewer), user.isActive else { return nil }
        if user.role.reviewsEverything { return ("1", []) }
        // The resource's approver groups; after an escalation also its escalation groups.
        return ("""
            (res.id IN (SELECT a.resource_id FROM resource_approver_groups a
                        JOIN group_members m ON m.group_id = a.group_id
                        JOIN users mu ON mu.id = m.user_id WHERE mu.email = ?)
             OR (r.escalated_at IS NOT NULL
                 AND res.id IN (SELECT e.resource_id FROM resource_escalation_groups e
                                JOIN group_members m ON m.group_id = e.group_id
                                JOIN users mu ON mu.id = m.user_id WHERE mu.email = ?)))
            """, [user.email, user.email])
    }

    func openRequestCount(decidableBy viewer: String, now: Date) throws -> Int {
        guard let reviewable = try reviewableCondition(viewer: viewer) else { return 0 }
        return try Int.fetchOne(db.cachedStatement(sql: """
            SELECT count(*) FROM access_requests r
            JOIN users u ON u.id = r.requester_id JOIN resources res ON res.id = r.resource_id
            WHERE r.state = 'pending' AND r.expires_at > ? AND u.email <> ? AND res.active AND \(reviewable.sql)
              AND NOT (r.approval_count > 0 AND EXISTS (
                  SELECT 1 FROM request_approvals a JOIN users au ON au.id = a.reviewer_id WHERE a.request_id = r.id AND au.email = ?))
            """), arguments: [StoredInstant.value(now), EmailAddress.normalize(viewer)] + reviewable.arguments + [EmailAddress.normalize(viewer)]) ?? 0
    }

    func accessStatus(user: String, resource: String, at instant: Date) throws -> AccessStatus {
        let user = EmailAddress.normalize(user)
        guard let userID = try db.userID(email: user), let resourceID = try db.resourceID(name: resource) else {
            return AccessStatus(user: user, resource: resource, grant: nil, lock: nil)
        }
        let grant = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT g.*, u.email, res.name FROM grants g
            JOIN users u ON u.id = g.user_id JOIN resources res ON res.id = g.resource_id
            WHERE g.user_id = ? AND g.resource_id = ? AND g.starts_at <= ? AND g.ends_at > ? AND u.active AND res.active
            ORDER BY g.ends_at DESC LIMIT 1
            """), arguments: [userID, resourceID, instant, instant]).map(Grant.init(row:))
        let lock = try db.fetchActiveLock(userID: userID, resourceID: resourceID)
        return AccessStatus(user: user, resource: resource, grant: grant, lock: lock)
    }

    func grants(user: String) throws -> [Grant] {
        try Array(Row.fetchCursor(db.cachedStatement(sql: """
            SELECT g.*, u.email, res.name FROM grants g
            JOIN users u ON u.id = g.user_id JOIN resources res ON res.id = g.resource_id
            WHERE u.email = ? ORDER BY g.starts_at DESC, g.id DESC
            """), arguments: [EmailAddress.normalize(user)]).map(Grant.init(row:)))
    }

    func grant(requestID: Int64) throws -> Grant? { try db.fetchGrant(requestID: requestID) }

    func grant(id: Int64) throws -> Grant? {
        try Row.fetchOne(db.cachedStatement(sql: """
            SELECT g.*, u.email, res.name FROM grants g
            JOIN users u ON u.id = g.user_id JOIN resources res ON res.id = g.resource_id
            WHERE g.id = ?
            """), arguments: [id]).map(Grant.init(row:))
    }

    func runningGrants(resource: String, at instant: Date) throws -> [Grant] {
        try Array(Row.fetchCursor(db.cachedStatement(sql: """
            SELECT g.*, u.email, res.name FROM grants g
            JOIN users u ON u.id = g.user_id JOIN resources res ON res.id = g.resource_id
            WHERE g.resource_id = (SELECT id FROM resources WHERE name = ?) AND g.ends_at > ? AND g.starts_at <= ?
            ORDER BY g.ends_at, g.id
            """), arguments: [resource, instant, instant]).map(Grant.init(row:)))
    }

    func revokeGrant(id: Int64, now: Date, by actor: String?, reason: String?) throws -> Bool {
        try db.execute(sql: """
            UPDATE grants SET ends_at = ?, revoked_at = ?, revoked_by = ?, revoke_reason = ?
            WHERE id = ? AND revoked_at IS NULL AND ends_at > ?
            """, arguments: [now, now, actor, reason, id, now])
        return db.changesCount == 1
    }

    func auditLog(requestID: Int64?) throws -> [AuditEntry] {
        let rows = try requestID.map {
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM audit_log WHERE request_id = ? ORDER BY id"), arguments: [$0])
        } ?? Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM audit_log ORDER BY id"))
        return try rows.map(AuditEntry.init(row:))
    }

    func auditLog(since: Date, afterID: Int64, limit: Int) throws -> [AuditEntry] {
        try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM audit_log WHERE at >= ? AND id > ? ORDER BY id LIMIT ?"), arguments: [since, afterID, limit])
            .map(AuditEntry.init(row:))
    }

    func outboxEntries(status: OutboxStatus?, limit: Int) throws -> [OutboxEntry] {
        if let status {
            return try Array(Row.fetchCursor(db.cachedStatement(sql: "SELECT * FROM outbox WHERE status = ? ORDER BY id LIMIT ?"), arguments: [status.rawValue, limit]).map(OutboxEntry.init(row:)))
        }
        return try Array(Row.fetchCursor(db.cachedStatement(sql: "SELECT * FROM outbox ORDER BY id LIMIT ?"), arguments: [limit]).map(OutboxEntry.init(row:)))
    }

    func inboundMessages(limit: Int) throws -> [InboundRecord] {
        try Array(Row.fetchCursor(db.cachedStatement(sql: "SELECT * FROM inbound_messages ORDER BY id DESC LIMIT ?"), arguments: [limit]).map(InboundRecord.init(row:)))
    }

    func gatewayCounts(latencyBounds: [Double]) throws -> GatewayCounts {
        var states = Dictionary(uniqueKeysWithValues: RequestState.allCases.map { ($0, 0) })
        for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT state, count(*) AS n FROM access_requests GROUP BY state")) {
            states[try decode(RequestState.self, row, "state", table: "access_requests")] = row["n"]
        }
        var emails = Dictionary(uniqueKeysWithValues: OutboxStatus.allCases.map { ($0, 0) })
        for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT status, count(*) AS n FROM outbox GROUP BY status")) {
            emails[try decode(OutboxStatus.self, row, "status", table: "outbox")] = row["n"]
        }
        var inbound: [AuditOutcome: Int] = [:]
        for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT outcome, count(*) AS n FROM inbound_messages GROUP BY outcome")) {
            inbound[try decode(AuditOutcome.self, row, "outcome", table: "inbound_messages")] = row["n"]
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
