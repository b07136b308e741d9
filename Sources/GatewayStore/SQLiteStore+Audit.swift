import Foundation
import GRDB
import GatewayApp
import GatewayCore

extension AuditEntry {
    init(row: Row) throws {
        let detail: String = row["detail"]
        self.init(
            id: row["id"], at: row["at"], action: try decode(AuditAction.self, row, "action", table: "audit_log"), actor: row["actor"],
            requestID: row["request_id"], channel: try decodeIfPresent(DecisionChannel.self, row, "channel", table: "audit_log"),
            outcome: try decode(AuditOutcome.self, row, "outcome", table: "audit_log"), reason: row["reason"],
            detail: (try? JSONDecoder().decode([String: String].self, from: Data(detail.utf8))) ?? [:],
            previousHash: row["prev_hash"], hash: row["hash"]
        )
    }
}

extension SQLiteStore {
    public func verifyAuditChain() async throws -> AuditChainReport {
        try await pool.read { db in try AuditChain.verify(db) }
    }
}
