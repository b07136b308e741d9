import Foundation
import GatewayApp
import GatewayConfig
import GatewayCore
import PostgresNIO

/// The PostgreSQL store: the same repositories as the SQLite store, over a database that any
/// number of gateways share.
///
/// Every `write` body is one transaction holding the database-wide write lock (see ``PostgresDatabase``), so a decision's
/// conditional claim gives exactly one winner across processes (AUTHZ-4), and the outbox is
/// claimed with `FOR UPDATE SKIP LOCKED` so that each email goes to one gateway.
///
/// ```swift
/// let store = try await PostgresStore.open(url: url, password: PostgresPassword.resolve(for: url))
/// ```
public final class PostgresStore: Sendable {
    public let database: PostgresDatabase

    init(database: PostgresDatabase) {
        self.database = database
    }

    /// Connects to the database at `url` and migrates it to the current schema.
    public static func open(url: PostgresURL, password: String?) async throws -> PostgresStore {
        let database = try PostgresDatabase(url: url, password: password)
        do {
            try await PostgresMigrations.migrate(database)
        } catch {
            await database.close()
            throw error
        }
        return PostgresStore(database: database)
    }

    /// Closes every connection.
    public func close() async {
        await database.close()
    }
}

extension PostgresStore: GatewayStorage {
    public func write<T: Sendable>(_ body: @escaping @Sendable (any StoreTransaction) throws -> T) async throws -> T {
        // The audit chain's head is read with the lock, so appending costs no wait of its own.
        try await database.write(prefetching: AuditChainAppender.headQuery) { session in
            let transaction = PostgresTransaction(
                session: session, auditChain: session.prefetched.map { AuditChainAppender(session: session, prefetchedHead: $0) }
            )
            let value = try body(transaction)
            try transaction.auditChain?.flush()
            return value
        }
    }

    /// A write of one request (or one requester's requests for a resource) runs beside writes of
    /// other scopes: it holds the write lock shared and its scope's lock alone, and takes the audit
    /// chain's lock only once its body is done, so writes queue on each other only for their audit
    /// records and commit.
    public func write<T: Sendable>(_ scope: WriteScope, _ body: @escaping @Sendable (any StoreTransaction) throws -> T) async throws -> T {
        let key: (Int32, Int32)
        switch scope {
        case .everything:
            return try await write(body)
        case .request(let id):
            // Ids past 2^32 share keys with smaller ones: such writes wait for each other, no more.
            key = (Self.requestLockSpace, Int32(truncatingIfNeeded: id))
        case .requests(let requester, let resource):
            key = (Self.requesterLockSpace, Self.lockKey("\(EmailAddress.normalize(requester))\n\(resource)"))
        }
        return try await database.write(sharing: key) { session in
            let transaction = PostgresTransaction(session: session, auditChain: AuditChainAppender(lockingIn: session))
            let value = try body(transaction)
            try transaction.auditChain?.flush()
            return value
        }
    }

    /// The first number of a request's scope lock ("AGRQ").
    static let requestLockSpace: Int32 = 0x4147_5251
    /// The first number of a requester-and-resource scope lock ("AGRR").
    static let requesterLockSpace: Int32 = 0x4147_5252

    /// A stable 32-bit key for `text` (FNV-1a): the same on every gateway and every run.
    static func lockKey(_ text: String) -> Int32 {
        var hash: UInt32 = 0x811C_9DC5
        for byte in text.utf8 {
            hash = (hash ^ UInt32(byte)) &* 0x0100_0193
        }
        return Int32(bitPattern: hash)
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any StoreTransaction) throws -> T) async throws -> T {
        try await database.read { session in try body(PostgresTransaction(session: session, reviewScopes: ReviewScopeMemo())) }
    }

    // MARK: The outbox worker

    /// Claims up to `limit` due emails for `lease`: pending ones whose retry time has come, and ones a
    /// worker claimed but never finished (it crashed) once their lease has run out. Rows another
    /// gateway is claiming at this moment are skipped, not waited for.
    public func claimOutbox(now: Date, limit: Int, lease: TimeInterval) async throws -> [OutboxEntry] {
        let leaseUntil = now.addingTimeInterval(lease)
        return try await database.autocommit { session in
            let transaction = PostgresTransaction(session: session)
            return try transaction.rows("""
                UPDATE outbox SET status = 'sending', lease_until = \(leaseUntil)
                WHERE id IN (
                    SELECT id FROM outbox
                    WHERE (status = 'pending' AND next_attempt_at <= \(now)) OR (status = 'sending' AND lease_until <= \(now))
                    ORDER BY next_attempt_at, id LIMIT \(limit)
                    FOR UPDATE SKIP LOCKED
                )
                RETURNING *
                """, table: "outbox")
                .map(OutboxEntry.init(stored:))
                .sorted { ($0.nextAttemptAt, $0.id) < ($1.nextAttemptAt, $1.id) }
        }
    }

    public func saveRenderedMessages(_ messages: [RenderedOutboxMessage]) async throws {
        guard !messages.isEmpty else { return }
        // On one connection, without the write lock: the rows are this worker's claims, and each
        // update stands alone (a rendering kept is kept, whatever happens to the rest).
        try await database.autocommit { session in
            for message in messages {
                let bytes = message.raw.map { Data($0) }
                try session.execute("UPDATE outbox SET message_id = \(message.messageID), raw_message = \(bytes) WHERE id = \(message.id) AND raw_message IS NULL")
            }
        }
    }

    public func markOutboxSent(_ deliveries: [OutboxDelivery]) async throws {
        guard !deliveries.isEmpty else { return }
        // Each update stands alone (the rows are this worker's claims): no write lock, no
        // transaction around them.
        try await database.autocommit { session in
            for delivery in deliveries {
                let headers = Data(delivery.retainedHeaders)
                try session.execute("""
                    UPDATE outbox SET status = 'sent', sent_at = \(delivery.sentAt), attempts = attempts + 1, lease_until = NULL, last_error = NULL,
                        raw_message = \(headers), body_sha256 = \(delivery.bodyDigest)
                    WHERE id = \(delivery.id)
                    """)
            }
        }
    }

    public func markOutboxRetry(id: Int64, error: String, retryAt: Date) async throws {
        try await database.autocommit { session in
            try session.execute("""
                UPDATE outbox SET status = 'pending', attempts = attempts + 1, last_error = \(error), next_attempt_at = \(retryAt), lease_until = NULL
                WHERE id = \(id)
                """)
        }
    }

    public func markOutboxFailed(id: Int64, error: String, now: Date) async throws {
        try await database.autocommit { session in
            try session.execute("UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = \(error), lease_until = NULL WHERE id = \(id)")
        }
    }

    public func releaseOutboxClaims(ids: [Int64]) async throws {
        guard !ids.isEmpty else { return }
        try await database.autocommit { session in
            try session.execute("UPDATE outbox SET status = 'pending', lease_until = NULL WHERE status = 'sending' AND id = ANY(\(ids))")
        }
    }

    public func extendOutboxClaims(ids: [Int64], until: Date) async throws {
        guard !ids.isEmpty else { return }
        try await database.autocommit { session in
            try session.execute("UPDATE outbox SET lease_until = \(until) WHERE status = 'sending' AND id = ANY(\(ids))")
        }
    }

    // MARK: Installation values

    public func installationID() async throws -> String {
        // Set once, by the first gateway: a read finds it from then on, without the write lock
        // (`/healthz` asks on every probe).
        if let known = try await database.read({ session in
            try session.value("SELECT value FROM gateway_meta WHERE key = 'installation_id'", as: String.self)
        }) {
            return known
        }
        return try await database.write { session in
            var generator = SystemRandomNumberGenerator()
            let candidate = (0..<8).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
            try session.execute("INSERT INTO gateway_meta (key, value) VALUES ('installation_id', \(candidate)) ON CONFLICT (key) DO NOTHING")
            return try session.value("SELECT value FROM gateway_meta WHERE key = 'installation_id'", as: String.self) ?? candidate
        }
    }

    public func webSecret() async throws -> [UInt8] {
        try await database.write { session in
            if let text = try session.value("SELECT value FROM gateway_meta WHERE key = 'web_secret'", as: String.self),
               let data = Data(base64Encoded: text), data.count >= 32 {
                return [UInt8](data)
            }
            var generator = SystemRandomNumberGenerator()
            let secret = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let text = Data(secret).base64EncodedString()
            try session.execute("""
                INSERT INTO gateway_meta (key, value) VALUES ('web_secret', \(text))
                ON CONFLICT (key) DO UPDATE SET value = excluded.value
                """)
            return secret
        }
    }

    public func metadata(_ key: String) async throws -> String? {
        try await database.read { session in try session.value("SELECT value FROM gateway_meta WHERE key = \(key)", as: String.self) }
    }

    public func setMetadata(_ key: String, _ value: String) async throws {
        try await database.write { session in
            try session.execute("INSERT INTO gateway_meta (key, value) VALUES (\(key), \(value)) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        }
    }

    // MARK: Leases

    public func holdLease(_ name: String, holder: String, duration: TimeInterval) async throws -> Bool {
        let milliseconds = Int64((duration * 1000).rounded())
        return try await database.write { session in
            // The database's clock, so that gateways on different hosts agree on expiry.
            try session.execute("""
                INSERT INTO gateway_leases (name, holder, acquired_at, expires_at)
                VALUES (\(name), \(holder), clock_timestamp(), clock_timestamp() + \(milliseconds) * interval '1 millisecond')
                ON CONFLICT (name) DO UPDATE SET
                    acquired_at = CASE WHEN gateway_leases.holder = excluded.holder THEN gateway_leases.acquired_at ELSE excluded.acquired_at END,
                    holder = excluded.holder, expires_at = excluded.expires_at
                WHERE gateway_leases.holder = excluded.holder OR gateway_leases.expires_at <= clock_timestamp()
                """) == 1
        }
    }

    public func releaseLease(_ name: String, holder: String) async throws {
        try await database.write { session in
            try session.execute("DELETE FROM gateway_leases WHERE name = \(name) AND holder = \(holder)")
        }
    }

    // MARK: The audit log's integrity

    /// Walks the hash chain in id order; the first record whose links or content do not match ends it.
    public func verifyAuditChain() async throws -> AuditChainReport {
        try await database.read { session in
            var previous = AuditChainHash.genesis
            var count = 0
            var after: Int64 = 0
            while true {
                let rows = try PostgresTransaction(session: session).rows("""
                    SELECT id, at_text, action, actor, request_id, channel, outcome, reason, detail, prev_hash, hash
                    FROM audit_log WHERE id > \(after) ORDER BY id LIMIT 5000
                    """, table: "audit_log")
                guard !rows.isEmpty else { break }
                for row in rows {
                    let id: Int64 = try row("id")
                    guard try row("prev_hash", as: String?.self) == previous else {
                        return AuditChainReport(records: count, firstBroken: .init(id: id, problem: "its previous-record hash does not match the record before it (a record was removed, inserted or reordered)"))
                    }
                    let expected = AuditChainHash.hash(
                        at: try row("at_text"), action: try row("action"), actor: try row("actor"), requestID: try row("request_id"),
                        channel: try row("channel"), outcome: try row("outcome"), reason: try row("reason"), detail: try row("detail"),
                        previous: previous
                    )
                    guard try row("hash", as: String?.self) == expected else {
                        return AuditChainReport(records: count, firstBroken: .init(id: id, problem: "its content does not match its hash (the record was edited)"))
                    }
                    previous = expected
                    count += 1
                    after = id
                }
            }
            return AuditChainReport(records: count, firstBroken: nil)
        }
    }

    // MARK: The inbox's place in its mailbox

    public func mailboxCursor(_ mailbox: String) async throws -> MailboxCursor? {
        try await database.read { session in
            guard let row = try PostgresTransaction(session: session).row(
                "SELECT uid_validity, last_uid FROM mailbox_state WHERE mailbox = \(mailbox)", table: "mailbox_state"
            ) else { return nil }
            return MailboxCursor(uidValidity: UInt32(try row("uid_validity", as: Int64.self)), lastUID: UInt32(try row("last_uid", as: Int64.self)))
        }
    }

    public func saveMailboxCursor(_ mailbox: String, _ cursor: MailboxCursor) async throws {
        let now = Date()
        try await database.write { session in
            try session.execute("""
                INSERT INTO mailbox_state (mailbox, uid_validity, last_uid, updated_at)
                VALUES (\(mailbox), \(Int64(cursor.uidValidity)), \(Int64(cursor.lastUID)), \(now))
                ON CONFLICT (mailbox) DO UPDATE SET uid_validity = excluded.uid_validity, last_uid = excluded.last_uid, updated_at = excluded.updated_at
                """)
        }
    }
}
