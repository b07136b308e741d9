import Foundation
import GatewayCore

/// One audit record as exported (`audit export`): JSON lines a SIEM can ingest and re-verify.
public struct AuditRecordJSON: Codable, Sendable, Hashable {
    public var id: Int64
    public var at: String
    public var action: AuditAction
    public var actor: String?
    public var requestID: Int64?
    public var channel: DecisionChannel?
    public var outcome: AuditOutcome
    public var reason: String?
    public var detail: [String: String]
    public var previousHash: String?
    public var hash: String?

    public init(_ entry: AuditEntry) {
        id = entry.id
        at = RFC3339.string(from: entry.at)
        action = entry.action
        actor = entry.actor
        requestID = entry.requestID
        channel = entry.channel
        outcome = entry.outcome
        reason = entry.reason
        detail = entry.detail
        previousHash = entry.previousHash
        hash = entry.hash
    }

    enum CodingKeys: String, CodingKey {
        case id, at, action, actor, requestID = "request_id", channel, outcome, reason, detail, previousHash = "prev_hash", hash
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(at, forKey: .at)
        try container.encode(action, forKey: .action)
        try container.encode(actor, forKey: .actor)
        try container.encode(requestID, forKey: .requestID)
        try container.encode(channel, forKey: .channel)
        try container.encode(outcome, forKey: .outcome)
        try container.encode(reason, forKey: .reason)
        try container.encode(detail, forKey: .detail)
        try container.encode(previousHash, forKey: .previousHash)
        try container.encode(hash, forKey: .hash)
    }
}
