import Foundation
import GRDB
import GatewayCore

/// Row-level reads shared by the store's transactions. Every function runs inside the caller's
/// transaction, so a decision judges facts read in the transaction that records it.
extension Database {
    func userID(email: String) throws -> Int64? {
        try Int64.fetchOne(try cachedStatement(sql: "SELECT id FROM users WHERE email = ?"), arguments: [EmailAddress.normalize(email)])
    }

    func resourceID(name: String) throws -> Int64? {
        try Int64.fetchOne(try cachedStatement(sql: "SELECT id FROM resources WHERE name = ?"), arguments: [name])
    }

    func fetchUser(email: String) throws -> User? {
        try Row.fetchOne(try cachedStatement(sql: "SELECT * FROM users WHERE email = ?"), arguments: [EmailAddress.normalize(email)])
            .map(User.init(row:))
    }

    func fetchUsers() throws -> [User] {
        try Array(Row.fetchCursor(try cachedStatement(sql: "SELECT * FROM users ORDER BY email")).map(User.init(row:)))
    }

    /// Names of the groups `email` belongs to now.
    func groupNames(of email: String) throws -> Set<String> {
        Set(try String.fetchAll(try cachedStatement(sql: """
            SELECT g.name FROM groups g
            JOIN group_members m ON m.group_id = g.id
            JOIN users u ON u.id = m.user_id
            WHERE u.email = ?
            """), arguments: [EmailAddress.normalize(email)]))
    }

    func fetchGroups() throws -> [Group] {
        let rows = try Row.fetchAll(try cachedStatement(sql: """
            SELECT g.name, u.email FROM groups g
            LEFT JOIN group_members m ON m.group_id = g.id
            LEFT JOIN users u ON u.id = m.user_id
            ORDER BY g.name
            """))
        var members: [String: Set<String>] = [:]
        var order: [String] = []
        for row in rows {
            let name: String = row["name"]
            if members[name] == nil { members[name] = []; order.append(name) }
            if let email: String = row["email"] { members[name]!.insert(email) }
        }
        return order.map { Group(name: $0, members: members[$0]!) }
    }

    func fetchResource(name: String) throws -> Resource? {
        guard let row = try Row.fetchOne(try cachedStatement(sql: "SELECT * FROM resources WHERE name = ?"), arguments: [name]) else {
            return nil
        }
        return try Resource(row: row, approverGroups: approverGroupNames(resourceID: row["id"]), escalationGroups: escalationGroupNames(resourceID: row["id"]))
    }

    /// Every resource with its groups, in three statements whatever the number of resources.
    func fetchResources() throws -> [Resource] {
        func groupNames(_ table: String) throws -> [Int64: [String]] {
            var names: [Int64: [String]] = [:]
            let rows = try Row.fetchCursor(try cachedStatement(sql: """
                SELECT t.resource_id, g.name FROM \(table) t JOIN groups g ON g.id = t.group_id ORDER BY t.resource_id, g.name
                """))
            while let row = try rows.next() { names[row[0], default: []].append(row[1]) }
            return names
        }
        let approvers = try groupNames("resource_approver_groups")
        let escalation = try groupNames("resource_escalation_groups")
        return try Array(Row.fetchCursor(try cachedStatement(sql: "SELECT * FROM resources ORDER BY name")).map { row in
            let id: Int64 = row["id"]
            return Resource(row: row, approverGroups: approvers[id] ?? [], escalationGroups: escalation[id] ?? [])
        })
    }

    func escalationGroupNames(resourceID: Int64) throws -> [String] {
        try String.fetchAll(try cachedStatement(sql: """
            SELECT g.name FROM resource_escalation_groups e JOIN groups g ON g.id = e.group_id
            WHERE e.resource_id = ? ORDER BY g.name
            """), arguments: [resourceID])
    }

    func approverGroupNames(resourceID: Int64) throws -> [String] {
        try String.fetchAll(try cachedStatement(sql: """
            SELECT g.name FROM resource_approver_groups a JOIN groups g ON g.id = a.group_id
            WHERE a.resource_id = ? ORDER BY g.name
            """), arguments: [resourceID])
    }

    /// A request with its people's addresses and its resource's name and quorum, in the column order
    /// of ``RequestColumn``: a page decodes 50 rows, and a read by name hashes the column name for
    /// every value.
    static let requestSelect = """
        SELECT r.id, r.kind, u.email, res.name, r.reason, r.duration_seconds, r.state, r.created_at, r.expires_at,
            r.resolved_at, d.email, r.decision_action, r.decision_channel, r.decision_comment, r.approval_count,
            res.approvals_required, r.escalated_at
        FROM access_requests r
        JOIN users u ON u.id = r.requester_id
        JOIN resources res ON res.id = r.resource_id
        LEFT JOIN users d ON d.id = r.decided_by_id
        """

    func fetchRequest(id: Int64) throws -> AccessRequest? {
        try Row.fetchOne(try cachedStatement(sql: Self.requestSelect + " WHERE r.id = ?"), arguments: [id]).map(AccessRequest.init(row:))
    }

    func fetchGrant(requestID: Int64) throws -> Grant? {
        try Row.fetchOne(try cachedStatement(sql: """
            SELECT g.*, u.email, res.name FROM grants g
            JOIN users u ON u.id = g.user_id JOIN resources res ON res.id = g.resource_id
            WHERE g.request_id = ?
            """), arguments: [requestID]).map(Grant.init(row:))
    }

    func fetchActiveLock(userID: Int64, resourceID: Int64) throws -> AccessLock? {
        try Row.fetchOne(try cachedStatement(sql: """
            SELECT l.*, u.email, res.name FROM locks l
            JOIN users u ON u.id = l.user_id JOIN resources res ON res.id = l.resource_id
            WHERE l.user_id = ? AND l.resource_id = ? AND l.lifted_at IS NULL
            """), arguments: [userID, resourceID]).map(AccessLock.init(row:))
    }
}

extension User {
    init(row: Row) throws {
        self.init(
            email: row["email"], name: row["name"],
            role: try decode(AdminRole.self, row, "role", table: "users"), isActive: row["active"]
        )
    }
}

extension Resource {
    init(row: Row, approverGroups: [String], escalationGroups: [String]) {
        let durations: String = row["durations"]
        self.init(
            name: row["name"],
            approverGroups: approverGroups,
            allowedDurations: durations.split(separator: ",").compactMap { Int($0) },
            pendingTTL: row["pending_ttl"],
            autoLockAfterDays: row["auto_lock_after_days"],
            replyDecisionsEnabled: row["reply_decisions"],
            linkDecisionsEnabled: row["link_decisions"],
            linkCodeRequired: row["link_code_required"],
            linkSignInRequired: row["link_sign_in"],
            approvalsRequired: row["approvals_required"],
            escalateAfterSeconds: row["escalate_after_seconds"],
            escalationGroups: escalationGroups,
            isActive: row["active"]
        )
    }
}

/// The positions of ``Database/requestSelect``'s columns.
enum RequestColumn {
    static let id = 0, kind = 1, requester = 2, resource = 3, reason = 4, durationSeconds = 5, state = 6
    static let createdAt = 7, expiresAt = 8, resolvedAt = 9, decidedBy = 10, decisionAction = 11, decisionChannel = 12
    static let decisionComment = 13, approvalCount = 14, approvalsRequired = 15, escalatedAt = 16
}

extension AccessRequest {
    /// A stored instant the schema never leaves empty.
    private static func required(_ instant: Date?, _ column: String) throws -> Date {
        guard let instant else { throw StoreError("access_requests.\(column) is empty") }
        return instant
    }

    /// A row of ``Database/requestSelect``.
    init(row: Row) throws {
        typealias Column = RequestColumn
        let table = "access_requests"
        var decision: Decision?
        let action = try decodeIfPresent(DecisionAction.self, row, atIndex: Column.decisionAction, named: "decision_action", table: table)
        let channel = try decodeIfPresent(DecisionChannel.self, row, atIndex: Column.decisionChannel, named: "decision_channel", table: table)
        let resolvedAt = row.instant(atIndex: Column.resolvedAt)
        if let reviewer: String = row[Column.decidedBy], let action, let channel, let decidedAt = resolvedAt {
            decision = Decision(
                reviewer: reviewer, action: action, decidedAt: decidedAt, channel: channel,
                comment: row[Column.decisionComment]
            )
        }
        self.init(
            id: row[Column.id],
            kind: try decode(RequestKind.self, row, atIndex: Column.kind, named: "kind", table: table),
            requester: row[Column.requester],
            resource: row[Column.resource],
            reason: row[Column.reason],
            durationSeconds: row[Column.durationSeconds],
            state: try decode(RequestState.self, row, atIndex: Column.state, named: "state", table: table),
            createdAt: try Self.required(row.instant(atIndex: Column.createdAt), "created_at"),
            expiresAt: try Self.required(row.instant(atIndex: Column.expiresAt), "expires_at"),
            resolvedAt: resolvedAt,
            decision: decision,
            approvalCount: row[Column.approvalCount],
            approvalsRequired: row[Column.approvalsRequired],
            escalatedAt: row.instant(atIndex: Column.escalatedAt)
        )
    }
}

extension RecordedApproval {
    init(row: Row) throws {
        self.init(
            requestID: row["request_id"], reviewer: row["email"],
            channel: try decode(DecisionChannel.self, row, "channel", table: "request_approvals"),
            right: row["review_right"], grantSeconds: row["grant_seconds"], comment: row["comment"],
            approvedAt: row["approved_at"], voidReason: row["void_reason"]
        )
    }
}

extension Grant {
    init(row: Row) {
        self.init(
            id: row["id"], requestID: row["request_id"], user: row["email"], resource: row["name"],
            startsAt: row["starts_at"], endsAt: row["ends_at"],
            revokedAt: row["revoked_at"], revokedBy: row["revoked_by"], revokeReason: row["revoke_reason"]
        )
    }
}

extension AccessLock {
    init(row: Row) {
        self.init(user: row["email"], resource: row["name"], lockedAt: row["locked_at"], liftedAt: row["lifted_at"])
    }
}

extension StatementArguments {
    /// Positional arguments of `texts`.
    ///
    /// GRDB's initialiser from a sequence of a generic value type builds a key path for each call,
    /// which the runtime instantiates from its mangled name: a page that asks for a list of names
    /// spent more on that than on the query.
    init(texts: [String]) {
        self.init(texts.map { $0.databaseValue as (any DatabaseValueConvertible)? })
    }
}
