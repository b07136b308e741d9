import Foundation
import GRDB
import GatewayCore

extension Database {
    func preferences() throws -> [String: NotificationPreferences] {
        let rows = try Row.fetchAll(self, sql: """
            SELECT u.email, p.new_requests, p.outcomes FROM notification_preferences p JOIN users u ON u.id = p.user_id
            """)
        return Dictionary(uniqueKeysWithValues: rows.map { row in
            (row["email"] as String, NotificationPreferences(newRequests: row["new_requests"], outcomes: row["outcomes"]))
        })
    }

    /// Adds one outgoing email to the outbox, in the caller's transaction.
    func enqueue(
        _ kind: NotificationKind, requestID: Int64?, recipient: NotificationRecipient, context: [String: String] = [:], now: Date
    ) throws {
        let json = String(decoding: try JSONEncoder.sorted.encode(context), as: UTF8.self)
        try execute(sql: """
            INSERT INTO outbox (kind, request_id, recipient, reason, created_at, next_attempt_at, context)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, arguments: [kind.rawValue, requestID, recipient.email, recipient.reason, now, now, json])
    }

    /// Everyone who was sent the new-request email for `requestID`.
    func notifiedRecipients(requestID: Int64) throws -> [String] {
        try String.fetchAll(self, sql: "SELECT DISTINCT recipient FROM outbox WHERE request_id = ? AND kind = 'new_request' ORDER BY recipient", arguments: [requestID])
    }

    /// Enqueues the new-request emails for a request just created.
    func enqueueNewRequest(_ request: AccessRequest, now: Date) throws {
        guard let resource = try fetchResource(name: request.resource) else { return }
        let recipients = NotificationRecipients.forNewRequest(
            request, resource: resource, users: try fetchUsers(), groups: try fetchGroups(), preferences: try preferences()
        )
        for recipient in recipients {
            try enqueue(.newRequest, requestID: request.id, recipient: recipient, now: now)
        }
    }

    /// Enqueues the outcome emails for a request that just left `pending`.
    func enqueueOutcome(_ request: AccessRequest, now: Date) throws {
        let kind: NotificationKind = switch request.state {
        case .approved, .denied: .decided
        case .expired: .expired
        case .cancelled: .cancelled
        case .pending: .decided
        }
        guard request.state != .pending else { return }
        var recipients = NotificationRecipients.forOutcome(
            request, notified: try notifiedRecipients(requestID: request.id), decidedBy: request.decision?.reviewer,
            users: try fetchUsers(), preferences: try preferences()
        )
        // The requester withdrew it themselves: they need no email about it.
        if kind == .cancelled { recipients.removeAll { $0.reason == "requester" } }
        for recipient in recipients {
            try enqueue(kind, requestID: request.id, recipient: recipient, now: now)
        }
    }
}

extension OutboxEntry {
    init(row: Row) {
        let context: String = row["context"]
        let raw: Data? = row["raw_message"]
        self.init(
            id: row["id"], kind: NotificationKind(rawValue: row["kind"]) ?? .newRequest, requestID: row["request_id"],
            recipient: row["recipient"], reason: row["reason"], status: OutboxStatus(rawValue: row["status"]) ?? .pending,
            attempts: row["attempts"], createdAt: row["created_at"], nextAttemptAt: row["next_attempt_at"],
            sentAt: row["sent_at"], lastError: row["last_error"], messageID: row["message_id"],
            rawMessage: raw.map { [UInt8]($0) },
            context: (try? JSONDecoder().decode([String: String].self, from: Data(context.utf8))) ?? [:]
        )
    }
}

extension SQLiteStore {
    public func notificationPreferences(for email: String) async throws -> NotificationPreferences {
        try await pool.read { db in try db.preferences()[EmailAddress.normalize(email)] ?? .default }
    }

    public func setNotificationPreferences(_ preferences: NotificationPreferences, for email: String, actor: String?, now: Date) async throws {
        try await pool.write { db in
            let email = EmailAddress.normalize(email)
            guard let user = try db.fetchUser(email: email), user.isActive, let userID = try db.userID(email: email) else {
                throw RequestError(.unknownRequester, "\(email) is not a user of the directory")
            }
            guard user.role.reviewsEverything else {
                throw RequestError(
                    .notAdminRole,
                    "\(email) has the role \(user.role.rawValue); notification preferences apply to admin, devops and access_reviewer users (approvers are always emailed about their resources' new requests)"
                )
            }
            try db.execute(sql: """
                INSERT INTO notification_preferences (user_id, new_requests, outcomes) VALUES (?, ?, ?)
                ON CONFLICT(user_id) DO UPDATE SET new_requests = excluded.new_requests, outcomes = excluded.outcomes
                """, arguments: [userID, preferences.newRequests, preferences.outcomes])
            try db.appendAudit(
                at: now, action: "notification_preferences", actor: actor, requestID: nil, channel: nil, outcome: "accepted", reason: nil,
                detail: ["user": email, "new_requests": String(preferences.newRequests), "outcomes": String(preferences.outcomes)]
            )
        }
    }

    /// Enqueues one email outside a request's life cycle (a reply answer, a sign-in link).
    public func enqueueNotification(
        _ kind: NotificationKind, requestID: Int64?, recipient: NotificationRecipient, context: [String: String], now: Date
    ) async throws {
        try await pool.write { db in try db.enqueue(kind, requestID: requestID, recipient: recipient, context: context, now: now) }
    }

    public func outboxEntries(status: OutboxStatus?, limit: Int) async throws -> [OutboxEntry] {
        try await pool.read { db in
            if let status {
                return try Row.fetchAll(db, sql: "SELECT * FROM outbox WHERE status = ? ORDER BY id LIMIT ?", arguments: [status.rawValue, limit]).map(OutboxEntry.init(row:))
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM outbox ORDER BY id LIMIT ?", arguments: [limit]).map(OutboxEntry.init(row:))
        }
    }

    /// Claims up to `limit` due emails for `lease`: pending ones whose retry time has come, and ones a
    /// worker claimed but never finished (it crashed) once their lease has run out.
    public func claimOutbox(now: Date, limit: Int, lease: TimeInterval) async throws -> [OutboxEntry] {
        try await pool.write { db in
            let ids = try Int64.fetchAll(db, sql: """
                SELECT id FROM outbox
                WHERE (status = 'pending' AND next_attempt_at <= ?) OR (status = 'sending' AND lease_until <= ?)
                ORDER BY next_attempt_at, id LIMIT ?
                """, arguments: [now, now, limit])
            guard !ids.isEmpty else { return [] }
            let list = ids.map(String.init).joined(separator: ",")
            try db.execute(sql: "UPDATE outbox SET status = 'sending', lease_until = ? WHERE id IN (\(list))", arguments: [now.addingTimeInterval(lease)])
            return try Row.fetchAll(db, sql: "SELECT * FROM outbox WHERE id IN (\(list)) ORDER BY next_attempt_at, id").map(OutboxEntry.init(row:))
        }
    }

    /// Keeps the first rendering of an email, so that every retry sends the same bytes and Message-ID.
    public func saveRenderedMessage(id: Int64, messageID: String, raw: [UInt8]) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE outbox SET message_id = ?, raw_message = ? WHERE id = ? AND raw_message IS NULL", arguments: [messageID, Data(raw), id])
        }
    }

    public func markOutboxSent(id: Int64, now: Date) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1, lease_until = NULL, last_error = NULL WHERE id = ?", arguments: [now, id])
        }
    }

    public func markOutboxRetry(id: Int64, error: String, retryAt: Date) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE outbox SET status = 'pending', attempts = attempts + 1, last_error = ?, next_attempt_at = ?, lease_until = NULL WHERE id = ?", arguments: [error, retryAt, id])
        }
    }

    public func markOutboxFailed(id: Int64, error: String, now: Date) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?, lease_until = NULL WHERE id = ?", arguments: [error, id])
        }
    }

    /// Enqueues one reminder per pending request whose deadline is within `lead`, to the people who
    /// were notified of it and may still decide. Each request is reminded at most once.
    /// - Returns: the ids of the requests reminded.
    public func sendReminders(now: Date, lead: TimeInterval) async throws -> [Int64] {
        try await pool.write { db in
            let ids = try Int64.fetchAll(db, sql: """
                SELECT id FROM access_requests WHERE state = 'pending' AND reminded_at IS NULL AND expires_at > ? AND expires_at <= ?
                ORDER BY id
                """, arguments: [now, now.addingTimeInterval(lead)])
            for id in ids {
                try db.execute(sql: "UPDATE access_requests SET reminded_at = ? WHERE id = ?", arguments: [now, id])
                guard let request = try db.fetchRequest(id: id), let resource = try db.fetchResource(name: request.resource) else { continue }
                // Rights are re-checked now: only people who may still decide are reminded.
                let current = Set(NotificationRecipients.forNewRequest(
                    request, resource: resource, users: try db.fetchUsers(), groups: try db.fetchGroups(), preferences: try db.preferences()
                ).map(\.email))
                for email in try db.notifiedRecipients(requestID: id) where current.contains(email) {
                    try db.enqueue(.reminder, requestID: id, recipient: NotificationRecipient(email: email, reason: "notified"), now: now)
                }
            }
            return ids
        }
    }

    /// A random identifier of this database, created on first use: it keeps Message-IDs and thread
    /// roots of different installations apart.
    public func installationID() async throws -> String {
        try await pool.write { db in
            if let id = try String.fetchOne(db, sql: "SELECT value FROM gateway_meta WHERE key = 'installation_id'") { return id }
            var generator = SystemRandomNumberGenerator()
            let id = (0..<8).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
            try db.execute(sql: "INSERT INTO gateway_meta (key, value) VALUES ('installation_id', ?)", arguments: [id])
            return id
        }
    }

    /// The store's user id for `email`, which reply keys carry.
    public func userID(email: String) async throws -> Int64? {
        try await pool.read { db in try db.userID(email: email) }
    }

    /// The user with store id `id`.
    public func user(id: Int64) async throws -> User? {
        try await pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM users WHERE id = ?", arguments: [id]).map(User.init(row:)) }
    }
}
