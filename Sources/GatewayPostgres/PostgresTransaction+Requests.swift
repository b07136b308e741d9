import Foundation
import GatewayApp
import GatewayCore
import PostgresNIO

extension PostgresTransaction: RequestRepository {
    func request(id: Int64) throws -> AccessRequest? { try fetchRequest(id: id) }

    func pendingRequest(requester: String, resource: String) throws -> AccessRequest? {
        let requester = EmailAddress.normalize(requester)
        return try row(
            requestQuery("WHERE u.email = \(requester) AND res.name = \(resource) AND r.state = 'pending'"), table: "access_requests"
        ).map(AccessRequest.init(stored:))
    }

    func insertRequest(kind: RequestKind, requester: String, resource: String, reason: String, durationSeconds: Int?, createdAt: Date, expiresAt: Date) throws -> AccessRequest {
        let requester = EmailAddress.normalize(requester)
        // Inserted and read back in one statement.
        guard let request = try row(requestQuery(changedBy: """
            INSERT INTO access_requests (kind, requester_id, resource_id, reason, duration_seconds, state, created_at, expires_at)
            VALUES (\(kind.rawValue), (SELECT id FROM users WHERE email = \(requester)), (SELECT id FROM resources WHERE name = \(resource)),
                    \(reason), \(durationSeconds), 'pending', \(createdAt), \(expiresAt))
            RETURNING *
            """), table: "access_requests").map(AccessRequest.init(stored:))
        else { throw PostgresStoreError("the new request could not be read back") }
        return request
    }

    func claimDecision(requestID: Int64, action: DecisionAction, reviewer: String, channel: DecisionChannel, comment: String?, now: Date) throws -> AccessRequest? {
        let reviewer = EmailAddress.normalize(reviewer)
        // The claim and the request as it decided it, in one statement.
        return try row(requestQuery(changedBy: """
            UPDATE access_requests
            SET state = \(action.resultingState.rawValue), resolved_at = \(now), decided_by_id = (SELECT id FROM users WHERE email = \(reviewer)),
                decision_action = \(action.rawValue), decision_channel = \(channel.rawValue), decision_comment = \(comment)
            WHERE id = \(requestID) AND state = 'pending' AND expires_at > \(now)
            RETURNING *
            """), table: "access_requests").map(AccessRequest.init(stored:))
    }

    func resolve(requestID: Int64, as state: RequestState, now: Date) throws -> Bool {
        try execute("""
            UPDATE access_requests SET state = \(state.rawValue), resolved_at = \(now) WHERE id = \(requestID) AND state = 'pending'
            """) == 1
    }

    func overdueRequestIDs(now: Date, requester: String?, resource: String?) throws -> [Int64] {
        try values(Self.overdueQuery(now: now, requester: requester, resource: resource), as: Int64.self)
    }

    /// The ids of pending requests past their deadline, optionally of one requester and resource.
    static func overdueQuery(now: Date, requester: String?, resource: String?) -> PostgresQuery {
        var sql = "SELECT r.id FROM access_requests r"
        var binds = PostgresBindings()
        binds.append(now)
        var conditions = ["r.state = 'pending'", "r.expires_at <= $\(binds.count)"]
        if let requester {
            sql += " JOIN users u ON u.id = r.requester_id"
            binds.append(EmailAddress.normalize(requester))
            conditions.append("u.email = $\(binds.count)")
        }
        if let resource {
            sql += " JOIN resources res ON res.id = r.resource_id"
            binds.append(resource)
            conditions.append("res.name = $\(binds.count)")
        }
        sql += " WHERE " + conditions.joined(separator: " AND ") + " ORDER BY r.id"
        return PostgresQuery(unsafeSQL: sql, binds: binds)
    }

    func requestsToRemind(now: Date, until: Date) throws -> [Int64] {
        try values("""
            SELECT id FROM access_requests
            WHERE state = 'pending' AND reminded_at IS NULL AND expires_at > \(now) AND expires_at <= \(until)
            ORDER BY id
            """, as: Int64.self)
    }

    func markReminded(requestID: Int64, now: Date) throws {
        try execute("UPDATE access_requests SET reminded_at = \(now) WHERE id = \(requestID)")
    }

    func approvals(requestID: Int64) throws -> [RecordedApproval] {
        try rows("""
            SELECT a.*, u.email FROM request_approvals a JOIN users u ON u.id = a.reviewer_id
            WHERE a.request_id = \(requestID) ORDER BY a.approved_at, u.email COLLATE "C"
            """, table: "request_approvals").map(RecordedApproval.init(stored:))
    }

    func insertApproval(_ approval: RecordedApproval) throws -> Bool {
        guard let reviewerID = try fetchUserID(email: approval.reviewer) else {
            throw PostgresStoreError("approval of request \(approval.requestID) names \(approval.reviewer), who is not in the directory")
        }
        return try execute("""
            INSERT INTO request_approvals (request_id, reviewer_id, channel, review_right, grant_seconds, comment, approved_at)
            VALUES (\(approval.requestID), \(reviewerID), \(approval.channel.rawValue), \(approval.right), \(approval.grantSeconds),
                    \(approval.comment), \(approval.approvedAt))
            ON CONFLICT (request_id, reviewer_id) DO NOTHING
            """) == 1
    }

    func recordApprovalStanding(requestID: Int64, voidReasons: [String: String?], count: Int) throws {
        for (reviewer, reason) in voidReasons.sorted(by: { $0.key < $1.key }) {
            try execute("""
                UPDATE request_approvals SET void_reason = \(reason)
                WHERE request_id = \(requestID) AND reviewer_id = (SELECT id FROM users WHERE email = \(reviewer))
                """)
        }
        try execute("UPDATE access_requests SET approval_count = \(count) WHERE id = \(requestID)")
    }

    func escalationCandidates(now: Date) throws -> [EscalationCandidate] {
        try rows("""
            SELECT r.id, r.created_at, res.escalate_after_seconds FROM access_requests r
            JOIN resources res ON res.id = r.resource_id
            WHERE r.state = 'pending' AND r.escalated_at IS NULL AND res.escalate_after_seconds IS NOT NULL
              AND res.active AND r.expires_at > \(now)
            ORDER BY r.id
            """, table: "access_requests").map { row in
            EscalationCandidate(requestID: try row("id"), createdAt: try row("created_at"), escalateAfterSeconds: try row("escalate_after_seconds"))
        }
    }

    func markEscalated(requestID: Int64, now: Date) throws -> Bool {
        try execute("""
            UPDATE access_requests SET escalated_at = \(now)
            WHERE id = \(requestID) AND state = 'pending' AND escalated_at IS NULL
            """) == 1
    }

    func insertGrant(requestID: Int64, startsAt: Date, endsAt: Date) throws -> Grant {
        // Inserted and read back in one statement.
        guard let grant = try row("""
            WITH g AS (
                INSERT INTO grants (request_id, user_id, resource_id, starts_at, ends_at)
                SELECT id, requester_id, resource_id, \(startsAt), \(endsAt) FROM access_requests WHERE id = \(requestID)
                RETURNING *
            )
            SELECT g.*, u.email, res.name FROM g JOIN users u ON u.id = g.user_id JOIN resources res ON res.id = g.resource_id
            """, table: "grants").map(Grant.init(stored:)) else {
            throw PostgresStoreError("the grant of request \(requestID) could not be read back")
        }
        return grant
    }

    func activeLock(user: String, resource: String) throws -> AccessLock? {
        try row(Self.activeLockQuery(user: user, resource: resource), table: "locks").map(AccessLock.init(stored:))
    }

    /// The unlifted lock on `user`'s access to `resource`.
    static func activeLockQuery(user: String, resource: String) -> PostgresQuery {
        """
        SELECT l.*, u.email, res.name FROM locks l
        JOIN users u ON u.id = l.user_id JOIN resources res ON res.id = l.resource_id
        WHERE u.email = \(EmailAddress.normalize(user)) AND res.name = \(resource) AND l.lifted_at IS NULL
        """
    }

    func insertLock(user: String, resource: String, now: Date) throws -> AccessLock {
        guard let userID = try fetchUserID(email: user), let resourceID = try fetchResourceID(name: resource) else {
            throw PostgresStoreError("cannot lock \(user) out of \(resource): unknown user or resource")
        }
        try execute("INSERT INTO locks (user_id, resource_id, locked_at) VALUES (\(userID), \(resourceID), \(now))")
        guard let lock = try fetchActiveLock(userID: userID, resourceID: resourceID) else {
            throw PostgresStoreError("the new lock could not be read back")
        }
        return lock
    }

    func liftLock(byRequest requestID: Int64, now: Date) throws {
        try execute("""
            UPDATE locks SET lifted_at = \(now), lifted_by_request_id = \(requestID)
            WHERE lifted_at IS NULL AND (user_id, resource_id) =
                (SELECT requester_id, resource_id FROM access_requests WHERE id = \(requestID))
            """)
    }

    func recordUsage(user: String, resource: String, now: Date) throws {
        guard let userID = try fetchUserID(email: user), let resourceID = try fetchResourceID(name: resource) else {
            throw PostgresStoreError("cannot record usage of \(resource) by \(user): unknown user or resource")
        }
        try execute("""
            INSERT INTO usage (user_id, resource_id, last_used_at) VALUES (\(userID), \(resourceID), \(now))
            ON CONFLICT (user_id, resource_id) DO UPDATE SET last_used_at = GREATEST(usage.last_used_at, EXCLUDED.last_used_at)
            """)
    }

    func autoLockCandidates() throws -> [AutoLockCandidate] {
        // GREATEST ignores NULLs, so the last activity is whichever of use and grant start exists.
        // Names sort by code point (COLLATE "C"), as SQLite's BINARY collation does.
        let candidates = try rows("""
            SELECT u.email, r.name, r.auto_lock_after_days AS days,
                   GREATEST((SELECT last_used_at FROM usage WHERE user_id = u.id AND resource_id = r.id),
                            (SELECT max(starts_at) FROM grants WHERE user_id = u.id AND resource_id = r.id)) AS last_active,
                   (SELECT max(lifted_at) FROM locks WHERE user_id = u.id AND resource_id = r.id) AS last_lifted
            FROM users u CROSS JOIN resources r
            WHERE r.auto_lock_after_days IS NOT NULL AND r.active AND u.active
              AND (EXISTS (SELECT 1 FROM usage WHERE user_id = u.id AND resource_id = r.id)
                   OR EXISTS (SELECT 1 FROM grants WHERE user_id = u.id AND resource_id = r.id))
              AND NOT EXISTS (SELECT 1 FROM locks WHERE user_id = u.id AND resource_id = r.id AND lifted_at IS NULL)
            ORDER BY u.email COLLATE "C", r.name COLLATE "C"
            """, table: "users")
        return try candidates.compactMap { row in
            guard let lastActive: Date = try row("last_active") else { return nil }
            return AutoLockCandidate(
                user: try row("email"), resource: try row("name"), lockAfterDays: try row("days"), lastActive: lastActive,
                lastLifted: try row("last_lifted")
            )
        }
    }
}

// MARK: Shared reads

/// Row-level reads shared by the repositories. Each runs inside the caller's transaction, so a
/// decision judges facts read in the transaction that records it.
extension PostgresTransaction {
    /// The store's id of the user with `email` (normalised first).
    func fetchUserID(email: String) throws -> Int64? {
        let email = EmailAddress.normalize(email)
        return try value("SELECT id FROM users WHERE email = \(email)", as: Int64.self)
    }

    /// The store's id of the resource named `name`.
    func fetchResourceID(name: String) throws -> Int64? {
        try value("SELECT id FROM resources WHERE name = \(name)", as: Int64.self)
    }

    /// The columns ``AccessRequest/init(stored:)`` reads: the request with its requester's email,
    /// its resource's name and its reviewer's email. Conditions follow with `r` for the request,
    /// `u` for the requester and `res` for the resource. Constant text without parameters.
    static let requestSelect = """
        SELECT r.*, u.email AS requester_email, res.name AS resource_name, d.email AS decided_by_email,
            res.approvals_required AS approvals_required
        FROM access_requests r
        JOIN users u ON u.id = r.requester_id
        JOIN resources res ON res.id = r.resource_id
        LEFT JOIN users d ON d.id = r.decided_by_id
        """

    /// ``requestSelect`` followed by `clause` (conditions, order), whose values stay bound
    /// parameters: the select has none, so the clause's `$n` keep their numbers.
    func requestQuery(_ clause: PostgresQuery) -> PostgresQuery {
        Self.requestQuery(clause)
    }

    static func requestQuery(_ clause: PostgresQuery) -> PostgresQuery {
        PostgresQuery(unsafeSQL: requestSelect + " " + clause.sql, binds: clause.binds)
    }

    /// The columns of ``requestSelect`` for the rows that `change` (an `INSERT` or `UPDATE` of
    /// `access_requests` ending in `RETURNING *`) wrote: a write and its read back in one statement.
    func requestQuery(changedBy change: PostgresQuery) -> PostgresQuery {
        PostgresQuery(unsafeSQL: "WITH changed AS (\(change.sql))\n" + Self.changedRequestSelect, binds: change.binds)
    }

    private static let changedRequestSelect = requestSelect.replacingOccurrences(of: "FROM access_requests r", with: "FROM changed r")

    func fetchRequest(id: Int64) throws -> AccessRequest? {
        try row(requestQuery("WHERE r.id = \(id)"), table: "access_requests").map(AccessRequest.init(stored:))
    }

    func fetchGrant(requestID: Int64) throws -> Grant? {
        try row("""
            SELECT g.*, u.email, res.name FROM grants g
            JOIN users u ON u.id = g.user_id JOIN resources res ON res.id = g.resource_id
            WHERE g.request_id = \(requestID)
            """, table: "grants").map(Grant.init(stored:))
    }

    /// The unlifted lock on the user's access to the resource, if any.
    func fetchActiveLock(userID: Int64, resourceID: Int64) throws -> AccessLock? {
        try row("""
            SELECT l.*, u.email, res.name FROM locks l
            JOIN users u ON u.id = l.user_id JOIN resources res ON res.id = l.resource_id
            WHERE l.user_id = \(userID) AND l.resource_id = \(resourceID) AND l.lifted_at IS NULL
            """, table: "locks").map(AccessLock.init(stored:))
    }
}

extension AccessRequest {
    /// A request from a row of ``PostgresTransaction/requestSelect``. The decision is read only
    /// when its reviewer, action, channel and time are all stored.
    init(stored row: StoredRow) throws {
        var decision: Decision?
        let action = try row.decodeIfPresent(DecisionAction.self, "decision_action")
        let channel = try row.decodeIfPresent(DecisionChannel.self, "decision_channel")
        let reviewer: String? = try row("decided_by_email")
        let resolvedAt: Date? = try row("resolved_at")
        if let reviewer, let action, let channel, let resolvedAt {
            decision = Decision(
                reviewer: reviewer, action: action, decidedAt: resolvedAt, channel: channel,
                comment: try row("decision_comment")
            )
        }
        self.init(
            id: try row("id"),
            kind: try row.decode(RequestKind.self, "kind"),
            requester: try row("requester_email"),
            resource: try row("resource_name"),
            reason: try row("reason"),
            durationSeconds: try row("duration_seconds"),
            state: try row.decode(RequestState.self, "state"),
            createdAt: try row("created_at"),
            expiresAt: try row("expires_at"),
            resolvedAt: resolvedAt,
            decision: decision,
            approvalCount: try row("approval_count"),
            approvalsRequired: try row("approvals_required"),
            escalatedAt: try row("escalated_at")
        )
    }
}

extension RecordedApproval {
    /// An approval from a row of `request_approvals` joined with its reviewer's `email`.
    init(stored row: StoredRow) throws {
        self.init(
            requestID: try row("request_id"), reviewer: try row("email"),
            channel: try row.decode(DecisionChannel.self, "channel"), right: try row("review_right"),
            grantSeconds: try row("grant_seconds"), comment: try row("comment"), approvedAt: try row("approved_at"),
            voidReason: try row("void_reason")
        )
    }
}

extension Grant {
    /// A grant from a row of `grants` joined with its user's `email` and resource's `name`.
    init(stored row: StoredRow) throws {
        self.init(
            id: try row("id"), requestID: try row("request_id"), user: try row("email"), resource: try row("name"),
            startsAt: try row("starts_at"), endsAt: try row("ends_at"),
            revokedAt: try row("revoked_at"), revokedBy: try row("revoked_by"), revokeReason: try row("revoke_reason")
        )
    }
}

extension AccessLock {
    /// A lock from a row of `locks` joined with its user's `email` and resource's `name`.
    init(stored row: StoredRow) throws {
        self.init(user: try row("email"), resource: try row("name"), lockedAt: try row("locked_at"), liftedAt: try row("lifted_at"))
    }
}
