import Foundation
import GatewayApp
import GatewayCore
import PostgresNIO

/// The repositories of ``GatewayApp`` over one PostgreSQL transaction: plain reads and writes, no
/// rules. Created by ``PostgresStore`` for the length of one `write` or `read` body and never kept.
///
/// Statements are written with PostgresNIO's interpolation, which sends every interpolated value
/// as a bound parameter (`\(email)` becomes `$1`), never as SQL text.
struct PostgresTransaction {
    let session: PostgresSession
    /// In a read-only transaction, who reviews what as this transaction looked it up (its snapshot
    /// cannot change); `nil` in a write, which may change the directory it reads.
    var reviewScopes: ReviewScopeMemo? = nil
    /// In a store `write`, the audit records it appends; `nil` elsewhere, where nothing may
    /// append to the audit log.
    var auditChain: AuditChainAppender? = nil

    @discardableResult
    func execute(_ query: PostgresQuery) throws -> Int { try session.execute(query) }

    /// Sends a write whose result nothing here reads, without waiting for it: it is checked
    /// before the transaction commits (see ``PostgresSession/sendDeferred(_:)``).
    func executeDeferred(_ query: PostgresQuery) { session.sendDeferred(query) }

    /// All rows of `query`, each readable by column name for `table`'s error messages.
    func rows(_ query: PostgresQuery, table: String) throws -> [StoredRow] {
        try session.rows(query).map { StoredRow($0, table: table) }
    }

    func row(_ query: PostgresQuery, table: String) throws -> StoredRow? {
        try rows(query, table: table).first
    }

    /// The first column of the first row.
    func value<T: PostgresDecodable>(_ query: PostgresQuery, as type: T.Type = T.self) throws -> T? {
        try session.value(query, as: T.self)
    }

    /// The first column of every row.
    func values<T: PostgresDecodable>(_ query: PostgresQuery, as type: T.Type = T.self) throws -> [T] {
        try session.rows(query).map { row in
            do {
                return try row.decode(T.self)
            } catch {
                throw PostgresStoreError("a value of \(query.sql) could not be read as \(T.self): \(error)")
            }
        }
    }
}

/// One result row read by column name; a value of the wrong type or an unknown enum value fails
/// loudly, naming table, row and column (``UnreadableValue``), never read as a default.
struct StoredRow {
    let row: PostgresRandomAccessRow
    let table: String

    init(_ row: PostgresRow, table: String) {
        self.row = PostgresRandomAccessRow(row)
        self.table = table
    }

    var rowID: Int64? {
        guard row.contains("id") else { return nil }
        return try? row["id"].decode(Int64?.self)
    }

    /// The column's value (`T` optional for a nullable column).
    func callAsFunction<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        guard row.contains(column) else { throw PostgresStoreError("\(table) has no column \(column) in this query") }
        do {
            return try row[column].decode(T.self)
        } catch {
            throw UnreadableValue(table: table, rowID: rowID, column: column, value: "\(error)")
        }
    }

    /// A `String`-backed enum; an unknown value is an error naming the row.
    func decode<E: RawRepresentable>(_ type: E.Type, _ column: String) throws -> E where E.RawValue == String {
        let raw: String = try self(column)
        guard let value = E(rawValue: raw) else { throw UnreadableValue(table: table, rowID: rowID, column: column, value: raw) }
        return value
    }

    /// The optional form of ``decode(_:_:)``: `NULL` is `nil`, an unknown value an error.
    func decodeIfPresent<E: RawRepresentable>(_ type: E.Type, _ column: String) throws -> E? where E.RawValue == String {
        guard let raw: String = try self(column) else { return nil }
        guard let value = E(rawValue: raw) else { throw UnreadableValue(table: table, rowID: rowID, column: column, value: raw) }
        return value
    }

    /// A JSON text column holding a `[String: String]` object.
    func stringDictionary(_ column: String) throws -> [String: String] {
        let text: String = try self(column)
        return (try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))) ?? [:]
    }
}

// MARK: Audit

extension PostgresTransaction: AuditRepository {
    /// Appends one audit record (AUDIT-1). It is linked into the hash chain (AUDIT-3) and written
    /// when the transaction's body ends, just before it commits (see ``AuditChainAppender``).
    /// Only a store `write` appends.
    func appendAudit(_ entry: AuditEntry) throws {
        guard let auditChain else {
            throw PostgresStoreError("an audit record can be appended only in a write transaction, which holds the write lock")
        }
        try auditChain.append(entry)
    }
}

/// The audit records one write transaction appends, linked into the hash chain as its body ends.
///
/// The chain's head must not move between reading it and committing the records that follow it,
/// so appends run one at a time across every gateway. A write that runs alone reads the head right
/// after the write lock was granted (``init(session:prefetchedHead:)``): nothing can be appended
/// until it ends. A write that runs beside others (a ``WriteScope``) takes the audit chain's lock
/// and reads the head only once its body is done (``init(lockingIn:)``), so that it holds that
/// lock for the records' insert and the commit alone.
final class AuditChainAppender: @unchecked Sendable {
    // Used by one transaction body, on one thread at a time.
    static let headQuery: PostgresQuery = "SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1"
    /// The advisory lock of audit appends ("AGAUDIT").
    static let lock: Int64 = 0x4147_4155_4449_54

    private let session: PostgresSession
    private let prefetchedHead: EventLoopFuture<PostgresQueryResult>?
    private var pending: [(entry: AuditEntry, at: String, detail: String)] = []

    init(session: PostgresSession, prefetchedHead: EventLoopFuture<PostgresQueryResult>) {
        self.session = session
        self.prefetchedHead = prefetchedHead
    }

    init(lockingIn session: PostgresSession) {
        self.session = session
        self.prefetchedHead = nil
    }

    /// Keeps `entry` for ``flush()``; a detail that cannot be stored fails here, at the append.
    func append(_ entry: AuditEntry) throws {
        pending.append((entry, AuditChainHash.instantText(entry.at), try AuditChainHash.detailText(entry.detail)))
    }

    /// Links the kept records to the chain's head, in order, and sends their insert. The
    /// transaction commits right after.
    func flush() throws {
        guard !pending.isEmpty else { return }
        var previous = try head()
        for (entry, at, detail) in pending {
            let hash = AuditChainHash.hash(
                at: at, action: entry.action.rawValue, actor: entry.actor, requestID: entry.requestID, channel: entry.channel?.rawValue,
                outcome: entry.outcome.rawValue, reason: entry.reason, detail: detail, previous: previous
            )
            session.sendDeferred("""
                INSERT INTO audit_log (at, at_text, action, actor, request_id, channel, outcome, reason, detail, prev_hash, hash)
                VALUES (\(entry.at), \(at), \(entry.action.rawValue), \(entry.actor), \(entry.requestID), \(entry.channel?.rawValue),
                        \(entry.outcome.rawValue), \(entry.reason), \(detail), \(previous), \(hash))
                """)
            previous = hash
        }
        pending.removeAll()
    }

    /// The hash the next record links to (``AuditChainHash/genesis`` for the first).
    private func head() throws -> String {
        let answer: EventLoopFuture<PostgresQueryResult>
        var locked: EventLoopFuture<PostgresQueryResult>?
        if let prefetchedHead {
            answer = prefetchedHead
        } else {
            // Queued together: the head is read once the lock is granted, with one wait.
            locked = session.send("SELECT pg_advisory_xact_lock(\(Self.lock))")
            answer = session.send(Self.headQuery)
        }
        let rows: [PostgresRow]
        do {
            // The lock's own failure (a deadlock, a timeout) is the one to report, not the head's
            // "transaction aborted" after it.
            _ = try locked?.wait()
            rows = try answer.wait().rows
        } catch {
            // A deferred write that failed first made these fail: report that one.
            try session.settleDeferred()
            throw PostgresStoreError.wrap(error)
        }
        guard let row = rows.first else { return AuditChainHash.genesis }
        do {
            return try row.decode(String?.self) ?? AuditChainHash.genesis
        } catch {
            throw PostgresStoreError("the audit log's last hash could not be read: \(error)")
        }
    }
}

extension AuditEntry {
    init(stored row: StoredRow) throws {
        self.init(
            id: try row("id"), at: try row("at"), action: try row.decode(AuditAction.self, "action"), actor: try row("actor"),
            requestID: try row("request_id"), channel: try row.decodeIfPresent(DecisionChannel.self, "channel"),
            outcome: try row.decode(AuditOutcome.self, "outcome"), reason: try row("reason"),
            detail: try row.stringDictionary("detail"), previousHash: try row("prev_hash"), hash: try row("hash")
        )
    }
}
