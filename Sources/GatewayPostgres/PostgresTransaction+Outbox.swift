import Foundation
import GatewayApp
import GatewayCore
import PostgresNIO

extension PostgresTransaction: OutboxRepository {
    func enqueue(_ kind: NotificationKind, requestID: Int64?, recipient: NotificationRecipient, context: [String: String], now: Date) throws {
        // Most emails carry no context (every new-request email): no encoder for those.
        let json = context.isEmpty ? "{}" : String(decoding: try JSONEncoder.sortedKeys.encode(context), as: UTF8.self)
        executeDeferred("""
            INSERT INTO outbox (kind, request_id, recipient, reason, created_at, next_attempt_at, context)
            VALUES (\(kind.rawValue), \(requestID), \(recipient.email), \(recipient.reason), \(now), \(now), \(json))
            """)
    }

    /// One statement for every recipient (each statement is a round trip): the rows go in the
    /// recipients' order, so their ids keep it.
    func enqueue(_ kind: NotificationKind, requestID: Int64?, recipients: [NotificationRecipient], context: [String: String], now: Date) throws {
        guard recipients.count > 1 else {
            if let recipient = recipients.first { try enqueue(kind, requestID: requestID, recipient: recipient, context: context, now: now) }
            return
        }
        let json = context.isEmpty ? "{}" : String(decoding: try JSONEncoder.sortedKeys.encode(context), as: UTF8.self)
        executeDeferred("""
            INSERT INTO outbox (kind, request_id, recipient, reason, created_at, next_attempt_at, context)
            SELECT \(kind.rawValue), \(requestID), r.recipient, r.reason, \(now), \(now), \(json)
            FROM unnest(\(recipients.map(\.email))::text[], \(recipients.map(\.reason))::text[]) WITH ORDINALITY AS r(recipient, reason, n)
            ORDER BY r.n
            """)
    }

    func notifiedRecipients(requestID: Int64) throws -> [String] {
        try values("""
            SELECT DISTINCT recipient COLLATE "C" AS recipient FROM outbox WHERE request_id = \(requestID) AND kind IN ('new_request', 'escalated')
            ORDER BY 1
            """, as: String.self)
    }

    func outboxEntry(messageID: String) throws -> OutboxEntry? {
        try row("SELECT * FROM outbox WHERE message_id = \(messageID)", table: "outbox").map(OutboxEntry.init(stored:))
    }

    func outboxEntry(id: Int64) throws -> OutboxEntry? {
        try row("SELECT * FROM outbox WHERE id = \(id)", table: "outbox").map(OutboxEntry.init(stored:))
    }

    func markOutboxBounced(id: Int64, reason: String, now: Date) throws {
        try execute("UPDATE outbox SET status = 'bounced', last_error = \(reason), lease_until = NULL WHERE id = \(id)")
    }

    func outboxEntries(requestID: Int64) throws -> [OutboxEntry] {
        try rows("SELECT * FROM outbox WHERE request_id = \(requestID) ORDER BY id", table: "outbox").map(OutboxEntry.init(stored:))
    }
}

extension OutboxEntry {
    /// An outbox row (`SELECT *`); an unreadable `context` reads as empty, as on SQLite.
    init(stored row: StoredRow) throws {
        let raw: Data? = try row("raw_message")
        self.init(
            id: try row("id"), kind: try row.decode(NotificationKind.self, "kind"), requestID: try row("request_id"),
            recipient: try row("recipient"), reason: try row("reason"), status: try row.decode(OutboxStatus.self, "status"),
            attempts: try row("attempts"), createdAt: try row("created_at"), nextAttemptAt: try row("next_attempt_at"),
            sentAt: try row("sent_at"), lastError: try row("last_error"), messageID: try row("message_id"),
            rawMessage: raw.map { [UInt8]($0) },
            context: try row.stringDictionary("context")
        )
    }
}
