import Foundation
import GatewayConfig
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

/// A pool of PostgreSQL connections that runs synchronous transaction bodies, as GRDB does for
/// SQLite.
///
/// The gateway's repositories are synchronous: a use case reads, decides and writes inside one
/// closure so that nothing else can interleave. Each body runs on a thread of a private pool
/// (never on the Swift concurrency pool or an event loop), holding one connection for its length;
/// its statements block that thread while the event loop talks to the server. There are as many
/// threads as connections, so a body never waits for a connection another body holds.
///
/// Write transactions run at `READ COMMITTED` (every statement sees everything committed before
/// it) under transaction-scoped advisory locks. A plain ``write(prefetching:_:)`` takes the write
/// lock alone, so it runs by itself across every gateway, as the SQLite store's writes do. A write
/// of one scope (``write(sharing:_:)``: one request, one requester's requests for a resource) takes
/// the write lock shared and its scope's lock alone, so it runs beside writes of other scopes and
/// waits only for its own scope and for writes that run alone. (Letting every write run side by
/// side under `SERIALIZABLE` made nearly every pair conflict on the audit log's hash chain and
/// retry.) Reads run on a snapshot, beside the writes. A body that still fails with a
/// serialization failure or a deadlock is rolled back and run again (it has no effect outside the
/// database), up to ``maximumAttempts`` times.
public final class PostgresDatabase: Sendable {
    /// The advisory lock every write transaction holds ("AGWRITE").
    static let writeLock: Int64 = 0x4147_5752_4954_45

    /// How often a transaction is tried when it keeps losing serialization races.
    public static let maximumAttempts = 40

    public let url: PostgresURL
    private let configuration: PostgresConnection.Configuration
    private let threads: NIOThreadPool
    private let eventLoopGroup: any EventLoopGroup
    private let idle = NIOLockedValueBox<[PostgresConnection]>([])
    private let logger: Logger
    private let nextConnectionID = ManagedAtomicCounter()

    /// Prepares a pool for `url`; connections open on first use.
    /// - Parameter password: the password (see ``PostgresPassword``), `nil` when the server needs none.
    public init(url: PostgresURL, password: String?, logger: Logger = Logger(label: "approval-gateway.postgres")) throws {
        self.url = url
        self.logger = logger
        self.eventLoopGroup = MultiThreadedEventLoopGroup.singleton
        let tls: PostgresConnection.Configuration.TLS
        switch url.sslMode {
        case .disable:
            tls = .disable
        case .prefer, .require:
            var settings = TLSConfiguration.makeClientConfiguration()
            settings.certificateVerification = .none
            let context = try NIOSSLContext(configuration: settings)
            tls = url.sslMode == .prefer ? .prefer(context) : .require(context)
        case .verifyFull:
            var settings = TLSConfiguration.makeClientConfiguration()
            settings.certificateVerification = .fullVerification
            if let file = url.sslRootCertificate {
                settings.trustRoots = .file(file)
            }
            tls = .require(try NIOSSLContext(configuration: settings))
        }
        var configuration = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.user, password: password, database: url.database, tls: tls
        )
        configuration.options.connectTimeout = .seconds(10)
        self.configuration = configuration
        self.threads = NIOThreadPool(numberOfThreads: url.poolSize)
        threads.start()
    }

    deinit {
        // A pool dropped without ``close()`` still closes its connections.
        for connection in idle.withLockedValue({ $0 }) { Self.closeInBackground(connection) }
        threads.shutdownGracefully { _ in }
    }

    /// Closes a connection without waiting, keeping it alive until the close completes.
    private static func closeInBackground(_ connection: PostgresConnection) {
        connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    /// Closes every connection and stops the pool's threads.
    public func close() async {
        let connections = idle.withLockedValue { connections in
            defer { connections.removeAll() }
            return connections
        }
        for connection in connections { try? await connection.close() }
        try? await threads.shutdownGracefully()
    }

    /// Runs `body` in one read-write transaction, after every other gateway's write that holds the
    /// write lock, and commits it.
    /// - Parameter prefetch: a query sent right after the lock is granted, without waiting for
    ///   it: its answer is the session's ``PostgresSession/prefetched``.
    @discardableResult
    public func write<T: Sendable>(prefetching prefetch: PostgresQuery? = nil, _ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        try await transaction(begin: "BEGIN ISOLATION LEVEL READ COMMITTED", lock: "SELECT pg_advisory_xact_lock(\(Self.writeLock))", prefetch: prefetch, body)
    }

    /// Runs `body` in one read-write transaction beside other writes that hold the write lock
    /// shared, and commits it: the transaction takes the write lock shared, then the advisory
    /// lock of its own scope, `key` (two 32-bit numbers), so that it waits for every write that
    /// holds the write lock alone and for writes of the same scope, and for nothing else.
    @discardableResult
    public func write<T: Sendable>(sharing key: (Int32, Int32), _ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        try await transaction(
            begin: "BEGIN ISOLATION LEVEL READ COMMITTED",
            lock: "SELECT pg_advisory_xact_lock_shared(\(Self.writeLock)), pg_advisory_xact_lock(\(key.0), \(key.1))", body
        )
    }

    /// Runs `body`, whose statements each commit on their own, without the write lock.
    ///
    /// Only for bookkeeping that is one self-contained statement on rows no use case reads to
    /// decide (the outbox's claims and send results): it neither waits behind nor holds up the
    /// serialised writes, so an email accepted by SMTP is recorded as sent one round trip later.
    @discardableResult
    public func autocommit<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        try await transaction(begin: nil, lock: nil, body)
    }

    /// Runs `body` in one read-only transaction over a consistent snapshot.
    public func read<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        try await transaction(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", lock: nil, readOnly: true, body)
    }

    /// Runs `body` on one connection outside any transaction (session-level locks, `CREATE DATABASE`).
    @discardableResult
    public func withSession<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        try await threads.runIfActive { [self] in
            let connection = try checkOut()
            var healthy = true
            defer { checkIn(connection, healthy: healthy) }
            do {
                return try body(PostgresSession(connection: connection, logger: logger))
            } catch {
                healthy = !connection.isClosed
                throw error
            }
        }
    }

    /// Runs `body` on a connection, in a transaction opened by `begin` (none when `nil`).
    ///
    /// The connection answers statements in the order they were sent, so `BEGIN` is sent without
    /// waiting for its answer (the body's first statement follows it on the wire), and so is the
    /// `COMMIT` of a read-only transaction (the next body on this connection queues behind it):
    /// a one-query read blocks its thread once, not three times.
    private func transaction<T: Sendable>(
        begin: String?, lock: PostgresQuery?, readOnly: Bool = false, prefetch: PostgresQuery? = nil, _ body: @escaping @Sendable (PostgresSession) throws -> T
    ) async throws -> T {
        try await threads.runIfActive { [self] in
            var attempt = 1
            while true {
                let connection = try checkOut()
                var session = PostgresSession(connection: connection, logger: logger, preparesQueries: true)
                // BEGIN and the write lock are queued without waiting: the connection sends each
                // statement once the one before is answered, so the body's first statement goes out
                // as soon as the lock is granted, without this thread waking in between, and its
                // answer is the first wait.
                let begun = begin.map { session.send(PostgresQuery(unsafeSQL: $0)) }
                let locked = lock.map(session.send)
                session.prefetched = prefetch.map(session.send)
                do {
                    let value: T
                    do {
                        value = try body(session)
                    } catch {
                        // When BEGIN, the lock or the prefetch failed, every later statement failed with
                        // "transaction aborted": theirs is the error to report.
                        try session.wait(for: begun)
                        try session.wait(for: locked)
                        try session.wait(for: session.prefetched)
                        throw error
                    }
                    // Answered before the body's first statement was: these do not wait.
                    try session.wait(for: begun)
                    try session.wait(for: locked)
                    try session.wait(for: session.prefetched)
                    if begin == nil {
                        try session.settleDeferred()
                    } else if readOnly {
                        _ = session.send("COMMIT")
                    } else {
                        // The COMMIT goes out behind the deferred writes; if one of them failed,
                        // the server ended the transaction with a rollback, and that failure is
                        // what this throws.
                        let commit = session.send("COMMIT")
                        try session.settleDeferred()
                        try session.wait(for: commit)
                    }
                    checkIn(connection, healthy: !session.preparedQueryFailed.withLockedValue { $0 })
                    return value
                } catch {
                    // A failed transaction is rolled back; a broken connection is dropped, and so is
                    // one whose prepared statements the server no longer runs as they were prepared.
                    let rolledBack = begin == nil ? !connection.isClosed : (try? session.execute("ROLLBACK")) != nil
                    checkIn(connection, healthy: rolledBack && !connection.isClosed && !PostgresStoreError.isStalePreparedStatement(error)
                        && !session.preparedQueryFailed.withLockedValue { $0 })
                    // The body's own errors (a refused decision) reach the caller as they are.
                    guard PostgresStoreError.isRetryable(error), attempt < Self.maximumAttempts else {
                        throw error is PSQLError ? PostgresStoreError.wrap(error) : error
                    }
                    attempt += 1
                    // Let the winner finish before trying again: a random wait that grows with
                    // each lost race (up to 64 ms), so that the losers do not collide again.
                    let ceiling = min(0.064, 0.001 * pow(2, Double(min(attempt, 6))))
                    Thread.sleep(forTimeInterval: Double.random(in: 0...ceiling))
                }
            }
        }
    }

    private func checkOut() throws -> PostgresConnection {
        while let connection = idle.withLockedValue({ $0.popLast() }) {
            if !connection.isClosed { return connection }
        }
        do {
            return try PostgresConnection.connect(
                on: eventLoopGroup.next(), configuration: configuration, id: nextConnectionID.next(), logger: logger
            ).wait()
        } catch {
            throw PostgresStoreError("cannot connect to PostgreSQL at \(url.host):\(url.port) as \(url.user): \(PostgresStoreError.wrap(error).message)")
        }
    }

    private func checkIn(_ connection: PostgresConnection, healthy: Bool) {
        if healthy, !connection.isClosed {
            idle.withLockedValue { $0.append(connection) }
        } else {
            Self.closeInBackground(connection)
        }
    }
}

/// One connection lent to a transaction body: statements run one at a time and block the
/// calling thread (a thread of ``PostgresDatabase``'s pool) until the server answers.
public struct PostgresSession {
    let connection: PostgresConnection
    let logger: Logger
    /// Whether queries run as prepared statements (``PreparedStatements``): in transactions, not
    /// in sessions outside one (migrations, `CREATE DATABASE`).
    let preparesQueries: Bool
    /// Set when a batch with prepared queries failed. PostgresNIO remembers a failed preparation
    /// for the rest of the connection's life (one that failed because a deferred write had
    /// aborted the transaction would fail every later run of that query), so the transaction
    /// drops such a connection instead of returning it to the pool.
    let preparedQueryFailed = NIOLockedValueBox(false)
    /// Statements sent with ``sendDeferred(_:)`` whose answers nobody has looked at yet.
    private let deferred = DeferredStatements()
    /// The answer to the query the transaction sent right after taking its lock (see
    /// ``PostgresDatabase/write(prefetching:_:)``); `nil` when it sent none.
    public internal(set) var prefetched: EventLoopFuture<PostgresQueryResult>?

    init(connection: PostgresConnection, logger: Logger, preparesQueries: Bool = false) {
        self.connection = connection
        self.logger = logger
        self.preparesQueries = preparesQueries
    }

    /// Sends a statement without waiting for its answer; statements after it run after it.
    func send(_ query: PostgresQuery) -> EventLoopFuture<PostgresQueryResult> {
        connection.query(query, logger: logger)
    }

    /// Waits for the answer to a statement sent with ``send(_:)``.
    func wait(for sent: EventLoopFuture<PostgresQueryResult>?) throws {
        guard let sent else { return }
        do {
            _ = try sent.wait()
        } catch {
            throw PostgresStoreError.wrap(error)
        }
    }

    /// Sends a write whose result nobody needs (an outbox row, an audit record) without waiting
    /// for it. Its answer is checked before the transaction commits (``settleDeferred()``), and
    /// when a later statement fails (a failed statement aborts the transaction, and the later one
    /// only says so: the first failure is the one reported).
    func sendDeferred(_ query: PostgresQuery) {
        deferred.append(send(query))
    }

    /// Waits for every deferred statement and throws the first failure.
    func settleDeferred() throws {
        for sent in deferred.takeAll() { try wait(for: sent) }
    }

    /// Runs a statement and returns how many rows it changed.
    @discardableResult
    public func execute(_ query: PostgresQuery) throws -> Int {
        try answer(to: query).metadata.rows ?? 0
    }

    /// Runs a query and returns all its rows (by name when it is prepared, see
    /// ``PreparedStatements``).
    public func rows(_ query: PostgresQuery) throws -> [PostgresRow] {
        guard preparesQueries else { return try answer(to: query).rows }
        return try rows([query])[0]
    }

    /// Queues `queries` on the connection at once, then waits for their answers, in order. The
    /// connection sends each as soon as the one before is answered: the round trips to the server
    /// stay one per query, but the calling thread waits (and wakes) once, not once per query.
    public func rows(_ queries: [PostgresQuery]) throws -> [[PostgresRow]] {
        let names = preparesQueries ? queries.map { PreparedStatements.name(for: $0.sql) } : []
        if names.contains(where: { $0 != nil }) {
            do {
                return try PreparedStatements.run(zip(queries, names).map { ($0, $1) }, on: connection, logger: logger).wait()
            } catch {
                preparedQueryFailed.withLockedValue { $0 = true }
                try settleDeferred()
                throw PostgresStoreError.wrap(error)
            }
        }
        let sent = queries.map(send)
        var answers: [[PostgresRow]] = []
        answers.reserveCapacity(sent.count)
        for statement in sent {
            do {
                answers.append(try statement.wait().rows)
            } catch {
                try settleDeferred()
                throw PostgresStoreError.wrap(error)
            }
        }
        return answers
    }

    private func answer(to query: PostgresQuery) throws -> PostgresQueryResult {
        do {
            return try connection.query(query, logger: logger).wait()
        } catch {
            // A deferred write that failed made this statement fail: report that one.
            try settleDeferred()
            throw PostgresStoreError.wrap(error)
        }
    }

    /// Runs a query and decodes the first column of its first row.
    public func value<T: PostgresDecodable>(_ query: PostgresQuery, as type: T.Type = T.self) throws -> T? {
        guard let row = try rows(query).first else { return nil }
        do {
            return try row.decode(T.self)
        } catch {
            throw PostgresStoreError("a value of \(query.sql) could not be read as \(T.self): \(error)")
        }
    }
}

/// The deferred statements of one session (used by one thread at a time).
private final class DeferredStatements: @unchecked Sendable {
    private var sent: [EventLoopFuture<PostgresQueryResult>] = []

    func append(_ statement: EventLoopFuture<PostgresQueryResult>) { sent.append(statement) }

    func takeAll() -> [EventLoopFuture<PostgresQueryResult>] {
        defer { sent.removeAll() }
        return sent
    }
}

/// A thread-safe counter for connection ids (they name connections in PostgresNIO's logs).
final class ManagedAtomicCounter: Sendable {
    private let value = NIOLockedValueBox(0)

    func next() -> Int { value.withLockedValue { $0 += 1; return $0 } }
}
