import Foundation

/// The tables of an installation in an order that keeps every foreign key satisfied while they
/// are copied from one backend to another (`db copy`). Leases are left out: they belong to
/// running gateways, not to the installation.
public enum InstallationTables {
    public static let ordered = [
        "users", "groups", "group_members", "resources", "resource_approver_groups", "resource_escalation_groups",
        "access_requests", "request_approvals", "grants", "locks",
        "audit_log", "gateway_meta", "notification_preferences", "outbox", "usage", "used_tokens", "inbound_messages",
        "mailbox_state", "web_sessions", "web_used_tokens", "web_rate_limits", "api_keys", "inbox_answers",
    ]
}

/// One stored value as it leaves a backend: the few kinds every backend can hold. Instants leave
/// as text in the audit chain's form (``AuditChainHash/instantText(_:)``), so the chain verifies
/// wherever the rows land.
public enum CopiedValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case bytes([UInt8])
}

/// A batch of rows of one table, with the column names in the order of each row's values.
public struct CopiedRows: Sendable {
    public var table: String
    public var columns: [String]
    public var rows: [[CopiedValue]]

    public init(table: String, columns: [String], rows: [[CopiedValue]]) {
        self.table = table
        self.columns = columns
        self.rows = rows
    }
}
