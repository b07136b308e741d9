import Foundation
import GatewayApp
import GatewayCore
import PostgresNIO

extension PostgresTransaction: SessionRepository {
    func isTokenUsed(nonceDigest: String) throws -> Bool {
        try value("""
            SELECT EXISTS (SELECT 1 FROM web_used_tokens WHERE nonce_digest = \(nonceDigest))
                OR EXISTS (SELECT 1 FROM used_tokens WHERE nonce_digest = \(nonceDigest))
            """, as: Bool.self) ?? false
    }

    /// Records the nonce in `used_tokens` (a decision) or `web_used_tokens` (a sign-in). The insert
    /// itself decides who used the token first: of two gateways marking the same nonce, only one
    /// inserts a row, and the other is told the token was used.
    func markTokenUsed(nonceDigest: String, requestID: Int64?, channel: DecisionChannel, expiresAt: Date, now: Date) throws -> Bool {
        guard try !isTokenUsed(nonceDigest: nonceDigest) else { return false }
        if let requestID {
            return try execute("""
                INSERT INTO used_tokens (nonce_digest, request_id, channel, used_at)
                VALUES (\(nonceDigest), \(requestID), \(channel.rawValue), \(now))
                ON CONFLICT DO NOTHING
                """) == 1
        } else {
            // Sign-in tokens are short-lived: their records are pruned a day after they expire.
            try execute("DELETE FROM web_used_tokens WHERE expires_at <= \(now.addingTimeInterval(-86_400))")
            return try execute("""
                INSERT INTO web_used_tokens (nonce_digest, used_at, expires_at) VALUES (\(nonceDigest), \(now), \(expiresAt))
                ON CONFLICT DO NOTHING
                """) == 1
        }
    }

    func insertSession(idDigest: String, user: String, expiresAt: Date, now: Date) throws {
        guard let userID = try userID(email: user) else { throw PostgresStoreError("\(user) is not a user of the directory") }
        // Expired sessions are pruned as new ones are made.
        try execute("DELETE FROM web_sessions WHERE expires_at <= \(now)")
        try execute("""
            INSERT INTO web_sessions (id_digest, user_id, created_at, expires_at) VALUES (\(idDigest), \(userID), \(now), \(expiresAt))
            """)
    }

    func session(idDigest: String, now: Date) throws -> WebSession? {
        try row("""
            SELECT s.*, u.email FROM web_sessions s JOIN users u ON u.id = s.user_id
            WHERE s.id_digest = \(idDigest) AND s.ended_at IS NULL AND s.expires_at > \(now) AND u.active
            """, table: "web_sessions").map { row in
            WebSession(idDigest: try row("id_digest"), user: try row("email"), createdAt: try row("created_at"), expiresAt: try row("expires_at"))
        }
    }

    /// Two queries queued together, one wait: the session with its user and the user's groups, and
    /// every resource with its groups.
    func signedInFacts(idDigest: String, now: Date) throws -> SignedInFacts? {
        let answers = try session.rows([
            """
            SELECT u.*, ARRAY(SELECT g.name FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.user_id = u.id) AS group_names
            FROM web_sessions s JOIN users u ON u.id = s.user_id
            WHERE s.id_digest = \(idDigest) AND s.ended_at IS NULL AND s.expires_at > \(now) AND u.active
            """,
            "\(unescaped: Self.resourceSelect) ORDER BY r.name COLLATE \"C\"",
        ])
        guard let row = answers[0].first.map({ StoredRow($0, table: "users") }) else { return nil }
        let user = try User(stored: row)
        let groups: [String] = try row("group_names")
        let resources = try answers[1].map { try Self.resource(from: StoredRow($0, table: "resources")) }
        return SignedInFacts(user: user, groups: Set(groups), resources: resources)
    }

    func endSession(idDigest: String, now: Date) throws -> String? {
        guard let email = try value("""
            SELECT u.email FROM web_sessions s JOIN users u ON u.id = s.user_id
            WHERE s.id_digest = \(idDigest) AND s.ended_at IS NULL
            """, as: String.self) else { return nil }
        try execute("UPDATE web_sessions SET ended_at = \(now) WHERE id_digest = \(idDigest)")
        return email
    }

    func attemptCount(bucket: String, since: Date) throws -> Int {
        try execute("DELETE FROM web_rate_limits WHERE bucket = \(bucket) AND at <= \(since)")
        return try value("SELECT count(*) FROM web_rate_limits WHERE bucket = \(bucket)", as: Int.self) ?? 0
    }

    func recordAttempt(bucket: String, now: Date) throws {
        try execute("INSERT INTO web_rate_limits (bucket, at) VALUES (\(bucket), \(now))")
    }
}

extension PostgresTransaction: APIKeyRepository {
    func insertAPIKey(name: String, owner: APIKeyOwner, digest: String, expiresAt: Date?, now: Date) throws -> APIKey {
        let (user, scopes) = Self.columns(of: owner)
        guard let id = try value("""
            INSERT INTO api_keys (name, actor, scopes, key_digest, created_at, expires_at)
            VALUES (\(name), \(user), \(scopes), \(digest), \(now), \(expiresAt))
            RETURNING id
            """, as: Int64.self) else {
            throw PostgresStoreError("the API key \(name) could not be stored")
        }
        return APIKey(id: id, name: name, owner: owner, createdAt: now, expiresAt: expiresAt)
    }

    func apiKey(digest: String) throws -> APIKey? {
        try row("SELECT * FROM api_keys WHERE key_digest = \(digest)", table: "api_keys").map(APIKey.init(stored:))
    }

    func apiKey(name: String) throws -> APIKey? {
        try row("SELECT * FROM api_keys WHERE name = \(name) AND revoked_at IS NULL ORDER BY id DESC LIMIT 1", table: "api_keys")
            .map(APIKey.init(stored:))
    }

    func apiKeys() throws -> [APIKey] {
        try rows("SELECT * FROM api_keys ORDER BY id", table: "api_keys").map(APIKey.init(stored:))
    }

    func markAPIKeyUsed(id: Int64, now: Date) throws {
        try execute("UPDATE api_keys SET last_used_at = \(now) WHERE id = \(id)")
    }

    func revokeAPIKey(id: Int64, now: Date) throws {
        try execute("UPDATE api_keys SET revoked_at = \(now) WHERE id = \(id) AND revoked_at IS NULL")
    }

    /// A key's owner as stored: the user in `actor`, or the scopes, comma-separated.
    private static func columns(of owner: APIKeyOwner) -> (user: String?, scopes: String) {
        switch owner {
        case .user(let email): (EmailAddress.normalize(email), "")
        case .integration(let scopes): (nil, scopes.sorted().map(\.rawValue).joined(separator: ","))
        }
    }
}

extension APIKey {
    /// An `api_keys` row (`SELECT *`): a personal key when `actor` is set, else an integration key
    /// whose scopes must all be known.
    init(stored row: StoredRow) throws {
        let owner: APIKeyOwner
        if let user: String = try row("actor") {
            owner = .user(user)
        } else {
            let text: String = try row("scopes")
            var scopes: Set<APIScope> = []
            for part in text.split(separator: ",") {
                guard let scope = APIScope(rawValue: String(part)) else {
                    throw UnreadableValue(table: row.table, rowID: row.rowID, column: "scopes", value: String(part))
                }
                scopes.insert(scope)
            }
            owner = .integration(scopes)
        }
        self.init(
            id: try row("id"), name: try row("name"), owner: owner, createdAt: try row("created_at"), lastUsedAt: try row("last_used_at"),
            expiresAt: try row("expires_at"), revokedAt: try row("revoked_at")
        )
    }
}
