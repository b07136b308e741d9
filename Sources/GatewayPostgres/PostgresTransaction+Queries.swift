import Foundation
import GatewayApp
import GatewayCore
import PostgresNIO

extension PostgresTransaction: QueryRepository {
    func requests(_ filter: RequestFilter) throws -> [AccessRequest] {
        try requests(filter, scope: .everything)
    }

    func requests(reviewableBy viewer: String, filter: RequestFilter) throws -> [AccessRequest] {
        guard let scope = try reviewScope(viewer: viewer) else { return [] }
        return try requests(filter, scope: scope)
    }

    /// Requests matching `filter` within `scope`, newest first.
    private func requests(_ filter: RequestFilter, scope: ReviewScope) throws -> [AccessRequest] {
        var conditions: [String] = []
        var binds = PostgresBindings()
        if let condition = scope.condition(binds: &binds) {
            conditions.append(condition)
        }
        if let states = filter.states {
            guard !states.isEmpty else { return [] }
            binds.append(states.map(\.rawValue).sorted())
            conditions.append("r.state = ANY($\(binds.count))")
        }
        // By id, looked up once: the planner then ranges over (resource_id, created_at) instead of
        // joining first and sorting every match.
        if let resource = filter.resource {
            binds.append(resource)
            conditions.append("r.resource_id = (SELECT id FROM resources WHERE name = $\(binds.count))")
        }
        if let requester = filter.requester {
            binds.append(requester)
            conditions.append("r.requester_id = (SELECT id FROM users WHERE email = $\(binds.count))")
        }
        switch filter.recentCondition {
        case .none:
            break
        case .createdSince(let since):
            binds.append(since)
            conditions.append("r.created_at >= $\(binds.count)")
        case .pendingOrCreatedSince(let since):
            binds.append(since)
            // A CASE, not an OR: an OR of two indexable conditions makes the planner gather every
            // match with two bitmap scans and sort them. The second condition follows from the first
            // and is what the created-at indexes range over, newest first.
            conditions.append("CASE WHEN r.state = 'pending' THEN TRUE ELSE r.created_at >= $\(binds.count) END")
            conditions.append("r.created_at >= LEAST($\(binds.count), COALESCE((SELECT min(created_at) FROM access_requests WHERE state = 'pending'), $\(binds.count)))")
        }
        // Keyset pagination: the anchor's own stored instant, so the comparison is exact.
        switch filter.position {
        case .newest, .oldest: break
        case .olderThan(let id):
            binds.append(id)
            conditions.append("(r.created_at, r.id) < (SELECT created_at, id FROM access_requests WHERE id = $\(binds.count))")
        case .newerThan(let id):
            binds.append(id)
            conditions.append("(r.created_at, r.id) > (SELECT created_at, id FROM access_requests WHERE id = $\(binds.count))")
        }
        var sql = Self.requestSelect
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        let order = filter.position.readsOldestFirst ? "r.created_at ASC, r.id ASC" : "r.created_at DESC, r.id DESC"
        binds.append(Self.limitValue(filter.limit))
        sql += " ORDER BY \(order) LIMIT $\(binds.count)"
        binds.append(Self.offsetValue(filter.offset))
        sql += " OFFSET $\(binds.count)"
        let found = try rows(PostgresQuery(unsafeSQL: sql, binds: binds), table: "access_requests").map(AccessRequest.init(stored:))
        return filter.position.readsOldestFirst ? found.reversed() : found
    }

    /// Which requests a viewer may review: `nil` when the viewer is unknown or inactive (none).
    /// Looked up once per read-only transaction (a page lists requests and counts the bell with it).
    private func reviewScope(viewer: String) throws -> ReviewScope? {
        let email = EmailAddress.normalize(viewer)
        if let known = reviewScopes?.scopes[email] { return known }
        let scope = try lookUpReviewScope(email: email)
        reviewScopes?.scopes[email] = .some(scope)
        return scope
    }

    private func lookUpReviewScope(email: String) throws -> ReviewScope? {
        guard let user = try row("SELECT email, role, active FROM users WHERE email = \(email)", table: "users") else { return nil }
        guard try user("active", as: Bool.self) else { return nil }
        if try user.decode(AdminRole.self, "role").reviewsEverything { return .everything }
        return .approverGroupsOf(try user("email"))
    }

    func openRequestCount(decidableBy viewer: String, now: Date) throws -> Int {
        guard let scope = try reviewScope(viewer: viewer) else { return 0 }
        var binds = PostgresBindings()
        binds.append(now)
        var conditions = ["r.state = 'pending'", "r.expires_at > $\(binds.count)"]
        binds.append(EmailAddress.normalize(viewer))
        // Not the requests the viewer approved already, which wait for another reviewer.
        conditions += [
            "u.email <> $\(binds.count)", "res.active",
            """
            NOT (r.approval_count > 0 AND EXISTS (
                SELECT 1 FROM request_approvals a JOIN users au ON au.id = a.reviewer_id WHERE a.request_id = r.id AND au.email = $\(binds.count)))
            """,
        ]
        if let condition = scope.condition(binds: &binds) {
            conditions.append(condition)
        }
        let sql = """
            SELECT count(*) FROM access_requests r
            JOIN users u ON u.id = r.requester_id JOIN resources res ON res.id = r.resource_id
            WHERE \(conditions.joined(separator: " AND "))
            """
        return try value(PostgresQuery(unsafeSQL: sql, binds: binds), as: Int.self) ?? 0
    }

    func accessStatus(user: String, resource: String, at instant: Date) throws -> AccessStatus {
        let user = EmailAddress.normalize(user)
        guard let userID = try fetchUserID(email: user), let resourceID = try fetchResourceID(name: resource) else {
            return AccessStatus(user: user, resource: resource, grant: nil, lock: nil)
        }
        let grant = try row("""
            SELECT g.*, u.email, res.name FROM grants g
            JOIN users u ON u.id = g.user_id JOIN resources res ON res.id = g.resource_id
            WHERE g.user_id = \(userID) AND g.resource_id = \(resourceID) AND g.starts_at <= \(instant) AND g.ends_at > \(instant)
              AND u.active AND res.active
            ORDER BY g.ends_at DESC LIMIT 1
            """, table: "grants").map(Grant.init(stored:))
        let lock = try fetchActiveLock(userID: userID, resourceID: resourceID)
        return AccessStatus(user: user, resource: resource, grant: grant, lock: lock)
    }

    func grant(id: Int64) throws -> Grant? {
        try row("""
            SELECT g.*, u.email, res.name FROM grants g
            JOIN users u ON u.id = g.user_id JOIN resources res ON res.id = g.resource_id
            WHERE g.id = \(id)
            """, table: "grants").map(Grant.init(stored:))
    }

    func runningGrants(resource: String, at instant: Date) throws -> [Grant] {
        try rows("""
            SELECT g.*, u.email, res.name FROM grants g
            JOIN users u ON u.id = g.user_id JOIN resources res ON res.id = g.resource_id
            WHERE res.name = \(resource) AND g.starts_at <= \(instant) AND g.ends_at > \(instant) ORDER BY g.ends_at, g.id
            """, table: "grants").map(Grant.init(stored:))
    }

    func revokeGrant(id: Int64, now: Date, by actor: String?, reason: String?) throws -> Bool {
        try execute("""
            UPDATE grants SET ends_at = \(now), revoked_at = \(now), revoked_by = \(actor), revoke_reason = \(reason)
            WHERE id = \(id) AND revoked_at IS NULL AND ends_at > \(now)
            """) == 1
    }

    func grants(user: String) throws -> [Grant] {
        let user = EmailAddress.normalize(user)
        return try rows("""
            SELECT g.*, u.email, res.name FROM grants g
            JOIN users u ON u.id = g.user_id JOIN resources res ON res.id = g.resource_id
            WHERE u.email = \(user) ORDER BY g.starts_at DESC, g.id DESC
            """, table: "grants").map(Grant.init(stored:))
    }

    func grant(requestID: Int64) throws -> Grant? { try fetchGrant(requestID: requestID) }

    func auditLog(requestID: Int64?) throws -> [AuditEntry] {
        let stored = try requestID.map {
            try rows("SELECT * FROM audit_log WHERE request_id = \($0) ORDER BY id", table: "audit_log")
        } ?? rows("SELECT * FROM audit_log ORDER BY id", table: "audit_log")
        return try stored.map(AuditEntry.init(stored:))
    }

    func auditLog(since: Date, afterID: Int64, limit: Int) throws -> [AuditEntry] {
        try rows("""
            SELECT * FROM audit_log WHERE at >= \(since) AND id > \(afterID) ORDER BY id LIMIT \(Self.limitValue(limit))
            """, table: "audit_log").map(AuditEntry.init(stored:))
    }

    func outboxEntries(status: OutboxStatus?, limit: Int) throws -> [OutboxEntry] {
        let limit = Self.limitValue(limit)
        if let status {
            return try rows("SELECT * FROM outbox WHERE status = \(status.rawValue) ORDER BY id LIMIT \(limit)", table: "outbox")
                .map { try OutboxEntry(stored: $0) }
        }
        return try rows("SELECT * FROM outbox ORDER BY id LIMIT \(limit)", table: "outbox").map { try OutboxEntry(stored: $0) }
    }

    func inboundMessages(limit: Int) throws -> [InboundRecord] {
        try rows("SELECT * FROM inbound_messages ORDER BY id DESC LIMIT \(Self.limitValue(limit))", table: "inbound_messages")
            .map { try InboundRecord(stored: $0) }
    }

    func gatewayCounts(latencyBounds: [Double]) throws -> GatewayCounts {
        var states = Dictionary(uniqueKeysWithValues: RequestState.allCases.map { ($0, 0) })
        for row in try rows("SELECT state, count(*) AS n FROM access_requests GROUP BY state", table: "access_requests") {
            states[try row.decode(RequestState.self, "state")] = try row("n", as: Int.self)
        }
        var emails = Dictionary(uniqueKeysWithValues: OutboxStatus.allCases.map { ($0, 0) })
        for row in try rows("SELECT status, count(*) AS n FROM outbox GROUP BY status", table: "outbox") {
            emails[try row.decode(OutboxStatus.self, "status")] = try row("n", as: Int.self)
        }
        var inbound: [AuditOutcome: Int] = [:]
        for row in try rows("SELECT outcome, count(*) AS n FROM inbound_messages GROUP BY outcome", table: "inbound_messages") {
            inbound[try row.decode(AuditOutcome.self, "outcome")] = try row("n", as: Int.self)
        }
        // Seconds from creation to decision, as a double (EXTRACT returns numeric).
        let latency = "EXTRACT(EPOCH FROM (resolved_at - created_at))::float8"
        let decided = "decision_action IS NOT NULL AND resolved_at IS NOT NULL"
        let total = try row(
            PostgresQuery(unsafeSQL: "SELECT count(*) AS n, COALESCE(sum(\(latency)), 0)::float8 AS s FROM access_requests WHERE \(decided)"),
            table: "access_requests"
        )
        var buckets: [HistogramBucket] = []
        for bound in latencyBounds.sorted() {
            var binds = PostgresBindings()
            binds.append(bound)
            let query = PostgresQuery(unsafeSQL: "SELECT count(*) FROM access_requests WHERE \(decided) AND \(latency) <= $1", binds: binds)
            buckets.append(HistogramBucket(upperBound: bound, count: try value(query, as: Int.self) ?? 0))
        }
        return GatewayCounts(
            requestsByState: states, emailsByStatus: emails, inboundByOutcome: inbound,
            decisionLatencyBuckets: buckets, decisionLatencyCount: try total.map { try $0("n", as: Int.self) } ?? 0,
            decisionLatencySum: try total.map { try $0("s", as: Double.self) } ?? 0
        )
    }

    /// A `LIMIT` value with SQLite's meaning: a negative limit means no limit (`LIMIT NULL`).
    static func limitValue(_ limit: Int) -> Int? { limit < 0 ? nil : limit }

    /// An `OFFSET` value with SQLite's meaning: a negative offset skips nothing.
    static func offsetValue(_ offset: Int) -> Int { max(offset, 0) }
}

/// The requests a viewer may review.
enum ReviewScope {
    /// Every request (admin roles, and unrestricted listings).
    case everything
    /// Requests for resources whose approver groups include the user with this (stored) email, and
    /// escalated requests for resources whose escalation groups include them.
    case approverGroupsOf(String)

    /// The SQL condition on `res` (the resource) that limits requests to the scope, its value
    /// appended to `binds`; `nil` when nothing is excluded.
    func condition(binds: inout PostgresBindings) -> String? {
        switch self {
        case .everything:
            return nil
        case .approverGroupsOf(let email):
            binds.append(email)
            // The resource's approver groups; after an escalation also its escalation groups.
            return """
                (res.id IN (SELECT a.resource_id FROM resource_approver_groups a
                            JOIN group_members m ON m.group_id = a.group_id
                            JOIN users mu ON mu.id = m.user_id WHERE mu.email = $\(binds.count))
                 OR (r.escalated_at IS NOT NULL
                     AND res.id IN (SELECT e.resource_id FROM resource_escalation_groups e
                                    JOIN group_members m ON m.group_id = e.group_id
                                    JOIN users mu ON mu.id = m.user_id WHERE mu.email = $\(binds.count))))
                """
        }
    }
}

/// The review scopes one read-only transaction looked up, by normalised email: it reads one
/// snapshot, so a scope cannot change within it.
final class ReviewScopeMemo {
    var scopes: [String: ReviewScope?] = [:]
}
