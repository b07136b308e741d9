import Foundation
import GatewayCore
import GatewayApp
@testable import GatewayStore
import GatewayTestSupport
import GRDB
import Testing

@Suite struct StoreLifecycleTests {
    func temporaryPath() -> String {
        TestGateway.temporaryFolder("gateway-lifecycle").appendingPathComponent("nested/gateway.sqlite").path
    }

    @Test("Migrations create the schema on an empty database, in WAL mode")
    func migratesEmptyDatabase() throws {
        let path = temporaryPath()
        let store = try SQLiteStore(path: path)
        #expect(try store.appliedMigrations() == SQLiteStore.migrator.migrations)
        let mode = try store.pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
    }

    @Test("Reopening an existing database keeps its data and applies nothing twice")
    func reopensExistingDatabase() async throws {
        let path = temporaryPath()
        do {
            let gateway = try TestGateway(store: SQLiteStore(path: path), clock: TestClock(Fixture.start))
            _ = try await gateway.syncDirectory(Fixture.directory, now: Fixture.start)
            _ = try await gateway.createRequest(Fixture.newRequest(), now: Fixture.start)
        }
        let reopened = try SQLiteStore(path: path)
        #expect(try reopened.appliedMigrations() == SQLiteStore.migrator.migrations)
        #expect(try await reopened.requests(RequestFilter()).count == 1)
        #expect(try await TestGateway(store: reopened).syncDirectory(Fixture.directory, now: Fixture.start).changedAnything == false)
    }

    @Test("Several processes opening a new database at once migrate it exactly once")
    func concurrentFirstOpen() async throws {
        let path = temporaryPath()
        // Separate pools stand in for separate processes: each has its own connections and lock.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask { _ = try SQLiteStore(path: path) }
            }
            try await group.waitForAll()
        }
        #expect(try SQLiteStore(path: path).appliedMigrations() == SQLiteStore.migrator.migrations)
    }

    @Test("A stored value this build does not know is an error naming table, row and column, never a default")
    func unknownStoredValuesFailLoudly() async throws {
        let gateway = try TestGateway(store: SQLiteStore(path: temporaryPath()), clock: TestClock(Fixture.start))
        _ = try await gateway.syncDirectory(Fixture.directory, now: Fixture.start)
        let request = try await gateway.createRequest(Fixture.newRequest(), now: Fixture.start)
        // An unknown state (a newer version's, or a corrupted row) must not read as `pending`.
        try await gateway.sqlite.pool.write { db in
            try db.execute(sql: "UPDATE access_requests SET state = 'on_hold' WHERE id = ?", arguments: [request.id])
        }
        await #expect {
            _ = try await gateway.store.request(id: request.id)
        } throws: { error in
            "\(error)".contains("\"on_hold\" in access_requests.state of row \(request.id)")
        }
        await #expect(throws: UnreadableValue.self) {
            _ = try await gateway.decide(DecisionAttempt(requestID: request.id, reviewer: "admin@example.test", action: .approve, channel: .cli), now: Fixture.start)
        }
        try await gateway.sqlite.pool.write { db in
            try db.execute(sql: "UPDATE users SET role = 'superuser' WHERE email = 'approver4@example.test'")
            try db.execute(sql: "UPDATE outbox SET status = 'queued' WHERE id = 1")
        }
        await #expect(throws: UnreadableValue.self) { _ = try await gateway.store.users() }
        await #expect(throws: UnreadableValue.self) { _ = try await gateway.store.outboxEntries(status: nil, limit: 10) }
    }

    @Test("A database migrated by a newer version is refused with a clear error")
    func refusesNewerSchema() throws {
        let path = temporaryPath()
        do {
            let store = try SQLiteStore(path: path)
            try store.pool.write { db in
                try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')")
            }
        }
        #expect {
            _ = try SQLiteStore(path: path)
        } throws: { error in
            "\(error)".contains("newer version") && "\(error)".contains("v99-from-the-future")
        }
    }

    @Test("A path that cannot hold a database gives a clear error")
    func unusablePath() throws {
        let file = TestGateway.temporaryFolder("gateway-not-a-dir")
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: file)
        #expect {
            _ = try SQLiteStore(path: file.appendingPathComponent("gateway.sqlite").path)
        } throws: { error in
            "\(error)".contains("cannot create the database directory")
        }
    }

    @Test("AUDIT-1: the audit log refuses updates and deletes")
    func auditLogIsAppendOnly() async throws {
        let gateway = try TestGateway(store: SQLiteStore(path: temporaryPath()), clock: TestClock(Fixture.start))
        let store = gateway.sqlite
        _ = try await gateway.syncDirectory(Fixture.directory, now: Fixture.start)
        _ = try await gateway.createRequest(Fixture.newRequest(), now: Fixture.start)
        #expect(try await store.auditLog(requestID: nil).count == 2)
        #expect(throws: DatabaseError.self) {
            try store.pool.write { db in try db.execute(sql: "UPDATE audit_log SET outcome = 'accepted'") }
        }
        #expect(throws: DatabaseError.self) {
            try store.pool.write { db in try db.execute(sql: "DELETE FROM audit_log") }
        }
        #expect(try await store.auditLog(requestID: nil).count == 2)
    }
}
