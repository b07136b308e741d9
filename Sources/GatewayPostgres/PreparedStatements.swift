import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO

/// Queries run as named prepared statements.
///
/// A statement sent unnamed is parsed and planned by the server each time it runs. For the
/// gateway's reads, which are the same few texts with other parameters, that planning was 70 % of
/// the server's time per page (BENCHMARKS.md, `pg_stat_statements`). A query run here is prepared
/// by each connection the first time that connection runs its text (PostgresNIO keeps track, by
/// the statement's name), then runs by name: parsed once, planned as the server judges best
/// (after five runs it may keep a generic plan).
///
/// Only queries are prepared (text starting with `SELECT` or `WITH`, whose rows the caller
/// wants), never `BEGIN`, locks, DDL or statements whose changed-row count is read. At most
/// ``capacity`` texts get a name; later ones run unnamed, so text built from data cannot grow
/// the server's memory without bound.
enum PreparedStatements {
    /// Texts that get a name: far more than the gateway's distinct queries (the list query's
    /// filter combinations included).
    static let capacity = 512

    private static let names = NIOLockedValueBox<[String: String]>([:])

    /// Whether `sql` is a query worth preparing.
    static func isPreparable(_ sql: String) -> Bool {
        let start = sql.utf8.drop(while: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\t") })
        func starts(with keyword: String) -> Bool {
            start.count > keyword.utf8.count
                && zip(start, keyword.utf8).allSatisfy { $0 | 0x20 == $1 | 0x20 }
                && !isIdentifierByte(start[start.index(start.startIndex, offsetBy: keyword.utf8.count)])
        }
        return starts(with: "select") || starts(with: "with")
    }

    private static func isIdentifierByte(_ byte: UInt8) -> Bool {
        (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || byte == UInt8(ascii: "_")
    }

    /// The statement name of `sql` (the same in every connection), `nil` when it runs unnamed.
    static func name(for sql: String) -> String? {
        guard isPreparable(sql) else { return nil }
        return names.withLockedValue { names in
            if let name = names[sql] { return name }
            guard names.count < capacity else { return nil }
            let name = "ag_q\(names.count + 1)"
            names[sql] = name
            return name
        }
    }

    /// Runs `queries` on `connection` one after another, each by its name (from
    /// ``name(for:)``) when it has one, and returns their rows in order.
    ///
    /// PostgresNIO runs prepared statements only from `async` code: this starts a task for the
    /// batch and the store's body (on a thread of its own pool, never a concurrency thread)
    /// waits for its future. Everything the body sent before is already on the connection's
    /// queue, and it sends nothing more until the batch is answered, so the order is kept.
    static func run(_ queries: [(query: PostgresQuery, name: String?)], on connection: PostgresConnection, logger: Logger) -> EventLoopFuture<[[PostgresRow]]> {
        let promise = connection.eventLoop.makePromise(of: [[PostgresRow]].self)
        promise.completeWithTask {
            var answers: [[PostgresRow]] = []
            answers.reserveCapacity(queries.count)
            for (query, name) in queries {
                guard let name else {
                    answers.append(try await connection.query(query, logger: logger).get().rows)
                    continue
                }
                let rows = try await NamedQuery.$current.withValue(NamedQuery.Text(name: name, sql: query.sql)) {
                    try await connection.execute(NamedQuery(bindings: query.binds), logger: logger)
                }
                var collected: [PostgresRow] = []
                for try await row in rows { collected.append(row) }
                answers.append(collected)
            }
            return answers
        }
        return promise.futureResult
    }
}

/// One query as PostgresNIO's `PostgresPreparedStatement`.
///
/// PostgresNIO names a prepared statement, and reads its text, from the statement's type; the
/// store's queries are values. The name and the text are therefore handed over in a task-local
/// value, which ``PreparedStatements/run(_:on:logger:)`` sets around the one call that reads
/// them (`execute`); the parameters' types are those of the bindings, as for an unnamed query.
struct NamedQuery: PostgresPreparedStatement {
    struct Text: Sendable {
        let name: String
        let sql: String
    }

    @TaskLocal static var current: Text?

    static var name: String {
        guard let current else { preconditionFailure("a NamedQuery's name is read only while PreparedStatements.run executes it") }
        return current.name
    }

    static var sql: String {
        guard let current else { preconditionFailure("a NamedQuery's text is read only while PreparedStatements.run executes it") }
        return current.sql
    }

    let bindings: PostgresBindings

    func makeBindings() throws -> PostgresBindings { bindings }

    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
}
