import Foundation
import GRDB

extension SQLiteStore {
    /// The web layer's schema: sessions, used sign-in tokens, rate limits and API keys, all keyed by
    /// SHA-256 digests (the secrets themselves are never stored).
    static func registerWebMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v4-web") { db in
            try db.execute(sql: """
                CREATE TABLE web_sessions (
                    id_digest TEXT PRIMARY KEY,
                    user_id INTEGER NOT NULL REFERENCES users(id),
                    created_at DATETIME NOT NULL,
                    expires_at DATETIME NOT NULL,
                    ended_at DATETIME
                );
                CREATE INDEX web_sessions_expiry ON web_sessions(expires_at);
                -- Sign-in tokens (review and login links) that created a session: single use (LINK-8).
                CREATE TABLE web_used_tokens (
                    nonce_digest TEXT PRIMARY KEY,
                    used_at DATETIME NOT NULL,
                    expires_at DATETIME NOT NULL
                );
                CREATE TABLE web_rate_limits (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    bucket TEXT NOT NULL,
                    at DATETIME NOT NULL
                );
                CREATE INDEX web_rate_limits_bucket ON web_rate_limits(bucket, at);
                CREATE TABLE api_keys (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    name TEXT NOT NULL,
                    actor TEXT,
                    key_digest TEXT NOT NULL UNIQUE,
                    created_at DATETIME NOT NULL,
                    last_used_at DATETIME,
                    revoked_at DATETIME
                );
                -- The Access Requests page lists newest first.
                CREATE INDEX access_requests_created ON access_requests(created_at, id);
                """)
        }
    }
}
