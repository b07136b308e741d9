import Foundation
import GatewayCore

/// Where commands write: JSON lines on standard output, messages for people on standard error.
enum Output {
    static func json(_ value: JSONValue) {
        print(value.serialized())
    }

    static func error(_ message: String) {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    }

    static func note(_ message: String) {
        FileHandle.standardError.write(Data("\(message)\n".utf8))
    }
}

extension AccessRequest {
    /// The request as every interface prints it: RFC 3339 times, `null` where not set.
    var json: JSONValue {
        .object([
            ("id", .number(id)),
            ("kind", .string(kind.rawValue)),
            ("status", .string(state.rawValue)),
            ("requester", .string(requester)),
            ("resource", .string(resource)),
            ("reason", .string(reason)),
            ("duration_seconds", .number(durationSeconds)),
            ("created_at", .string(RFC3339.string(from: createdAt))),
            ("expires_at", .string(RFC3339.string(from: expiresAt))),
            ("decided_at", .string(decision.map { RFC3339.string(from: $0.decidedAt) })),
            ("decided_by", .string(decision?.reviewer)),
            ("decision", .string(decision?.action.rawValue)),
            ("channel", .string(decision?.channel.rawValue)),
            ("comment", .string(decision?.comment)),
            ("resolved_at", .string(resolvedAt.map(RFC3339.string(from:)))),
        ])
    }
}

extension Grant {
    var json: JSONValue {
        .object([
            ("request_id", .number(requestID)),
            ("user", .string(user)),
            ("resource", .string(resource)),
            ("starts_at", .string(RFC3339.string(from: startsAt))),
            ("ends_at", .string(RFC3339.string(from: endsAt))),
        ])
    }
}

extension DirectorySyncReport {
    var json: JSONValue {
        .object([
            ("users_added", .number(usersAdded)), ("users_updated", .number(usersUpdated)),
            ("users_deactivated", .number(usersDeactivated)),
            ("groups_added", .number(groupsAdded)), ("groups_updated", .number(groupsUpdated)),
            ("groups_removed", .number(groupsRemoved)),
            ("resources_added", .number(resourcesAdded)), ("resources_updated", .number(resourcesUpdated)),
            ("resources_deactivated", .number(resourcesDeactivated)),
        ])
    }
}
