import Foundation
import GatewayCore

/// A key just created: the secret is shown once and never stored.
public struct CreatedAPIKey: Sendable, Hashable {
    public var key: APIKey
    public var secret: String
}

extension ApprovalService {
    /// Creates an API key (the operator's command). A personal key belongs to an active user; an
    /// integration key carries at least one scope. Audited.
    /// - Throws: ``APIKeyError`` for a bad name, an unknown user, a name in use or no scope.
    public func createAPIKey(name: String, owner: APIKeyOwner, expiresAt: Date?) async throws -> CreatedAPIKey {
        let name = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, name.count <= 100, !name.contains(where: \.isNewline) else { throw APIKeyError("the key's name must be 1 to 100 characters on one line") }
        let now = self.now
        if let expiresAt, expiresAt <= now { throw APIKeyError("the key would expire before it is used") }
        var owner = owner
        switch owner {
        case .user(let email):
            owner = .user(EmailAddress.normalize(email))
        case .integration(let scopes):
            guard !scopes.isEmpty else { throw APIKeyError("an integration key needs at least one scope") }
        }
        let generated = Secrets.newAPIKey()
        let key: APIKey = try await storage.write { [owner] tx in
            if case .user(let email) = owner {
                guard let user = try tx.user(email: email), user.isActive else { throw APIKeyError("\(email) is not an active user of the directory") }
            }
            guard try tx.apiKey(name: name) == nil else { throw APIKeyError("a key named \"\(name)\" exists already (names are unique; revoke it first or choose another)") }
            let key = try tx.insertAPIKey(name: name, owner: owner, digest: generated.digest, expiresAt: expiresAt, now: now)
            var detail = ["name": name, "key_id": String(key.id)]
            switch owner {
            case .user(let email): detail["user"] = email
            case .integration(let scopes): detail["scopes"] = scopes.sorted().map(\.rawValue).joined(separator: ",")
            }
            if let expiresAt { detail["expires_at"] = RFC3339.string(from: expiresAt) }
            try tx.audit(.apiKeyCreate, .accepted, actor: nil, channel: .cli, detail: detail, at: now)
            return key
        }
        return CreatedAPIKey(key: key, secret: generated.key)
    }

    /// Every key, newest first (never a secret).
    public func apiKeys() async throws -> [APIKey] {
        try await storage.read { try $0.apiKeys() }.sorted { $0.id > $1.id }
    }

    /// Revokes the key named `name` now, audited; it gets `401` from the next call on.
    /// - Throws: ``APIKeyError`` when there is no such key or it was revoked already.
    public func revokeAPIKey(name: String) async throws -> APIKey {
        let now = self.now
        return try await storage.write { tx in
            guard var key = try tx.apiKey(name: name) else { throw APIKeyError("there is no API key named \"\(name)\"") }
            guard key.revokedAt == nil else { throw APIKeyError("the API key \"\(name)\" was already revoked") }
            try tx.revokeAPIKey(id: key.id, now: now)
            try tx.audit(.apiKeyRevoke, .accepted, actor: nil, channel: .cli, detail: ["name": name, "key_id": String(key.id)], at: now)
            key.revokedAt = now
            return key
        }
    }

    /// The key a bearer secret names, if it is usable now (not revoked, not expired, and a
    /// personal key's user still active); its use is noted, to the minute. `nil` means `401`.
    public func authenticateAPIKey(_ secret: String) async throws -> APIKey? {
        guard secret.utf8.count >= 20, secret.utf8.count <= 200 else { return nil }
        let digest = Secrets.sha256Hex(secret)
        let now = self.now
        let found = try await storage.read { tx -> APIKey? in
            guard let key = try tx.apiKey(digest: digest), key.isUsable(at: now) else { return nil }
            if let user = key.user {
                guard let current = try tx.user(email: user), current.isActive else { return nil }
            }
            return key
        }
        guard var key = found else { return nil }
        // Noting every call would make each API read a write, and put every call in the line of
        // writes: the last use is kept to the minute.
        if key.lastUsedAt.map({ now.timeIntervalSince($0) >= Self.apiKeyUseResolution }) ?? true {
            let id = key.id
            try await storage.write { tx in try tx.markAPIKeyUsed(id: id, now: now) }
            key.lastUsedAt = now
        }
        return key
    }

    /// How precisely an API key's last use is kept.
    static let apiKeyUseResolution: TimeInterval = 60
}
