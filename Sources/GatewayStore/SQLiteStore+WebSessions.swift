import Foundation
import GRDB
import GatewayCore

extension SQLiteStore: WebStore {
    public func createSession(idDigest: String, user: String, expiresAt: Date, evidence: [String: String], now: Date) async throws {
        try await pool.write { db in
            guard let userID = try db.userID(email: user) else {
                throw DirectoryEditError(.unknownUser, "\(EmailAddress.normalize(user)) is not a user of the directory")
            }
            // Expired sessions are pruned as new ones are made.
            try db.execute(sql: "DELETE FROM web_sessions WHERE expires_at <= ?", arguments: [now])
            try db.execute(
                sql: "INSERT INTO web_sessions (id_digest, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                arguments: [idDigest, userID, now, expiresAt]
            )
            try db.appendAudit(
                at: now, action: "sign_in", actor: EmailAddress.normalize(user), requestID: nil, channel: .web,
                outcome: "accepted", reason: nil, detail: evidence
            )
        }
    }

    public func session(idDigest: String, now: Date) async throws -> WebSession? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: """
                SELECT s.*, u.email FROM web_sessions s JOIN users u ON u.id = s.user_id
                WHERE s.id_digest = ? AND s.ended_at IS NULL AND s.expires_at > ? AND u.active
                """, arguments: [idDigest, now]).map { row in
                WebSession(idDigest: row["id_digest"], user: row["email"], createdAt: row["created_at"], expiresAt: row["expires_at"])
            }
        }
    }

    public func endSession(idDigest: String, now: Date) async throws {
        try await pool.write { db in
            guard let email = try String.fetchOne(db, sql: """
                SELECT u.email FROM web_sessions s JOIN users u ON u.id = s.user_id
                WHERE s.id_digest = ? AND s.ended_at IS NULL
                """, arguments: [idDigest]) else { return }
            try db.execute(sql: "UPDATE web_sessions SET ended_at = ? WHERE id_digest = ?", arguments: [now, idDigest])
            try db.appendAudit(at: now, action: "sign_out", actor: email, requestID: nil, channel: .web, outcome: "accepted", reason: nil, detail: [:])
        }
    }

    public func consumeSignInToken(nonceDigest: String, expiresAt: Date, now: Date) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM web_used_tokens WHERE expires_at <= ?", arguments: [now.addingTimeInterval(-86_400)])
            try db.execute(
                sql: "INSERT OR IGNORE INTO web_used_tokens (nonce_digest, used_at, expires_at) VALUES (?, ?, ?)",
                arguments: [nonceDigest, now, expiresAt]
            )
            return db.changesCount == 1
        }
    }

    public func isTokenUsed(nonceDigest: String) async throws -> Bool {
        try await pool.read { db in
            try Bool.fetchOne(db, sql: """
                SELECT EXISTS (SELECT 1 FROM web_used_tokens WHERE nonce_digest = ?)
                    OR EXISTS (SELECT 1 FROM used_tokens WHERE nonce_digest = ?)
                """, arguments: [nonceDigest, nonceDigest]) ?? false
        }
    }

    public func allowAttempt(bucket: String, limit: Int, window: TimeInterval, now: Date) async throws -> Bool {
        try await pool.write { db in
            let since = now.addingTimeInterval(-window)
            try db.execute(sql: "DELETE FROM web_rate_limits WHERE bucket = ? AND at <= ?", arguments: [bucket, since])
            let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM web_rate_limits WHERE bucket = ?", arguments: [bucket]) ?? 0
            guard count < limit else { return false }
            try db.execute(sql: "INSERT INTO web_rate_limits (bucket, at) VALUES (?, ?)", arguments: [bucket, now])
            return true
        }
    }

    public func webSecret() async throws -> [UInt8] {
        try await pool.write { db in
            if let text = try String.fetchOne(db, sql: "SELECT value FROM gateway_meta WHERE key = 'web_secret'"),
               let data = Data(base64Encoded: text), data.count >= 32 {
                return [UInt8](data)
            }
            var generator = SystemRandomNumberGenerator()
            let secret = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
            try db.execute(
                sql: "INSERT INTO gateway_meta (key, value) VALUES ('web_secret', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                arguments: [Data(secret).base64EncodedString()]
            )
            return secret
        }
    }

    public func createAPIKey(name: String, actor: String?, keyDigest: String, now: Date) async throws -> APIKeyRecord {
        try await pool.write { db in
            let actor = actor.map(EmailAddress.normalize)
            if let actor, try db.userID(email: actor) == nil {
                throw DirectoryEditError(.unknownUser, "\(actor) is not a user of the directory")
            }
            try db.execute(
                sql: "INSERT INTO api_keys (name, actor, key_digest, created_at) VALUES (?, ?, ?, ?)",
                arguments: [name, actor, keyDigest, now]
            )
            let id = db.lastInsertedRowID
            try db.appendAudit(
                at: now, action: "api_key_create", actor: actor, requestID: nil, channel: .cli, outcome: "accepted",
                reason: nil, detail: ["name": name, "key_id": String(id)]
            )
            return APIKeyRecord(id: id, name: name, actor: actor, createdAt: now, lastUsedAt: nil, revokedAt: nil)
        }
    }

    public func apiKey(digest: String, now: Date) async throws -> APIKeyRecord? {
        try await pool.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM api_keys WHERE key_digest = ? AND revoked_at IS NULL", arguments: [digest]) else {
                return nil
            }
            try db.execute(sql: "UPDATE api_keys SET last_used_at = ? WHERE id = ?", arguments: [now, row["id"] as Int64])
            return APIKeyRecord(id: row["id"], name: row["name"], actor: row["actor"], createdAt: row["created_at"], lastUsedAt: now, revokedAt: nil)
        }
    }

    public func appendAudit(
        action: String, actor: String?, requestID: Int64?, channel: DecisionChannel?, outcome: String, reason: String?,
        detail: [String: String], now: Date
    ) async throws {
        try await pool.write { db in
            try db.appendAudit(at: now, action: action, actor: actor, requestID: requestID, channel: channel, outcome: outcome, reason: reason, detail: detail)
        }
    }
}
