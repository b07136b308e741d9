import Foundation
import GRDB
import GatewayCore

extension Database {
    /// Appends one audit record (AUDIT-1). The table rejects updates and deletes.
    func appendAudit(
        at: Date, action: String, actor: String?, requestID: Int64?, channel: DecisionChannel?,
        outcome: String, reason: String?, detail: [String: String]
    ) throws {
        let json = String(decoding: try JSONEncoder.sorted.encode(detail), as: UTF8.self)
        try execute(sql: """
            INSERT INTO audit_log (at, action, actor, request_id, channel, outcome, reason, detail)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [at, action, actor, requestID, channel?.rawValue, outcome, reason, json])
    }
}

extension SQLiteStore {
    public func auditLog(requestID: Int64?) async throws -> [AuditEntry] {
        try await pool.read { db in
            let rows = try requestID.map {
                try Row.fetchAll(db, sql: "SELECT * FROM audit_log WHERE request_id = ? ORDER BY id", arguments: [$0])
            } ?? Row.fetchAll(db, sql: "SELECT * FROM audit_log ORDER BY id")
            return rows.map { row in
                let detail: String = row["detail"]
                return AuditEntry(
                    id: row["id"], at: row["at"], action: row["action"], actor: row["actor"], requestID: row["request_id"],
                    channel: (row["channel"] as String?).flatMap(DecisionChannel.init(rawValue:)),
                    outcome: row["outcome"], reason: row["reason"],
                    detail: (try? JSONDecoder().decode([String: String].self, from: Data(detail.utf8))) ?? [:]
                )
            }
        }
    }
}
