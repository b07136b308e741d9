import Foundation
import GRDB
import GatewayApp
import GatewayCore

/// The use cases' reads, one statement after another: in process, there is no round trip to save.
extension SQLiteTransaction: UseCaseReads {}

extension SQLiteTransaction: RequestRepository {
    func request(id: Int64) throws -> AccessRequest? { try db.fetchRequest(id: id) }

    func pendingRequest(requester: String, resource: String) throws -> AccessRequest? {
        try Row.fetchOne(db.cachedStatement(sql: Database.requestSelect + " WHERE u.email = ? AND res.name = ? AND r.state = 'pending'"),
            arguments: [EmailAddress.normalize(requester), resource]
        ).map(AccessRequest.init(row:))
    }

    func insertRequest(kind: RequestKind, requester: String, resource: String, reason: String, durationSeconds: Int?, createdAt: Date, expiresAt: Date) throws -> AccessRequest {
        try db.cachedStatement(sql: """
            INSERT INTO access_requests (kind, requester_id, resource_id, reason, duration_seconds, state, created_at, expires_at)
            VALUES (?, (SELECT id FROM users WHERE email = ?), (SELECT id FROM resources WHERE name = ?), ?, ?, 'pending', ?, ?)
            """).execute(arguments: [kind.rawValue, EmailAddress.normalize(requester), resource, reason, durationSeconds, createdAt, expiresAt])
        guard let request = try db.fetchRequest(id: db.lastInsertedRowID) else { throw StoreError("the new request could not be read back") }
        return request
    }

    func claimDecision(requestID: Int64, action: DecisionAction, reviewer: String, channel: DecisionChannel, comment: String?, now: Date) throws -> AccessRequest? {
        try db.cachedStatement(sql: """
            UPDATE access_requests
            SET state = ?, resolved_at = ?, decided_by_id = (SELECT id FROM users WHERE email = ?),
                decision_action = ?, decision_channel = ?, decision_comment = ?
            WHERE id = ? AND state = 'pending' AND expires_at > ?
            """).execute(arguments: [
                action.resultingState.rawValue, now, EmailAddress.normalize(reviewer), action.rawValue,
                channel.rawValue, comment, requestID, now,
            ])
        guard db.changesCount == 1 else { return nil }
        guard let decided = try db.fetchRequest(id: requestID) else { throw StoreError("request \(requestID) could not be read back once decided") }
        return decided
    }

    func resolve(requestID: Int64, as state: RequestState, now: Date) throws -> Bool {
        try db.execute(
            sql: "UPDATE access_requests SET state = ?, resolved_at = ? WHERE id = ? AND state = 'pending'",
            arguments: [state.rawValue, now, requestID]
        )
        return db.changesCount == 1
    }

    func overdueRequestIDs(now: Date, requester: String?, resource: String?) throws -> [Int64] {
        var sql = "SELECT r.id FROM access_requests r"
        var arguments: StatementArguments = [now]
        var conditions = ["r.state = 'pending'", "r.expires_at <= ?"]
        if let requester {
            sql += " JOIN users u ON u.id = r.requester_id"
            conditions.append("u.email = ?")
            arguments += [EmailAddress.normalize(requester)]
        }
        if let resource {
            sql += " JOIN resources res ON res.id = r.resource_id"
            conditions.append("res.name = ?")
            arguments += [resource]
        }
        return try Int64.fetchAll(db, sql: sql + " WHERE " + conditions.joined(separator: " AND ") + " ORDER BY r.id", arguments: arguments)
    }

    func requestsToRemind(now: Date, until: Date) throws -> [Int64] {
        try Int64.fetchAll(db.cachedStatement(sql: """
            SELECT id FROM access_requests WHERE state = 'pending' AND reminded_at IS NULL AND expires_at > ? AND expires_at <= ?
            ORDER BY id
            """), arguments: [now, until])
    }

    func markReminded(requestID: Int64, now: Date) throws {
        try db.execute(sql: "UPDATE access_requests SET reminded_at = ? WHERE id = ?", arguments: [now, requestID])
    }

    func approvals(requestID: Int64) throws -> [RecordedApproval] {
        try Array(Row.fetchCursor(db.cachedStatement(sql: """
            SELECT a.*, u.email FROM request_approvals a JOIN users u ON u.id = a.reviewer_id
            WHERE a.request_id = ? ORDER BY a.approved_at, u.email
            """), arguments: [requestID]).map(RecordedApproval.init(row:)))
    }

    func insertApproval(_ approval: RecordedApproval) throws -> Bool {
        guard let reviewerID = try db.userID(email: approval.reviewer) else {
            throw StoreError("approval of request \(approval.requestID) names \(approval.reviewer), who is not in the directory")
        }
        try db.cachedStatement(sql: """
            INSERT INTO request_approvals (request_id, reviewer_id, channel, review_right, grant_seconds, comment, approved_at)
            VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (request_id, reviewer_id) DO NOTHING
            """).execute(arguments: [
                approval.requestID, reviewerID, approval.channel.rawValue, approval.right, approval.grantSeconds,
                approval.comment, approval.approvedAt,
            ])
        return db.changesCount == 1
    }

    func recordApprovalStanding(requestID: Int64, voidReasons: [String: String?], count: Int) throws {
        for (reviewer, reason) in voidReasons.sorted(by: { $0.key < $1.key }) {
            try db.cachedStatement(sql: """
                UPDATE request_approvals SET void_reason = ?
                WHERE request_id = ? AND reviewer_id = (SELECT id FROM users WHERE email = ?)
                """).execute(arguments: [reason, requestID, reviewer])
        }
        try db.execute(sql: "UPDATE access_requests SET approval_count = ? WHERE id = ?", arguments: [count, requestID])
    }

    func escalationCandidates(now: Date) throws -> [EscalationCandidate] {
        try Row.fetchAll(db.cachedStatement(sql: """
            SELECT r.id, r.created_at, res.escalate_after_seconds FROM access_requests r
            JOIN resources res ON res.id = r.resource_id
            WHERE r.state = 'pending' AND r.escalated_at IS NULL AND res.escalate_after_seconds IS NOT NULL
              AND res.active AND r.expires_at > ?
            ORDER BY r.id
            """), arguments: [now]).map { row in
            EscalationCandidate(requestID: row["id"], createdAt: row["created_at"], escalateAfterSeconds: row["escalate_after_seconds"])
        }
    }

    func markEscalated(requestID: Int64, now: Date) throws -> Bool {
        try db.cachedStatement(sql: """
            UPDATE access_requests SET escalated_at = ? WHERE id = ? AND state = 'pending' AND escalated_at IS NULL
            """).execute(arguments: [now, requestID])
        return db.changesCount == 1
    }

    func insertGrant(requestID: Int64, startsAt: Date, endsAt: Date) throws -> Grant {
        try db.cachedStatement(sql: """
            INSERT INTO grants (request_id, user_id, resource_id, starts_at, ends_at)
            SELECT id, requester_id, resource_id, ?, ? FROM access_requests WHERE id = ?
            """).execute(arguments: [startsAt, endsAt, requestID])
        guard let grant = try db.fetchGrant(requestID: requestID) else { throw StoreError("the grant of request \(requestID) could not be read back") }
        return grant
    }

    func activeLock(user: String, resource: String) throws -> AccessLock? {
        guard let userID = try db.userID(email: user), let resourceID = try db.resourceID(name: resource) else { return nil }
        return try db.fetchActiveLock(userID: userID, resourceID: resourceID)
    }

    func insertLock(user: String, resource: String, now: Date) throws -> AccessLock {
        guard let userID = try db.userID(email: user), let resourceID = try db.resourceID(name: resource) else {
            throw StoreError("cannot lock \(user) out of \(resource): unknown user or resource")
        }
        try db.execute(sql: "INSERT INTO locks (user_id, resource_id, locked_at) VALUES (?, ?, ?)", arguments: [userID, resourceID, now])
        guard let lock = try db.fetchActiveLock(userID: userID, resourceID: resourceID) else { throw StoreError("the new lock could not be read back") }
        return lock
    }

    func liftLock(byRequest requestID: Int64, now: Date) throws {
        try db.cachedStatement(sql: """
            UPDATE locks SET lifted_at = ?, lifted_by_request_id = ?
            WHERE lifted_at IS NULL AND (user_id, resource_id) =
                (SELECT requester_id, resource_id FROM access_requests WHERE id = ?)
            """).execute(arguments: [now, requestID, requestID])
    }

    func recordUsage(user: String, resource: String, now: Date) throws {
        guard let userID = try db.userID(email: user), let resourceID = try db.resourceID(name: resource) else {
            throw StoreError("cannot record usage of \(resource) by \(user): unknown user or resource")
        }
        try db.cachedStatement(sql: """
            INSERT INTO usage (user_id, resource_id, last_used_at) VALUES (?, ?, ?)
            ON CONFLICT(user_id, resource_id) DO UPDATE SET last_used_at = max(last_used_at, excluded.last_used_at)
            """).execute(arguments: [userID, resourceID, now])
    }

    func autoLockCandidates() throws -> [AutoLockCandidate] {
        let rows = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT u.email, r.name, r.auto_lock_after_days AS days,
                   max(coalesce((SELECT last_used_at FROM usage WHERE user_id = u.id AND resource_id = r.id), '0000'),
                       coalesce((SELECT max(starts_at) FROM grants WHERE user_id = u.id AND resource_id = r.id), '0000')) AS last_active,
                   (SELECT max(lifted_at) FROM locks WHERE user_id = u.id AND resource_id = r.id) AS last_lifted
            FROM users u CROSS JOIN resources r
            WHERE r.auto_lock_after_days IS NOT NULL AND r.active AND u.active
              AND (EXISTS (SELECT 1 FROM usage WHERE user_id = u.id AND resource_id = r.id)
                   OR EXISTS (SELECT 1 FROM grants WHERE user_id = u.id AND resource_id = r.id))
              AND NOT EXISTS (SELECT 1 FROM locks WHERE user_id = u.id AND resource_id = r.id AND lifted_at IS NULL)
            ORDER BY u.email, r.name
            """))
        return rows.compactMap { row in
            guard let lastActive = Date.fromDatabaseValue(row["last_active"] as DatabaseValue) else { return nil }
            return AutoLockCandidate(
                user: row["email"], resource: row["name"], lockAfterDays: row["days"], lastActive: lastActive,
                lastLifted: Date.fromDatabaseValue(row["last_lifted"] as DatabaseValue)
            )
        }
    }
}
