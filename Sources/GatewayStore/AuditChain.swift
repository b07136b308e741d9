import Foundation
import GRDB
import GatewayApp
import GatewayCore

/// The audit log's hash chain (``AuditChainHash``) over SQLite: a record's hash covers `at` exactly
/// as GRDB stored it.
enum AuditChain {
    static let genesis = AuditChainHash.genesis

    static func hash(at: String, action: String, actor: String?, requestID: Int64?, channel: String?, outcome: String, reason: String?, detail: String, previous: String) -> String {
        AuditChainHash.hash(at: at, action: action, actor: actor, requestID: requestID, channel: channel, outcome: outcome, reason: reason, detail: detail, previous: previous)
    }

    /// The hash of a stored row, recomputed from its columns.
    static func hash(of row: Row, previous: String) -> String {
        hash(
            at: row["at"] as String, action: row["action"], actor: row["actor"], requestID: row["request_id"], channel: row["channel"],
            outcome: row["outcome"], reason: row["reason"], detail: row["detail"], previous: previous
        )
    }

    /// The hash of the newest record (the genesis hash when there is none).
    static func head(_ db: Database) throws -> String {
        try String.fetchOne(db, sql: "SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1") ?? genesis
    }

    /// Walks the chain in id order; the first record whose links or content do not match ends it.
    static func verify(_ db: Database) throws -> AuditChainReport {
        var previous = genesis
        var count = 0
        let rows = try Row.fetchCursor(db, sql: "SELECT id, CAST(at AS TEXT) AS at, action, actor, request_id, channel, outcome, reason, detail, prev_hash, hash FROM audit_log ORDER BY id")
        while let row = try rows.next() {
            let id: Int64 = row["id"]
            guard (row["prev_hash"] as String?) == previous else {
                return AuditChainReport(records: count, firstBroken: .init(id: id, problem: "its previous-record hash does not match the record before it (a record was removed, inserted or reordered)"))
            }
            let expected = hash(of: row, previous: previous)
            guard (row["hash"] as String?) == expected else {
                return AuditChainReport(records: count, firstBroken: .init(id: id, problem: "its content does not match its hash (the record was edited)"))
            }
            previous = expected
            count += 1
        }
        return AuditChainReport(records: count, firstBroken: nil)
    }

    /// Migration: adds the chain columns and links every existing record, oldest first.
    static func registerMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v7-audit-chain") { db in
            try db.execute(sql: """
                ALTER TABLE audit_log ADD COLUMN prev_hash TEXT;
                ALTER TABLE audit_log ADD COLUMN hash TEXT;
                DROP TRIGGER audit_log_no_update;
                """)
            var previous = genesis
            let rows = try Row.fetchAll(db, sql: "SELECT id, CAST(at AS TEXT) AS at, action, actor, request_id, channel, outcome, reason, detail FROM audit_log ORDER BY id")
            for row in rows {
                let hash = hash(of: row, previous: previous)
                try db.execute(sql: "UPDATE audit_log SET prev_hash = ?, hash = ? WHERE id = ?", arguments: [previous, hash, row["id"] as Int64])
                previous = hash
            }
            try db.execute(sql: """
                -- AUDIT-1: the audit log is append-only.
                CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
                    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
                """)
        }
    }
}
