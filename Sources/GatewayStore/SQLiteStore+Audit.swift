import Foundation
import GRDB
import GatewayApp
import GatewayCore

extension AuditEntry {
    init(row: Row) throws {
        let detail: String = row["detail"]
        self.init(
            id: row["id"], at: row["at"], action: try decode(AuditAction.self, row, "action"), actor: row["actor"],
            requestID: row["request_id"],
            channel: try (row["channel"] as String?).map { raw in
                guard let channel = DecisionChannel(rawValue: raw) else { throw UnreadableValue(column: "channel", value: raw) }
                return channel
            },
            outcome: try decode(AuditOutcome.self, row, "outcome"), reason: row["reason"],
            detail: (try? JSONDecoder().decode([String: String].self, from: Data(detail.utf8))) ?? [:]
        )
    }
}
