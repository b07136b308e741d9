import Foundation
import GatewayCore

/// What an integration key may do. No scope lets a key decide as someone else: decisions are made
/// by people, through a channel that proves who they are.
public enum APIScope: String, Sendable, Codable, CaseIterable, Hashable, Comparable {
    /// `GET /access`: whether a user may use a resource now.
    case accessRead = "access:read"
    /// `POST /usage`: report that a user used a resource (usage-based auto-lock).
    case usageWrite = "usage:write"
    /// Read every request.
    case requestsRead = "requests:read"
    /// Open (and cancel) requests *for* named requesters, e.g. a chat bot that authenticated them.
    case requestsCreate = "requests:create"
    /// Change groups' members and resources' approver groups.
    case directoryWrite = "directory:write"

    public static func < (lhs: APIScope, rhs: APIScope) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Parses a comma-separated list (`access:read,usage:write`).
    /// - Throws: ``APIKeyError`` naming the unknown scope.
    public static func parseList(_ text: String) throws(APIKeyError) -> Set<APIScope> {
        var scopes: Set<APIScope> = []
        for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            guard let scope = APIScope(rawValue: part) else {
                throw APIKeyError("unknown scope \"\(part)\" (scopes: \(APIScope.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            scopes.insert(scope)
        }
        guard !scopes.isEmpty else { throw APIKeyError("give at least one scope") }
        return scopes
    }
}

/// Whom a key acts for.
public enum APIKeyOwner: Sendable, Hashable {
    /// A personal key: acts only as this user, with the user's rights at the time of each call.
    case user(String)
    /// An integration key: acts as nobody, within these scopes.
    case integration(Set<APIScope>)
}

/// A bearer key of the JSON API, as stored: its SHA-256 digest only, never the key.
public struct APIKey: Sendable, Hashable, Identifiable {
    public var id: Int64
    /// A unique name chosen by whoever created it (`access-proxy`, `alice-laptop`).
    public var name: String
    public var owner: APIKeyOwner
    public var createdAt: Date
    public var lastUsedAt: Date?
    public var expiresAt: Date?
    public var revokedAt: Date?

    public init(id: Int64, name: String, owner: APIKeyOwner, createdAt: Date, lastUsedAt: Date? = nil, expiresAt: Date? = nil, revokedAt: Date? = nil) {
        self.id = id
        self.name = name
        self.owner = owner
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
    }

    /// The user a personal key acts as; `nil` for an integration key.
    public var user: String? {
        if case .user(let email) = owner { return email }
        return nil
    }

    /// The scopes of an integration key; empty for a personal key.
    public var scopes: Set<APIScope> {
        if case .integration(let scopes) = owner { return scopes }
        return []
    }

    /// How the audit log names the key's actor: the user, or `api-key:NAME`.
    public var auditActor: String { user ?? "api-key:\(name)" }

    /// Whether the key may be used at `now`.
    public func isUsable(at now: Date) -> Bool {
        revokedAt == nil && (expiresAt.map { now < $0 } ?? true)
    }
}

/// A key could not be created or revoked.
public struct APIKeyError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
