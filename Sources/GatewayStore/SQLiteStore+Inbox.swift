import Foundation
import GRDB
import GatewayApp
import GatewayCore

extension SQLiteStore {
    static func registerInboxMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v3-inbox") { db in
            try db.execute(sql: """
                -- One row per token nonce that decided something: single-use tokens (IMAP-2).
                CREATE TABLE used_tokens (
                    nonce_digest TEXT PRIMARY KEY,
                    request_id INTEGER NOT NULL REFERENCES access_requests(id),
                    channel TEXT NOT NULL,
                    used_at DATETIME NOT NULL
                );
                -- One row per inbound message, keyed by its normalised Message-ID (IMAP-1, IMAP-2).
                CREATE TABLE inbound_messages (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    message_key TEXT NOT NULL UNIQUE,
                    message_id TEXT,
                    mailbox TEXT NOT NULL,
                    uid_validity INTEGER NOT NULL,
                    uid INTEGER NOT NULL,
                    sender TEXT,
                    request_id INTEGER,
                    reviewer TEXT,
                    outcome TEXT NOT NULL,
                    reason TEXT,
                    verdicts TEXT NOT NULL DEFAULT '{}',
                    processed_at DATETIME NOT NULL
                );
                CREATE INDEX inbound_messages_request ON inbound_messages(request_id);
                CREATE TABLE mailbox_state (
                    mailbox TEXT PRIMARY KEY,
                    uid_validity INTEGER NOT NULL,
                    last_uid INTEGER NOT NULL,
                    updated_at DATETIME NOT NULL
                );
                CREATE INDEX outbox_recipient_kind ON outbox(recipient, kind, created_at);
                """)
        }
    }

    public func mailboxCursor(_ mailbox: String) async throws -> MailboxCursor? {
        try await pool.read { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT uid_validity, last_uid FROM mailbox_state WHERE mailbox = ?"), arguments: [mailbox]) else {
                return nil
            }
            return MailboxCursor(uidValidity: UInt32(row["uid_validity"] as Int64), lastUID: UInt32(row["last_uid"] as Int64))
        }
    }

    public func saveMailboxCursor(_ mailbox: String, _ cursor: MailboxCursor) async throws {
        try await pool.write { db in
            try db.execute(sql: """
                INSERT INTO mailbox_state (mailbox, uid_validity, last_uid, updated_at) VALUES (?, ?, ?, ?)
                ON CONFLICT(mailbox) DO UPDATE SET uid_validity = excluded.uid_validity, last_uid = excluded.last_uid, updated_at = excluded.updated_at
                """, arguments: [mailbox, Int64(cursor.uidValidity), Int64(cursor.lastUID), Date()])
        }
    }
}

extension SQLiteTransaction: InboxRepository {
    func inboundOutcome(key: String) throws -> InboxOutcome? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT outcome, reason FROM inbound_messages WHERE message_key = ?"), arguments: [key]) else {
            return nil
        }
        return try InboxOutcome(disposition: row["outcome"], reason: row["reason"])
    }

    func insertInbound(_ record: InboundRecord, now: Date) throws {
        let evidence = String(decoding: try JSONEncoder.sorted.encode(record.evidence), as: UTF8.self)
        try db.execute(sql: """
            INSERT INTO inbound_messages (message_key, message_id, mailbox, uid_validity, uid, sender, request_id, reviewer, outcome, reason, verdicts, processed_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [
                record.key, record.messageID, record.mailbox, Int64(record.uidValidity), Int64(record.uid), record.sender,
                record.requestID, record.reviewer, record.outcome.disposition.rawValue, record.outcome.reason, evidence, now,
            ])
    }

    func recordAnswer(to reviewer: String, requestID: Int64, kind: NotificationKind, now: Date) throws {
        try db.execute(
            sql: "INSERT INTO inbox_answers (reviewer, request_id, kind, at) VALUES (?, ?, ?, ?)",
            arguments: [EmailAddress.normalize(reviewer), requestID, kind.rawValue, now]
        )
    }

    func answerCount(to reviewer: String, kinds: Set<NotificationKind>, requestID: Int64?, since: Date?) throws -> Int {
        guard !kinds.isEmpty else { return 0 }
        var sql = "SELECT count(*) FROM inbox_answers WHERE reviewer = ? AND kind IN (\(kinds.map { _ in "?" }.joined(separator: ", ")))"
        var arguments: StatementArguments = [EmailAddress.normalize(reviewer)]
        arguments += StatementArguments(texts: kinds.map(\.rawValue).sorted())
        if let requestID {
            sql += " AND request_id = ?"
            arguments += [requestID]
        }
        if let since {
            sql += " AND at > ?"
            arguments += [since]
        }
        return try Int.fetchOne(db, sql: sql, arguments: arguments) ?? 0
    }
}

extension InboundRecord {
    init(row: Row) throws {
        let evidence: String = row["verdicts"]
        self.init(
            key: row["message_key"], messageID: row["message_id"], mailbox: row["mailbox"],
            uidValidity: UInt32(row["uid_validity"] as Int64), uid: UInt32(row["uid"] as Int64), sender: row["sender"],
            requestID: row["request_id"], reviewer: row["reviewer"], outcome: try InboxOutcome(disposition: row["outcome"], reason: row["reason"]),
            evidence: (try? JSONDecoder().decode([String: String].self, from: Data(evidence.utf8))) ?? [:]
        )
    }
}
