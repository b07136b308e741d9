import Foundation
import GatewayApp
import GatewayCore
import PostgresNIO

extension PostgresTransaction: InboxRepository {
    func inboundOutcome(key: String) throws -> InboxOutcome? {
        guard let row = try row("SELECT outcome, reason FROM inbound_messages WHERE message_key = \(key)", table: "inbound_messages") else {
            return nil
        }
        return try InboxOutcome(disposition: row("outcome"), reason: row("reason"))
    }

    func insertInbound(_ record: InboundRecord, now: Date) throws {
        let evidence = String(decoding: try JSONEncoder.sortedKeys.encode(record.evidence), as: UTF8.self)
        try execute("""
            INSERT INTO inbound_messages (message_key, message_id, mailbox, uid_validity, uid, sender, request_id, reviewer, outcome, reason, verdicts, processed_at)
            VALUES (\(record.key), \(record.messageID), \(record.mailbox), \(Int64(record.uidValidity)), \(Int64(record.uid)), \(record.sender),
                    \(record.requestID), \(record.reviewer), \(record.outcome.disposition.rawValue), \(record.outcome.reason), \(evidence), \(now))
            """)
    }

    func recordAnswer(to reviewer: String, requestID: Int64, kind: NotificationKind, now: Date) throws {
        try execute("""
            INSERT INTO inbox_answers (reviewer, request_id, kind, at)
            VALUES (\(EmailAddress.normalize(reviewer)), \(requestID), \(kind.rawValue), \(now))
            """)
    }

    func answerCount(to reviewer: String, kinds: Set<NotificationKind>, requestID: Int64?, since: Date?) throws -> Int {
        guard !kinds.isEmpty else { return 0 }
        var binds = PostgresBindings()
        binds.append(EmailAddress.normalize(reviewer))
        var sql = "SELECT count(*) FROM inbox_answers WHERE reviewer = $\(binds.count)"
        binds.append(kinds.map(\.rawValue).sorted())
        sql += " AND kind = ANY($\(binds.count))"
        if let requestID {
            binds.append(requestID)
            sql += " AND request_id = $\(binds.count)"
        }
        if let since {
            binds.append(since)
            sql += " AND at > $\(binds.count)"
        }
        return try value(PostgresQuery(unsafeSQL: sql, binds: binds), as: Int.self) ?? 0
    }
}

extension InboundRecord {
    /// An `inbound_messages` row (`SELECT *`); an unreadable `verdicts` reads as empty, as on SQLite.
    init(stored row: StoredRow) throws {
        self.init(
            key: try row("message_key"), messageID: try row("message_id"), mailbox: try row("mailbox"),
            uidValidity: try row.uint32("uid_validity"), uid: try row.uint32("uid"), sender: try row("sender"),
            requestID: try row("request_id"), reviewer: try row("reviewer"),
            outcome: try InboxOutcome(disposition: row("outcome"), reason: row("reason")),
            evidence: try row.stringDictionary("verdicts")
        )
    }
}

extension StoredRow {
    /// A `BIGINT` column holding an IMAP `UInt32` (UIDVALIDITY, UID); a value out of range is an
    /// ``UnreadableValue``.
    fileprivate func uint32(_ column: String) throws -> UInt32 {
        let stored: Int64 = try self(column)
        guard let value = UInt32(exactly: stored) else {
            throw UnreadableValue(table: table, rowID: rowID, column: column, value: String(stored))
        }
        return value
    }
}
