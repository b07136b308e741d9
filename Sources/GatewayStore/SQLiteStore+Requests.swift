import Foundation
import GRDB
import GatewayCore

extension SQLiteStore {
    public func createRequest(_ new: NewAccessRequest, now: Date) async throws -> AccessRequest {
        try await pool.write { db in
            let requester = try db.fetchUser(email: new.requester)
            let resource = try db.fetchResource(name: new.resource)
            var lock: AccessLock?
            var pending: AccessRequest?
            if let requester, let resource, let userID = try db.userID(email: requester.email),
               let resourceID = try db.resourceID(name: resource.name) {
                // A pending request past its deadline is expired first, so it never blocks a new one.
                try Self.expireOverdue(db: db, now: now, extraCondition: "AND requester_id = ? AND resource_id = ?", arguments: [userID, resourceID])
                lock = try db.fetchActiveLock(userID: userID, resourceID: resourceID)
                pending = try Row.fetchOne(db, sql: Database.requestSelect + " WHERE r.requester_id = ? AND r.resource_id = ? AND r.state = 'pending'", arguments: [userID, resourceID])
                    .map(AccessRequest.init(row:))
            }
            let accepted = try RequestRules.validate(new, requester: requester, resource: resource, lock: lock, pending: pending, now: now)
            try db.execute(sql: """
                INSERT INTO access_requests (kind, requester_id, resource_id, reason, duration_seconds, state, created_at, expires_at)
                VALUES (?, (SELECT id FROM users WHERE email = ?), (SELECT id FROM resources WHERE name = ?), ?, ?, 'pending', ?, ?)
                """, arguments: [accepted.kind.rawValue, new.requester, new.resource, accepted.reason, accepted.durationSeconds, now, accepted.expiresAt])
            let id = db.lastInsertedRowID
            try db.appendAudit(
                at: now, action: "create", actor: new.requester, requestID: id, channel: nil, outcome: "accepted",
                reason: nil, detail: ["kind": accepted.kind.rawValue, "resource": new.resource]
            )
            let request = try db.fetchRequest(id: id)!
            // The emails are written in the same transaction as the request (SMTP-1).
            try db.enqueueNewRequest(request, now: now)
            return request
        }
    }

    public func request(id: Int64) async throws -> AccessRequest? {
        try await pool.read { db in try db.fetchRequest(id: id) }
    }

    public func requests(_ filter: RequestFilter) async throws -> [AccessRequest] {
        try await pool.read { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
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
            let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
            arguments += [filter.limit, filter.offset]
            return try Row.fetchAll(
                db, sql: Database.requestSelect + whereClause + " ORDER BY r.created_at DESC, r.id DESC LIMIT ? OFFSET ?",
                arguments: arguments
            ).map(AccessRequest.init(row:))
        }
    }

    public func cancelRequest(id: Int64, requester: String, now: Date) async throws -> AccessRequest {
        try await pool.write { db in
            let requester = EmailAddress.normalize(requester)
            guard let request = try db.fetchRequest(id: id) else {
                throw RequestError(.unknownRequest, "there is no request \(id)")
            }
            guard request.requester == requester else {
                try db.appendAudit(at: now, action: "cancel", actor: requester, requestID: id, channel: nil, outcome: "refused", reason: RequestError.Code.notRequester.rawValue, detail: [:])
                throw RequestError(.notRequester, "only the requester, \(request.requester), can cancel request \(id)")
            }
            try db.execute(
                sql: "UPDATE access_requests SET state = 'cancelled', resolved_at = ? WHERE id = ? AND state = 'pending' AND expires_at > ?",
                arguments: [now, id, now]
            )
            guard db.changesCount == 1 else {
                try db.appendAudit(at: now, action: "cancel", actor: requester, requestID: id, channel: nil, outcome: "refused", reason: RequestError.Code.notPending.rawValue, detail: ["state": request.state.rawValue])
                let state = request.state == .pending ? "expired" : request.state.rawValue
                throw RequestError(.notPending, "request \(id) is already \(state)")
            }
            try db.appendAudit(at: now, action: "cancel", actor: requester, requestID: id, channel: nil, outcome: "accepted", reason: nil, detail: [:])
            let cancelled = try db.fetchRequest(id: id)!
            try db.enqueueOutcome(cancelled, now: now)
            return cancelled
        }
    }

    public func expireRequests(now: Date) async throws -> [AccessRequest] {
        try await pool.write { db in try Self.expireOverdue(db: db, now: now, extraCondition: "", arguments: []) }
    }

    /// Expires pending requests past their deadline (optionally narrowed), auditing each.
    @discardableResult
    static func expireOverdue(db: Database, now: Date, extraCondition: String, arguments: StatementArguments) throws -> [AccessRequest] {
        let ids = try Int64.fetchAll(
            db, sql: "SELECT id FROM access_requests WHERE state = 'pending' AND expires_at <= ? " + extraCondition,
            arguments: [now] + arguments
        )
        var expired: [AccessRequest] = []
        for id in ids {
            try db.execute(
                sql: "UPDATE access_requests SET state = 'expired', resolved_at = ? WHERE id = ? AND state = 'pending'",
                arguments: [now, id]
            )
            guard db.changesCount == 1 else { continue }
            try db.appendAudit(at: now, action: "expire", actor: nil, requestID: id, channel: nil, outcome: "accepted", reason: "past_deadline", detail: [:])
            if let request = try db.fetchRequest(id: id) {
                try db.enqueueOutcome(request, now: now)
                expired.append(request)
            }
        }
        return expired
    }

    public func accessStatus(user: String, resource: String, at instant: Date) async throws -> AccessStatus {
        try await pool.read { db in
            let user = EmailAddress.normalize(user)
            guard let userID = try db.userID(email: user) else {
                throw RequestError(.unknownRequester, "\(user) is not a user of the directory")
            }
            guard let resourceID = try db.resourceID(name: resource) else {
                throw RequestError(.unknownResource, "there is no resource named \"\(resource)\"")
            }
            let grant = try Row.fetchOne(db, sql: """
                SELECT g.*, u.email, res.name FROM grants g
                JOIN users u ON u.id = g.user_id JOIN resources res ON res.id = g.resource_id
                WHERE g.user_id = ? AND g.resource_id = ? AND g.starts_at <= ? AND g.ends_at > ? AND u.active AND res.active
                ORDER BY g.ends_at DESC LIMIT 1
                """, arguments: [userID, resourceID, instant, instant]).map(Grant.init(row:))
            let lock = try db.fetchActiveLock(userID: userID, resourceID: resourceID)
            return AccessStatus(user: user, resource: resource, grant: grant, lock: lock)
        }
    }

    public func lock(user: String, resource: String, now: Date) async throws -> AccessLock {
        try await pool.write { db in
            guard let userID = try db.userID(email: user) else {
                throw RequestError(.unknownRequester, "\(user) is not a user of the directory")
            }
            guard let resourceID = try db.resourceID(name: resource) else {
                throw RequestError(.unknownResource, "there is no resource named \"\(resource)\"")
            }
            if let existing = try db.fetchActiveLock(userID: userID, resourceID: resourceID) { return existing }
            try db.execute(
                sql: "INSERT INTO locks (user_id, resource_id, locked_at) VALUES (?, ?, ?)",
                arguments: [userID, resourceID, now]
            )
            try db.appendAudit(at: now, action: "lock", actor: nil, requestID: nil, channel: nil, outcome: "accepted", reason: nil, detail: ["user": EmailAddress.normalize(user), "resource": resource])
            return try db.fetchActiveLock(userID: userID, resourceID: resourceID)!
        }
    }
}
