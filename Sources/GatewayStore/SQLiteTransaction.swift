import Foundation
import GRDB
import GatewayApp
import GatewayCore

/// The repositories of ``GatewayApp`` over one SQLite transaction: plain reads and writes, no rules.
///
/// Created by ``SQLiteStore`` for the length of one `write` or `read` body and never kept.
struct SQLiteTransaction {
    let db: Database
}

extension SQLiteStore: GatewayStorage {
    public func write<T: Sendable>(_ body: @escaping @Sendable (any StoreTransaction) throws -> T) async throws -> T {
        try await pool.write { db in try body(SQLiteTransaction(db: db)) }
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any StoreTransaction) throws -> T) async throws -> T {
        // GRDB's `async` read crosses threads four times: onto the pool's waiting queue and back,
        // onto the reader's queue and back. Its callback form goes from one queue to the next and
        // resumes the caller once. A read is short and never waits on a writer (WAL), so it is
        // not interrupted when the task is cancelled.
        try await withCheckedThrowingContinuation { continuation in
            pool.asyncRead { database in
                continuation.resume(with: Result { try body(SQLiteTransaction(db: database.get())) })
            }
        }
    }
}

// MARK: Audit

extension SQLiteTransaction: AuditRepository {
    /// Appends one audit record (AUDIT-1). The table rejects updates and deletes.
    /// Appends one audit record (AUDIT-1), linked into the hash chain. The table rejects updates
    /// and deletes; the chain shows any edit made around that.
    func appendAudit(_ entry: AuditEntry) throws {
        let json = String(decoding: try JSONEncoder.sorted.encode(entry.detail), as: UTF8.self)
        // Hash the instant exactly as it is stored.
        guard case .string(let at) = entry.at.databaseValue.storage else { throw StoreError("an audit time did not encode as text") }
        let previous = try AuditChain.head(db)
        let hash = AuditChain.hash(
            at: at, action: entry.action.rawValue, actor: entry.actor, requestID: entry.requestID, channel: entry.channel?.rawValue,
            outcome: entry.outcome.rawValue, reason: entry.reason, detail: json, previous: previous
        )
        try db.cachedStatement(sql: """
            INSERT INTO audit_log (at, action, actor, request_id, channel, outcome, reason, detail, prev_hash, hash)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [at, entry.action.rawValue, entry.actor, entry.requestID, entry.channel?.rawValue, entry.outcome.rawValue, entry.reason, json, previous, hash])
    }
}

extension JSONEncoder {
    static var sorted: JSONEncoder { sortedKeys }
}

/// Decodes a `String`-backed enum from `column`, failing loudly (naming table, row and column) on an
/// unknown value.
func decode<E: RawRepresentable>(_ type: E.Type, _ row: Row, _ column: String, table: String) throws -> E where E.RawValue == String {
    let raw: String = row[column]
    guard let value = E(rawValue: raw) else {
        throw UnreadableValue(table: table, rowID: row.hasColumn("id") ? row["id"] : nil, column: column, value: raw)
    }
    return value
}

/// The optional form of ``decode(_:_:_:table:)``: `NULL` is `nil`, an unknown value an error.
func decodeIfPresent<E: RawRepresentable>(_ type: E.Type, _ row: Row, _ column: String, table: String) throws -> E? where E.RawValue == String {
    guard let raw: String = row[column] else { return nil }
    guard let value = E(rawValue: raw) else {
        throw UnreadableValue(table: table, rowID: row.hasColumn("id") ? row["id"] : nil, column: column, value: raw)
    }
    return value
}

/// ``decode(_:_:_:table:)`` for the column at `index` (called `column` in errors) of a row whose
/// first column is its id.
func decode<E: RawRepresentable>(_ type: E.Type, _ row: Row, atIndex index: Int, named column: String, table: String) throws -> E where E.RawValue == String {
    let raw: String = row[index]
    guard let value = E(rawValue: raw) else {
        throw UnreadableValue(table: table, rowID: row[0], column: column, value: raw)
    }
    return value
}

/// The optional form of ``decode(_:_:atIndex:named:table:)``.
func decodeIfPresent<E: RawRepresentable>(_ type: E.Type, _ row: Row, atIndex index: Int, named column: String, table: String) throws -> E? where E.RawValue == String {
    guard let raw: String = row[index] else { return nil }
    guard let value = E(rawValue: raw) else {
        throw UnreadableValue(table: table, rowID: row[0], column: column, value: raw)
    }
    return value
}
