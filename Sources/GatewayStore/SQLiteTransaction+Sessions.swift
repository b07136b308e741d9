import Foundation
import GRDB
import GatewayApp
import GatewayCore

extension SQLiteTransaction: SessionRepository {
    func isTokenUsed(nonceDigest: String) throws -> Bool {
        try Bool.fetchOne(db.cachedStatement(sql: """
            SELECT EXISTS (SELECT 1 FROM web_used_tokens WHERE nonce_digest = ?)
                OR EXISTS (SELECT 1 FROM used_tokens WHERE nonce_digest = ?)
            """), arguments: [nonceDigest, nonceDigest]) ?? false
    }

    func markTokenUsed(nonceDigest: String, requestID: Int64?, channel: DecisionChannel, expiresAt: Date, now: Date) throws -> Bool {
        guard try !isTokenUsed(nonceDigest: nonceDigest) else { return false }
        if let requestID {
            try db.execute(
                sql: "INSERT INTO used_tokens (nonce_digest, request_id, channel, used_at) VALUES (?, ?, ?, ?)",
                arguments: [nonceDigest, requestID, channel.rawValue, now]
            )
        } else {
            // Sign-in tokens are short-lived: their records are pruned a day after they expire.
            try db.execute(sql: "DELETE FROM web_used_tokens WHERE expires_at <= ?", arguments: [now.addingTimeInterval(-86_400)])
            try db.execute(
                sql: "INSERT INTO web_used_tokens (nonce_digest, used_at, expires_at) VALUES (?, ?, ?)",
                arguments: [nonceDigest, now, expiresAt]
            )
        }
        return true
    }

    func insertSession(idDigest: String, user: String, expiresAt: Date, now: Date) throws {
        guard let userID = try db.userID(email: user) else { throw StoreError("\(user) is not a user of the directory") }
        // Expired sessions are pruned as new ones are made.
        try db.execute(sql: "DELETE FROM web_sessions WHERE expires_at <= ?", arguments: [now])
        try db.execute(
            sql: "INSERT INTO web_sessions (id_digest, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
            arguments: [idDigest, userID, now, expiresAt]
        )
    }

    func session(idDigest: String, now: Date) throws -> WebSession? {
        try Row.fetchOne(db.cachedStatement(sql: """
            SELECT s.*, u.email FROM web_sessions s JOIN users u ON u.id = s.user_id
            WHERE s.id_digest = ? AND s.ended_at IS NULL AND s.expires_at > ? AND u.active
            """), arguments: [idDigest, StoredInstant.value(now)]).map { row in
            WebSession(
                idDigest: row["id_digest"], user: row["email"],
                createdAt: try required(row.instant("created_at"), "created_at"), expiresAt: try required(row.instant("expires_at"), "expires_at")
            )
        }
    }

    /// A session's instant, which the schema never leaves empty.
    private func required(_ instant: Date?, _ column: String) throws -> Date {
        guard let instant else { throw StoreError("web_sessions.\(column) is empty") }
        return instant
    }

    func signedInFacts(idDigest: String, now: Date) throws -> SignedInFacts? {
        guard let session = try session(idDigest: idDigest, now: now), let user = try db.fetchUser(email: session.user), user.isActive else { return nil }
        return SignedInFacts(user: user, groups: try db.groupNames(of: user.email), resources: try db.fetchResources())
    }

    func endSession(idDigest: String, now: Date) throws -> String? {
        guard let email = try String.fetchOne(db.cachedStatement(sql: """
            SELECT u.email FROM web_sessions s JOIN users u ON u.id = s.user_id
            WHERE s.id_digest = ? AND s.ended_at IS NULL
            """), arguments: [idDigest]) else { return nil }
        try db.execute(sql: "UPDATE web_sessions SET ended_at = ? WHERE id_digest = ?", arguments: [now, idDigest])
        return email
    }

    func attemptCount(bucket: String, since: Date) throws -> Int {
        try db.execute(sql: "DELETE FROM web_rate_limits WHERE bucket = ? AND at <= ?", arguments: [bucket, since])
        return try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM web_rate_limits WHERE bucket = ?"), arguments: [bucket]) ?? 0
    }

    func recordAttempt(bucket: String, now: Date) throws {
        try db.execute(sql: "INSERT INTO web_rate_limits (bucket, at) VALUES (?, ?)", arguments: [bucket, now])
    }
}

extension SQLiteTransaction: APIKeyRepository {
    func insertAPIKey(name: String, owner: APIKeyOwner, digest: String, expiresAt: Date?, now: Date) throws -> APIKey {
        let (user, scopes) = Self.columns(of: owner)
        try db.execute(
            sql: "INSERT INTO api_keys (name, actor, scopes, key_digest, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [name, user, scopes, digest, now, expiresAt]
        )
        return APIKey(id: db.lastInsertedRowID, name: name, owner: owner, createdAt: now, expiresAt: expiresAt)
    }

    func apiKey(digest: String) throws -> APIKey? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM api_keys WHERE key_digest = ?"), arguments: [digest]).map(APIKey.init(row:))
    }

    func apiKey(name: String) throws -> APIKey? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM api_keys WHERE name = ? AND revoked_at IS NULL ORDER BY id DESC LIMIT 1"), arguments: [name])
            .map(APIKey.init(row:))
    }

    func apiKeys() throws -> [APIKey] {
        try Array(Row.fetchCursor(db.cachedStatement(sql: "SELECT * FROM api_keys ORDER BY id")).map(APIKey.init(row:)))
    }

    func markAPIKeyUsed(id: Int64, now: Date) throws {
        try db.execute(sql: "UPDATE api_keys SET last_used_at = ? WHERE id = ?", arguments: [now, id])
    }

    func revokeAPIKey(id: Int64, now: Date) throws {
        try db.execute(sql: "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", arguments: [now, id])
    }

    /// A key's owner as stored: the user in `actor`, or the scopes, comma-separated.
    static func columns(of owner: APIKeyOwner) -> (user: String?, scopes: String) {
        switch owner {
        case .user(let email): (EmailAddress.normalize(email), "")
        case .integration(let scopes): (nil, scopes.sorted().map(\.rawValue).joined(separator: ","))
        }
    }
}

extension APIKey {
    init(row: Row) throws {
        let owner: APIKeyOwner
        if let user: String = row["actor"] {
            owner = .user(user)
        } else {
            let text: String = row["scopes"]
            var scopes: Set<APIScope> = []
            for part in text.split(separator: ",") {
                guard let scope = APIScope(rawValue: String(part)) else {
                    throw UnreadableValue(table: "api_keys", rowID: row["id"], column: "scopes", value: String(part))
                }
                scopes.insert(scope)
            }
            owner = .integration(scopes)
        }
        self.init(
            id: row["id"], name: row["name"], owner: owner, createdAt: row["created_at"], lastUsedAt: row["last_used_at"],
            expiresAt: row["expires_at"], revokedAt: row["revoked_at"]
        )
    }
}
