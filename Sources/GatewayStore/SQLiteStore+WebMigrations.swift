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

    /// The application layer's schema additions: per-resource link sign-in, API keys that are
    /// either personal or scoped, and the answers the inbox sent (counted by the answer limits).
    static func registerServiceMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v5-service") { db in
            try db.execute(sql: """
                ALTER TABLE resources ADD COLUMN link_sign_in BOOLEAN NOT NULL DEFAULT 1;
                -- A personal key has a user (the old `actor`); an integration key has scopes. Keys made
                -- before scopes existed and acting as nobody get no scope: recreate them with scopes.
                ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
                ALTER TABLE api_keys ADD COLUMN expires_at DATETIME;
                CREATE TABLE inbox_answers (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    reviewer TEXT NOT NULL,
                    request_id INTEGER NOT NULL,
                    kind TEXT NOT NULL,
                    at DATETIME NOT NULL
                );
                CREATE INDEX inbox_answers_reviewer ON inbox_answers(reviewer, at);
                INSERT INTO inbox_answers (reviewer, request_id, kind, at)
                    SELECT recipient, request_id, kind, created_at FROM outbox
                    WHERE kind IN ('reply_confirmation', 'reply_refusal') AND request_id IS NOT NULL;
                """)
        }
    }

    /// Secrets at rest: a sent email keeps its headers and a digest, not its body (whose links are
    /// live); sign-in links are never stored. Rows sent before this migration lose their bodies.
    static func registerSecretsAtRestMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v6-secrets-at-rest") { db in
            try db.execute(sql: """
                ALTER TABLE outbox ADD COLUMN body_sha256 TEXT;
                UPDATE outbox SET raw_message = NULL WHERE status IN ('sent', 'failed') OR kind = 'sign_in';
                UPDATE outbox SET context = json_remove(context, '$.login_url') WHERE kind = 'sign_in';
                """)
        }
    }
}
