import Foundation
import GRDB
import GatewayCore

/// The embedded store: one SQLite file in WAL mode, shared safely by the running server and the CLI.
///
/// Writes are serialised by SQLite (`BEGIN IMMEDIATE`); another process holding the write lock makes
/// a writer wait up to ``Options/busyTimeout`` instead of failing. Every ``AccessStore`` method is one
/// transaction.
///
/// ```swift
/// let store = try SQLiteStore(path: "var/approval-gateway.sqlite")
/// let request = try await store.createRequest(new, now: .now)
/// ```
public final class SQLiteStore: Sendable {
    /// Settings of the SQLite connection pool.
    public struct Options: Sendable {
        /// How long a writer waits for another process's write lock before failing.
        public var busyTimeout: TimeInterval = 10
        /// The most readers open at once.
        public var maximumReaderCount = 4

        public init() {}
    }

    let pool: DatabasePool
    /// The database file.
    public let path: String

    /// Opens (creating if needed) the database at `path`, and migrates it to the current schema.
    /// - Throws: ``StoreError`` when the file cannot be opened or its schema is newer than this build.
    public init(path: String, options: Options = Options()) throws {
        self.path = path
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreError("cannot create the database directory \(directory.path): \(error.localizedDescription)")
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(options.busyTimeout)
        configuration.maximumReaderCount = options.maximumReaderCount
        configuration.foreignKeysEnabled = true
        configuration.label = "approval-gateway"
        // Overwritten and deleted content (a sent email's body, an ended session) is zeroed in the
        // file, not left in free pages.
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA secure_delete = ON") }
        // Opening a new database switches it to WAL, which needs a lock SQLite's busy handler does
        // not wait for; opening and migrating hold the lock file instead (another process, such as
        // the server and a CLI command started together, waits for it).
        var opened: DatabasePool?
        try Self.withMigrationLock(path: path) {
            do {
                opened = try DatabasePool(path: path, configuration: configuration)
            } catch {
                throw StoreError("cannot open the database \(path): \(error)")
            }
            try Self.migrate(opened!, path: path)
        }
        pool = opened!
    }

    /// The schema migrations applied to the database file at `path`, read without migrating it.
    public static func appliedMigrations(path: String) throws -> [String] {
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        return try queue.read { db in try migrator.appliedMigrations(db) }
    }

    /// The schema migrations applied to this database, in order.
    public func appliedMigrations() throws -> [String] {
        try pool.read { db in try Self.migrator.appliedMigrations(db) }
    }
}

/// A store failure that is not a rule of the domain: an unusable file, a schema from the future.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
