import Foundation
import GRDB

extension SQLiteStore {
    /// The versioned schema. Migrations are append-only: a released migration is never edited.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-directory-requests-audit") { db in
            try db.execute(sql: """
                CREATE TABLE users (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    email TEXT NOT NULL UNIQUE,
                    name TEXT NOT NULL,
                    role TEXT NOT NULL,
                    active BOOLEAN NOT NULL DEFAULT 1,
                    created_at DATETIME NOT NULL,
                    updated_at DATETIME NOT NULL
                );
                CREATE TABLE groups (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    name TEXT NOT NULL UNIQUE
                );
                CREATE TABLE group_members (
                    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
                    user_id INTEGER NOT NULL REFERENCES users(id),
                    PRIMARY KEY (group_id, user_id)
                );
                CREATE INDEX group_members_user ON group_members(user_id);
                CREATE TABLE resources (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    name TEXT NOT NULL UNIQUE,
                    durations TEXT NOT NULL,
                    pending_ttl INTEGER NOT NULL,
                    auto_lock_after_days INTEGER,
                    reply_decisions BOOLEAN NOT NULL DEFAULT 1,
                    link_decisions BOOLEAN NOT NULL DEFAULT 1,
                    link_code_required BOOLEAN NOT NULL DEFAULT 0,
                    active BOOLEAN NOT NULL DEFAULT 1
                );
                CREATE TABLE resource_approver_groups (
                    resource_id INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
                    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
                    PRIMARY KEY (resource_id, group_id)
                );
                CREATE TABLE access_requests (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    kind TEXT NOT NULL,
                    requester_id INTEGER NOT NULL REFERENCES users(id),
                    resource_id INTEGER NOT NULL REFERENCES resources(id),
                    reason TEXT NOT NULL,
                    duration_seconds INTEGER,
                    state TEXT NOT NULL,
                    created_at DATETIME NOT NULL,
                    expires_at DATETIME NOT NULL,
                    resolved_at DATETIME,
                    decided_by_id INTEGER REFERENCES users(id),
                    decision_action TEXT,
                    decision_channel TEXT,
                    decision_comment TEXT
                );
                CREATE INDEX access_requests_state_deadline ON access_requests(state, expires_at);
                CREATE INDEX access_requests_resource ON access_requests(resource_id, created_at);
                CREATE INDEX access_requests_requester ON access_requests(requester_id, created_at);
                -- One pending request per requester and resource.
                CREATE UNIQUE INDEX access_requests_one_pending
                    ON access_requests(requester_id, resource_id) WHERE state = 'pending';
                CREATE TABLE grants (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    request_id INTEGER NOT NULL UNIQUE REFERENCES access_requests(id),
                    user_id INTEGER NOT NULL REFERENCES users(id),
                    resource_id INTEGER NOT NULL REFERENCES resources(id),
                    starts_at DATETIME NOT NULL,
                    ends_at DATETIME NOT NULL
                );
                CREATE INDEX grants_user_resource ON grants(user_id, resource_id, ends_at);
                CREATE TABLE locks (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    user_id INTEGER NOT NULL REFERENCES users(id),
                    resource_id INTEGER NOT NULL REFERENCES resources(id),
                    locked_at DATETIME NOT NULL,
                    lifted_at DATETIME,
                    lifted_by_request_id INTEGER REFERENCES access_requests(id)
                );
                CREATE UNIQUE INDEX locks_one_active ON locks(user_id, resource_id) WHERE lifted_at IS NULL;
                CREATE TABLE audit_log (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    at DATETIME NOT NULL,
                    action TEXT NOT NULL,
                    actor TEXT,
                    request_id INTEGER,
                    channel TEXT,
                    outcome TEXT NOT NULL,
                    reason TEXT,
                    detail TEXT NOT NULL DEFAULT '{}'
                );
                CREATE INDEX audit_log_request ON audit_log(request_id);
                -- AUDIT-1: the audit log is append-only.
                CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
                    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
                CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
                    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
                CREATE TABLE gateway_meta (
                    key TEXT PRIMARY KEY,
                    value TEXT NOT NULL
                );
                """)
        }
        migrator.registerMigration("v2-notifications-outbox-usage") { db in
            try db.execute(sql: """
                CREATE TABLE notification_preferences (
                    user_id INTEGER PRIMARY KEY REFERENCES users(id),
                    new_requests BOOLEAN NOT NULL,
                    outcomes BOOLEAN NOT NULL
                );
                CREATE TABLE outbox (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    kind TEXT NOT NULL,
                    request_id INTEGER REFERENCES access_requests(id),
                    recipient TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    status TEXT NOT NULL DEFAULT 'pending',
                    attempts INTEGER NOT NULL DEFAULT 0,
                    created_at DATETIME NOT NULL,
                    next_attempt_at DATETIME NOT NULL,
                    lease_until DATETIME,
                    sent_at DATETIME,
                    last_error TEXT,
                    message_id TEXT UNIQUE,
                    raw_message BLOB,
                    context TEXT NOT NULL DEFAULT '{}'
                );
                CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
                CREATE INDEX outbox_request ON outbox(request_id, kind);
                ALTER TABLE access_requests ADD COLUMN reminded_at DATETIME;
                CREATE TABLE usage (
                    user_id INTEGER NOT NULL REFERENCES users(id),
                    resource_id INTEGER NOT NULL REFERENCES resources(id),
                    last_used_at DATETIME NOT NULL,
                    PRIMARY KEY (user_id, resource_id)
                );
                """)
        }
        registerInboxMigrations(&migrator)
        registerWebMigrations(&migrator)
        registerServiceMigrations(&migrator)
        registerSecretsAtRestMigrations(&migrator)
        AuditChain.registerMigration(&migrator)
        migrator.registerMigration("v8-leases") { db in
            // Work only one gateway may do at a time (the inbox processor).
            try db.execute(sql: """
                CREATE TABLE gateway_leases (
                    name TEXT PRIMARY KEY,
                    holder TEXT NOT NULL,
                    acquired_at DATETIME NOT NULL,
                    expires_at DATETIME NOT NULL
                );
                """)
        }
        migrator.registerMigration("v9-grant-revocation") { db in
            // A grant ended early: when, by whom (NULL: the operator), why.
            try db.execute(sql: """
                ALTER TABLE grants ADD COLUMN revoked_at DATETIME;
                ALTER TABLE grants ADD COLUMN revoked_by TEXT;
                ALTER TABLE grants ADD COLUMN revoke_reason TEXT;
                """)
        }
        migrator.registerMigration("v10-quorum-escalation") { db in
            // Several approvals per request, and escalation of requests left pending too long.
            try db.execute(sql: """
                ALTER TABLE resources ADD COLUMN approvals_required INTEGER NOT NULL DEFAULT 1;
                ALTER TABLE resources ADD COLUMN escalate_after_seconds INTEGER;
                CREATE TABLE resource_escalation_groups (
                    resource_id INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
                    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
                    PRIMARY KEY (resource_id, group_id)
                );
                ALTER TABLE access_requests ADD COLUMN approval_count INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE access_requests ADD COLUMN escalated_at DATETIME;
                CREATE TABLE request_approvals (
                    request_id INTEGER NOT NULL REFERENCES access_requests(id),
                    reviewer_id INTEGER NOT NULL REFERENCES users(id),
                    channel TEXT NOT NULL,
                    review_right TEXT NOT NULL,
                    grant_seconds INTEGER,
                    comment TEXT,
                    approved_at DATETIME NOT NULL,
                    void_reason TEXT,
                    PRIMARY KEY (request_id, reviewer_id)
                );
                """)
        }
        migrator.registerMigration("v11-request-state-index") { db in
            // The Access Requests page filtered by state, newest first, at any depth (keyset pages).
            try db.execute(sql: "CREATE INDEX access_requests_state_created ON access_requests(state, created_at, id)")
        }
        migrator.registerMigration("v12-resource-page-indexes") { db in
            // A resource's page: its open requests (a resource and a state, at any size of the
            // table) and its running grants.
            try db.execute(sql: """
                CREATE INDEX access_requests_resource_state ON access_requests(resource_id, state, created_at, id);
                CREATE INDEX grants_resource_end ON grants(resource_id, ends_at);
                """)
        }
        return migrator
    }

    static func migrate(_ pool: DatabasePool, path: String) throws {
        let migrator = Self.migrator
        do {
            let unknown = try pool.read { db -> [String] in
                guard try db.tableExists("grdb_migrations") else { return [] }
                let applied = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
                return applied.filter { !migrator.migrations.contains($0) }
            }
            guard unknown.isEmpty else {
                throw StoreError(
                    "the database \(path) was migrated by a newer version of approval-gateway (unknown migrations: \(unknown.joined(separator: ", "))); upgrade approval-gateway"
                )
            }
            // GRDB reads the applied migrations outside a transaction: the caller holds the lock
            // file (``withMigrationLock(path:_:)``) so that two processes never both apply one.
            try migrator.migrate(pool)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError("cannot migrate the database \(path): \(error)")
        }
    }

    /// Runs `body` holding an exclusive `flock` on `<database>-migrate.lock`.
    static func withMigrationLock(path: String, _ body: () throws -> Void) throws {
        let lockPath = path + "-migrate.lock"
        let descriptor = open(lockPath, O_CREAT | O_RDWR, 0o600)
        guard descriptor >= 0 else {
            throw StoreError("cannot open the migration lock \(lockPath): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else { throw StoreError("cannot lock \(lockPath): \(String(cString: strerror(errno)))") }
        }
        defer { flock(descriptor, LOCK_UN) }
        try body()
    }
}
