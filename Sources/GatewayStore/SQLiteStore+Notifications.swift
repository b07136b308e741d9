import Foundation
import GRDB
import GatewayApp
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
        // Most emails carry no context (every new-request email): no encoder for those.
        let json = context.isEmpty ? "{}" : String(decoding: try JSONEncoder.sorted.encode(context), as: UTF8.self)
        // Cached: a burst of requests queues several emails each.
        try cachedStatement(sql: """
            INSERT INTO outbox (kind, request_id, recipient, reason, created_at, next_attempt_at, context)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [kind.rawValue, requestID, recipient.email, recipient.reason, now, now, json])
    }

    /// Everyone who was sent the new-request email for `requestID`.
    func notifiedRecipients(requestID: Int64) throws -> [String] {
        try String.fetchAll(self, sql: "SELECT DISTINCT recipient FROM outbox WHERE request_id = ? AND kind IN ('new_request', 'escalated') ORDER BY recipient", arguments: [requestID])
    }

}

extension SQLiteTransaction: OutboxRepository {
    func enqueue(_ kind: NotificationKind, requestID: Int64?, recipient: NotificationRecipient, context: [String: String], now: Date) throws {
        try db.enqueue(kind, requestID: requestID, recipient: recipient, context: context, now: now)
    }

    func notifiedRecipients(requestID: Int64) throws -> [String] { try db.notifiedRecipients(requestID: requestID) }

    func outboxEntry(messageID: String) throws -> OutboxEntry? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM outbox WHERE message_id = ?"), arguments: [messageID]).map(OutboxEntry.init(row:))
    }

    func outboxEntry(id: Int64) throws -> OutboxEntry? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM outbox WHERE id = ?"), arguments: [id]).map(OutboxEntry.init(row:))
    }

    func markOutboxBounced(id: Int64, reason: String, now: Date) throws {
        try db.execute(sql: "UPDATE outbox SET status = 'bounced', last_error = ?, lease_until = NULL WHERE id = ?", arguments: [reason, id])
    }

    func outboxEntries(requestID: Int64) throws -> [OutboxEntry] {
        try Array(Row.fetchCursor(db.cachedStatement(sql: "SELECT * FROM outbox WHERE request_id = ? ORDER BY id"), arguments: [requestID]).map(OutboxEntry.init(row:)))
    }
}

extension OutboxEntry {
    init(row: Row) throws {
        let context: String = row["context"]
        let raw: Data? = row["raw_message"]
        self.init(
            id: row["id"], kind: try decode(NotificationKind.self, row, "kind", table: "outbox"), requestID: row["request_id"],
            recipient: row["recipient"], reason: row["reason"], status: try decode(OutboxStatus.self, row, "status", table: "outbox"),
            attempts: row["attempts"], createdAt: row["created_at"], nextAttemptAt: row["next_attempt_at"],
            sentAt: row["sent_at"], lastError: row["last_error"], messageID: row["message_id"],
            rawMessage: raw.map { [UInt8]($0) },
            context: (try? JSONDecoder().decode([String: String].self, from: Data(context.utf8))) ?? [:]
        )
    }
}

extension SQLiteStore {
    /// Claims up to `limit` due emails for `lease`: pending ones whose retry time has come, and ones a
    /// worker claimed but never finished (it crashed) once their lease has run out.
    public func claimOutbox(now: Date, limit: Int, lease: TimeInterval) async throws -> [OutboxEntry] {
        try await pool.write { db in
            let ids = try Int64.fetchAll(db.cachedStatement(sql: """
                SELECT id FROM outbox
                WHERE (status = 'pending' AND next_attempt_at <= ?) OR (status = 'sending' AND lease_until <= ?)
                ORDER BY next_attempt_at, id LIMIT ?
                """), arguments: [now, now, limit])
            guard !ids.isEmpty else { return [] }
            let list = ids.map(String.init).joined(separator: ",")
            try db.execute(sql: "UPDATE outbox SET status = 'sending', lease_until = ? WHERE id IN (\(list))", arguments: [now.addingTimeInterval(lease)])
            return try Array(Row.fetchCursor(db, sql: "SELECT * FROM outbox WHERE id IN (\(list)) ORDER BY next_attempt_at, id").map(OutboxEntry.init(row:)))
        }
    }

    /// Keeps the first rendering of each email, so that every retry sends the same bytes and Message-ID.
    public func saveRenderedMessages(_ messages: [RenderedOutboxMessage]) async throws {
        guard !messages.isEmpty else { return }
        try await pool.write { db in
            let statement = try db.cachedStatement(sql: "UPDATE outbox SET message_id = ?, raw_message = ? WHERE id = ? AND raw_message IS NULL")
            for message in messages {
                try statement.execute(arguments: [message.messageID, message.raw.map { Data($0) }, message.id])
            }
        }
    }

    public func markOutboxSent(_ deliveries: [OutboxDelivery]) async throws {
        guard !deliveries.isEmpty else { return }
        try await pool.write { db in
            let statement = try db.cachedStatement(sql: """
                UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1, lease_until = NULL, last_error = NULL,
                    raw_message = ?, body_sha256 = ?
                WHERE id = ?
                """)
            for delivery in deliveries {
                try statement.execute(arguments: [delivery.sentAt, Data(delivery.retainedHeaders), delivery.bodyDigest, delivery.id])
            }
        }
    }

    public func markOutboxRetry(id: Int64, error: String, retryAt: Date) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE outbox SET status = 'pending', attempts = attempts + 1, last_error = ?, next_attempt_at = ?, lease_until = NULL WHERE id = ?", arguments: [error, retryAt, id])
        }
    }

    public func releaseOutboxClaims(ids: [Int64]) async throws {
        guard !ids.isEmpty else { return }
        try await pool.write { db in
            let list = ids.map(String.init).joined(separator: ",")
            try db.execute(sql: "UPDATE outbox SET status = 'pending', lease_until = NULL WHERE status = 'sending' AND id IN (\(list))")
        }
    }

    public func extendOutboxClaims(ids: [Int64], until: Date) async throws {
        guard !ids.isEmpty else { return }
        try await pool.write { db in
            let list = ids.map(String.init).joined(separator: ",")
            try db.execute(sql: "UPDATE outbox SET lease_until = ? WHERE status = 'sending' AND id IN (\(list))", arguments: [until])
        }
    }

    public func markOutboxFailed(id: Int64, error: String, now: Date) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?, lease_until = NULL WHERE id = ?", arguments: [error, id])
        }
    }

    /// A random identifier of this database, created on first use: it keeps Message-IDs and thread
    /// roots of different installations apart.
    public func installationID() async throws -> String {
        try await pool.write { db in
            if let id = try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM gateway_meta WHERE key = 'installation_id'")) { return id }
            var generator = SystemRandomNumberGenerator()
            let id = (0..<8).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
            try db.execute(sql: "INSERT INTO gateway_meta (key, value) VALUES ('installation_id', ?)", arguments: [id])
            return id
        }
    }

    public func webSecret() async throws -> [UInt8] {
        try await pool.write { db in
            if let text = try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM gateway_meta WHERE key = 'web_secret'")),
               let data = Data(base64Encoded: text), data.count >= 32 {
                return [UInt8](data)
            }
            var generator = SystemRandomNumberGenerator()
            let secret = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
            try db.execute(
                sql: "INSERT INTO gateway_meta (key, value) VALUES ('web_secret', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                arguments: [Data(secret).base64EncodedString()]
            )
            return secret
        }
    }
}
