import Foundation
import GRDB
import GatewayCore

extension SQLiteStore: InboxStore {
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

    public func mailboxState(_ mailbox: String) async throws -> (uidValidity: UInt32, lastUID: UInt32)? {
        try await pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT uid_validity, last_uid FROM mailbox_state WHERE mailbox = ?", arguments: [mailbox]) else {
                return nil
            }
            return (UInt32(row["uid_validity"] as Int64), UInt32(row["last_uid"] as Int64))
        }
    }

    public func saveMailboxState(_ mailbox: String, uidValidity: UInt32, lastUID: UInt32) async throws {
        try await pool.write { db in
            try db.execute(sql: """
                INSERT INTO mailbox_state (mailbox, uid_validity, last_uid, updated_at) VALUES (?, ?, ?, ?)
                ON CONFLICT(mailbox) DO UPDATE SET uid_validity = excluded.uid_validity, last_uid = excluded.last_uid, updated_at = excluded.updated_at
                """, arguments: [mailbox, Int64(uidValidity), Int64(lastUID), Date()])
        }
    }

    public func recordInbound(
        _ message: InboundMessage, attempt: DecisionAttempt?, limits: AnswerLimits,
        answer: @Sendable (DecisionOutcome?) -> ReplyAnswer?, now: Date
    ) async throws -> InboundResult {
        try await pool.write { db in
            if let row = try Row.fetchOne(db, sql: "SELECT outcome, reason FROM inbound_messages WHERE message_key = ?", arguments: [message.key]) {
                return .duplicate(outcome: row["outcome"], reason: row["reason"])
            }
            var recorded = message
            var decision: DecisionOutcome?
            if let attempt {
                let outcome = try Self.decide(attempt, now: now, db: db)
                decision = outcome
                switch outcome {
                case .decided:
                    recorded.outcome = "decided"
                    recorded.reason = attempt.action.rawValue
                case .refused(let refusal, _):
                    recorded.outcome = "refused"
                    recorded.reason = refusal.code.rawValue
                }
            }
            var answered = false
            if let reply = answer(decision), try Self.mayAnswer(reply, limits: limits, now: now, db: db) {
                try db.enqueue(reply.kind, requestID: reply.requestID, recipient: NotificationRecipient(email: reply.recipient, reason: "reviewer"), context: reply.context, now: now)
                answered = true
            }
            let verdicts = String(decoding: try JSONEncoder.sorted.encode(recorded.verdicts), as: UTF8.self)
            try db.execute(sql: """
                INSERT INTO inbound_messages (message_key, message_id, mailbox, uid_validity, uid, sender, request_id, reviewer, outcome, reason, verdicts, processed_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [
                    recorded.key, recorded.messageID, recorded.mailbox, Int64(recorded.uidValidity), Int64(recorded.uid), recorded.sender,
                    recorded.requestID, recorded.reviewer, recorded.outcome, recorded.reason, verdicts, now,
                ])
            var detail = recorded.verdicts
            detail["message_id"] = recorded.messageID ?? "(none)"
            detail["answered"] = String(answered)
            if let sender = recorded.sender { detail["from"] = sender }
            try db.appendAudit(
                at: now, action: "inbound", actor: recorded.reviewer ?? recorded.sender, requestID: recorded.requestID,
                channel: .reply, outcome: recorded.outcome, reason: recorded.reason, detail: detail
            )
            return .recorded(decision: decision, answered: answered)
        }
    }

    /// LOOP-3, LOOP-4: a few answers per reviewer per hour, and one refusal per reviewer and request.
    static func mayAnswer(_ reply: ReplyAnswer, limits: AnswerLimits, now: Date, db: Database) throws -> Bool {
        let lastHour = try Int.fetchOne(db, sql: """
            SELECT count(*) FROM outbox WHERE recipient = ? AND kind IN ('reply_confirmation', 'reply_refusal') AND created_at > ?
            """, arguments: [reply.recipient, now.addingTimeInterval(-3600)]) ?? 0
        guard lastHour < limits.perReviewerPerHour else { return false }
        if reply.kind == .replyRefusal {
            let earlier = try Int.fetchOne(db, sql: """
                SELECT count(*) FROM outbox WHERE recipient = ? AND kind = 'reply_refusal' AND request_id = ?
                """, arguments: [reply.recipient, reply.requestID]) ?? 0
            guard earlier < limits.refusalsPerReviewerAndRequest else { return false }
        }
        return true
    }

    /// Inbound messages, newest first (for operators and tests).
    public func inboundMessages(limit: Int) async throws -> [InboundMessage] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM inbound_messages ORDER BY id DESC LIMIT ?", arguments: [limit]).map { row in
                let verdicts: String = row["verdicts"]
                return InboundMessage(
                    key: row["message_key"], messageID: row["message_id"], mailbox: row["mailbox"],
                    uidValidity: UInt32(row["uid_validity"] as Int64), uid: UInt32(row["uid"] as Int64), sender: row["sender"],
                    requestID: row["request_id"], reviewer: row["reviewer"], outcome: row["outcome"], reason: row["reason"],
                    verdicts: (try? JSONDecoder().decode([String: String].self, from: Data(verdicts.utf8))) ?? [:]
                )
            }
        }
    }

    /// The outbox entry whose rendered email had `messageID` (for replies that lost their reply address).
    public func outboxEntry(messageID: String) async throws -> OutboxEntry? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM outbox WHERE message_id = ?", arguments: [messageID]).map(OutboxEntry.init(row:))
        }
    }
}
