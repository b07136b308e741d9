import Foundation
import PostgresNIO

/// The PostgreSQL schema, as an ordered list of migrations that are never edited once released.
///
/// The first migration creates the schema the SQLite store reaches after all of its own migrations,
/// in PostgreSQL's types (`TIMESTAMPTZ`, `BYTEA`, identity columns that accept explicit ids so that
/// `db copy` keeps every id). Later changes are new migrations, applied in order.
public enum PostgresMigrations {
    public struct Migration: Sendable {
        public var id: String
        public var sql: String
    }

    /// Every migration, oldest first.
    public static let all: [Migration] = [
        Migration(id: "v1-schema", sql: schemaV1),
        // A grant ended early: when, by whom (NULL: the operator), why.
        Migration(id: "v2-grant-revocation", sql: """
            ALTER TABLE grants ADD COLUMN revoked_at TIMESTAMPTZ;
            ALTER TABLE grants ADD COLUMN revoked_by TEXT;
            ALTER TABLE grants ADD COLUMN revoke_reason TEXT;
            """),
        // Several approvals per request, and escalation of requests left pending too long.
        Migration(id: "v3-quorum-escalation", sql: """
            ALTER TABLE resources ADD COLUMN approvals_required BIGINT NOT NULL DEFAULT 1;
            ALTER TABLE resources ADD COLUMN escalate_after_seconds BIGINT;
            CREATE TABLE resource_escalation_groups (
                resource_id BIGINT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
                group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
                PRIMARY KEY (resource_id, group_id)
            );
            ALTER TABLE access_requests ADD COLUMN approval_count BIGINT NOT NULL DEFAULT 0;
            ALTER TABLE access_requests ADD COLUMN escalated_at TIMESTAMPTZ;
            CREATE TABLE request_approvals (
                request_id BIGINT NOT NULL REFERENCES access_requests(id),
                reviewer_id BIGINT NOT NULL REFERENCES users(id),
                channel TEXT NOT NULL,
                review_right TEXT NOT NULL,
                grant_seconds BIGINT,
                comment TEXT,
                approved_at TIMESTAMPTZ NOT NULL,
                void_reason TEXT,
                PRIMARY KEY (request_id, reviewer_id)
            );
            """),
        // The Access Requests page filtered by state, newest first, at any depth (keyset pages).
        Migration(id: "v4-request-state-index", sql: """
            CREATE INDEX access_requests_state_created ON access_requests(state, created_at, id);
            """),
        // A resource's page: its open requests and its running grants.
        Migration(id: "v5-resource-page-indexes", sql: """
            CREATE INDEX access_requests_resource_state ON access_requests(resource_id, state, created_at, id);
            CREATE INDEX grants_resource_end ON grants(resource_id, ends_at);
            """),
    ]

    /// A constant key for the advisory lock that serialises migrations across gateways.
    static let lockKey: Int64 = 0x4147_4D49_4752 // "AGMIGR"

    /// Applies the migrations not applied yet, each in its own transaction, while holding an
    /// advisory lock: gateways starting together migrate once. Returns the ids it applied.
    @discardableResult
    public static func migrate(_ database: PostgresDatabase) async throws -> [String] {
        try await database.withSession { session in
            try session.execute("SELECT pg_advisory_lock(\(lockKey))")
            defer { _ = try? session.execute("SELECT pg_advisory_unlock(\(lockKey))") }
            try session.execute("""
                CREATE TABLE IF NOT EXISTS gateway_migrations (
                    id TEXT PRIMARY KEY,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                )
                """)
            let applied = Set(try session.rows("SELECT id FROM gateway_migrations").map { try $0.decode(String.self) })
            let known = Set(all.map(\.id))
            if let unknown = applied.subtracting(known).sorted().first {
                throw PostgresStoreError(
                    "the database was migrated by a newer approval-gateway (migration \(unknown) is unknown to this version); upgrade this gateway"
                )
            }
            var done: [String] = []
            for migration in all where !applied.contains(migration.id) {
                do {
                    try session.execute("BEGIN")
                    // The extended protocol runs one statement per query.
                    for statement in SQLScript.statements(migration.sql) {
                        try session.execute(PostgresQuery(unsafeSQL: statement))
                    }
                    try session.execute("INSERT INTO gateway_migrations (id) VALUES (\(migration.id))")
                    try session.execute("COMMIT")
                } catch {
                    _ = try? session.execute("ROLLBACK")
                    throw PostgresStoreError("migration \(migration.id) failed: \(PostgresStoreError.wrap(error).message)")
                }
                done.append(migration.id)
            }
            return done
        }
    }

    /// The ids of the migrations applied to the database, oldest first.
    public static func applied(_ database: PostgresDatabase) async throws -> [String] {
        try await database.read { session in
            let exists = try session.value("SELECT to_regclass('gateway_migrations') IS NOT NULL", as: Bool.self) ?? false
            guard exists else { return [] }
            return try session.rows("SELECT id FROM gateway_migrations ORDER BY applied_at, id").map { try $0.decode(String.self) }
        }
    }

    static let schemaV1 = """
        CREATE TABLE users (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            email TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            active BOOLEAN NOT NULL DEFAULT TRUE,
            created_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE groups (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            name TEXT NOT NULL UNIQUE
        );
        CREATE TABLE group_members (
            group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
            user_id BIGINT NOT NULL REFERENCES users(id),
            PRIMARY KEY (group_id, user_id)
        );
        CREATE INDEX group_members_user ON group_members(user_id);
        CREATE TABLE resources (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            durations TEXT NOT NULL,
            pending_ttl BIGINT NOT NULL,
            auto_lock_after_days BIGINT,
            reply_decisions BOOLEAN NOT NULL DEFAULT TRUE,
            link_decisions BOOLEAN NOT NULL DEFAULT TRUE,
            link_code_required BOOLEAN NOT NULL DEFAULT FALSE,
            link_sign_in BOOLEAN NOT NULL DEFAULT TRUE,
            active BOOLEAN NOT NULL DEFAULT TRUE
        );
        CREATE TABLE resource_approver_groups (
            resource_id BIGINT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
            group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
            PRIMARY KEY (resource_id, group_id)
        );
        CREATE TABLE access_requests (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            kind TEXT NOT NULL,
            requester_id BIGINT NOT NULL REFERENCES users(id),
            resource_id BIGINT NOT NULL REFERENCES resources(id),
            reason TEXT NOT NULL,
            duration_seconds BIGINT,
            state TEXT NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            expires_at TIMESTAMPTZ NOT NULL,
            resolved_at TIMESTAMPTZ,
            decided_by_id BIGINT REFERENCES users(id),
            decision_action TEXT,
            decision_channel TEXT,
            decision_comment TEXT,
            reminded_at TIMESTAMPTZ
        );
        CREATE INDEX access_requests_state_deadline ON access_requests(state, expires_at);
        CREATE INDEX access_requests_resource ON access_requests(resource_id, created_at);
        CREATE INDEX access_requests_requester ON access_requests(requester_id, created_at);
        CREATE INDEX access_requests_created ON access_requests(created_at, id);
        CREATE UNIQUE INDEX access_requests_one_pending ON access_requests(requester_id, resource_id) WHERE state = 'pending';
        CREATE TABLE grants (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            request_id BIGINT NOT NULL UNIQUE REFERENCES access_requests(id),
            user_id BIGINT NOT NULL REFERENCES users(id),
            resource_id BIGINT NOT NULL REFERENCES resources(id),
            starts_at TIMESTAMPTZ NOT NULL,
            ends_at TIMESTAMPTZ NOT NULL
        );
        CREATE INDEX grants_user_resource ON grants(user_id, resource_id, ends_at);
        CREATE TABLE locks (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            user_id BIGINT NOT NULL REFERENCES users(id),
            resource_id BIGINT NOT NULL REFERENCES resources(id),
            locked_at TIMESTAMPTZ NOT NULL,
            lifted_at TIMESTAMPTZ,
            lifted_by_request_id BIGINT REFERENCES access_requests(id)
        );
        CREATE UNIQUE INDEX locks_one_active ON locks(user_id, resource_id) WHERE lifted_at IS NULL;

        -- The audit log is append-only (AUDIT-1) and hash-chained (AUDIT-3): `at_text` keeps the
        -- instant exactly as it was hashed, so the chain verifies on every backend.
        CREATE TABLE audit_log (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            at TIMESTAMPTZ NOT NULL,
            at_text TEXT NOT NULL,
            action TEXT NOT NULL,
            actor TEXT,
            request_id BIGINT,
            channel TEXT,
            outcome TEXT NOT NULL,
            reason TEXT,
            detail TEXT NOT NULL DEFAULT '{}',
            prev_hash TEXT,
            hash TEXT
        );
        CREATE INDEX audit_log_request ON audit_log(request_id);
        CREATE INDEX audit_log_at ON audit_log(at, id);
        CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only';
        END $$;
        CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
        CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
            FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

        CREATE TABLE gateway_meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE notification_preferences (
            user_id BIGINT PRIMARY KEY REFERENCES users(id),
            new_requests BOOLEAN NOT NULL,
            outcomes BOOLEAN NOT NULL
        );
        CREATE TABLE outbox (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            kind TEXT NOT NULL,
            request_id BIGINT REFERENCES access_requests(id),
            recipient TEXT NOT NULL,
            reason TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts BIGINT NOT NULL DEFAULT 0,
            created_at TIMESTAMPTZ NOT NULL,
            next_attempt_at TIMESTAMPTZ NOT NULL,
            lease_until TIMESTAMPTZ,
            sent_at TIMESTAMPTZ,
            last_error TEXT,
            message_id TEXT UNIQUE,
            raw_message BYTEA,
            context TEXT NOT NULL DEFAULT '{}',
            body_sha256 TEXT
        );
        CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
        CREATE INDEX outbox_request ON outbox(request_id, kind);
        CREATE INDEX outbox_recipient_kind ON outbox(recipient, kind, created_at);
        CREATE TABLE usage (
            user_id BIGINT NOT NULL REFERENCES users(id),
            resource_id BIGINT NOT NULL REFERENCES resources(id),
            last_used_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (user_id, resource_id)
        );
        CREATE TABLE used_tokens (
            nonce_digest TEXT PRIMARY KEY,
            request_id BIGINT NOT NULL REFERENCES access_requests(id),
            channel TEXT NOT NULL,
            used_at TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE inbound_messages (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            message_key TEXT NOT NULL UNIQUE,
            message_id TEXT,
            mailbox TEXT NOT NULL,
            uid_validity BIGINT NOT NULL,
            uid BIGINT NOT NULL,
            sender TEXT,
            request_id BIGINT,
            reviewer TEXT,
            outcome TEXT NOT NULL,
            reason TEXT,
            verdicts TEXT NOT NULL DEFAULT '{}',
            processed_at TIMESTAMPTZ NOT NULL
        );
        CREATE INDEX inbound_messages_request ON inbound_messages(request_id);
        CREATE TABLE mailbox_state (
            mailbox TEXT PRIMARY KEY,
            uid_validity BIGINT NOT NULL,
            last_uid BIGINT NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE web_sessions (
            id_digest TEXT PRIMARY KEY,
            user_id BIGINT NOT NULL REFERENCES users(id),
            created_at TIMESTAMPTZ NOT NULL,
            expires_at TIMESTAMPTZ NOT NULL,
            ended_at TIMESTAMPTZ
        );
        CREATE INDEX web_sessions_expiry ON web_sessions(expires_at);
        CREATE TABLE web_used_tokens (
            nonce_digest TEXT PRIMARY KEY,
            used_at TIMESTAMPTZ NOT NULL,
            expires_at TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE web_rate_limits (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            bucket TEXT NOT NULL,
            at TIMESTAMPTZ NOT NULL
        );
        CREATE INDEX web_rate_limits_bucket ON web_rate_limits(bucket, at);
        CREATE TABLE api_keys (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            name TEXT NOT NULL,
            actor TEXT,
            key_digest TEXT NOT NULL UNIQUE,
            created_at TIMESTAMPTZ NOT NULL,
            last_used_at TIMESTAMPTZ,
            revoked_at TIMESTAMPTZ,
            scopes TEXT NOT NULL DEFAULT '',
            expires_at TIMESTAMPTZ
        );
        CREATE TABLE inbox_answers (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            reviewer TEXT NOT NULL,
            request_id BIGINT NOT NULL,
            kind TEXT NOT NULL,
            at TIMESTAMPTZ NOT NULL
        );
        CREATE INDEX inbox_answers_reviewer ON inbox_answers(reviewer, at);

        -- Leases of work only one gateway may do at a time (the inbox processor): the holder renews
        -- it before `expires_at`; another gateway takes it once that has passed.
        CREATE TABLE gateway_leases (
            name TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            acquired_at TIMESTAMPTZ NOT NULL,
            expires_at TIMESTAMPTZ NOT NULL
        );
        """
}

/// Splits an SQL script into statements at top-level semicolons, leaving semicolons inside quotes,
/// dollar-quoted bodies and comments alone.
enum SQLScript {
    static func statements(_ script: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var index = script.startIndex
        func flush() {
            let statement = current.trimmingCharacters(in: .whitespacesAndNewlines)
            if !statement.isEmpty { statements.append(statement) }
            current = ""
        }
        while index < script.endIndex {
            let rest = script[index...]
            if rest.hasPrefix("--") {
                // A comment runs to the end of the line and is dropped.
                index = rest.firstIndex(of: "\n") ?? script.endIndex
                continue
            }
            if rest.hasPrefix("$$") {
                let bodyStart = script.index(index, offsetBy: 2)
                let close = script[bodyStart...].range(of: "$$")?.upperBound ?? script.endIndex
                current += script[index..<close]
                index = close
                continue
            }
            let character = script[index]
            if character == "'" {
                var end = script.index(after: index)
                while end < script.endIndex {
                    if script[end] == "'" {
                        let next = script.index(after: end)
                        if next < script.endIndex, script[next] == "'" { end = script.index(after: next); continue }
                        end = next
                        break
                    }
                    end = script.index(after: end)
                }
                current += script[index..<min(end, script.endIndex)]
                index = min(end, script.endIndex)
                continue
            }
            if character == ";" {
                flush()
            } else {
                current.append(character)
            }
            index = script.index(after: index)
        }
        flush()
        return statements
    }
}
