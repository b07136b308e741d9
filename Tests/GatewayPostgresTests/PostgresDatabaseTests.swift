import Foundation
import GatewayConfig
import GatewayPostgres
import GatewayTestSupport
import PostgresNIO
import Testing

/// The connection pool and the migrations against the real PostgreSQL lab (scripts/postgres-lab).
@Suite("PostgreSQL database")
struct PostgresDatabaseTests {
    @Test("migrations create the schema once; a second run applies nothing")
    func migratesOnce() async throws {
        let database = try await PostgresLab.freshPool("migrate")
        let first = try await PostgresMigrations.migrate(database)
        let second = try await PostgresMigrations.migrate(database)
        let applied = try await PostgresMigrations.applied(database)
        let tables = try await database.read { session in
            try session.rows("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename").map { try $0.decode(String.self) }
        }
        await database.close()
        #expect(first == PostgresMigrations.all.map(\.id))
        #expect(second.isEmpty)
        #expect(applied == PostgresMigrations.all.map(\.id))
        for table in ["access_requests", "audit_log", "outbox", "gateway_leases", "web_sessions", "api_keys", "inbox_answers"] {
            #expect(tables.contains(table), "missing table \(table)")
        }
    }

    @Test("gateways starting together migrate once (advisory lock)")
    func concurrentMigrations() async throws {
        var url = try await PostgresLab.freshDatabase("together")
        url.poolSize = 2
        let gateways = try (0..<4).map { _ in try PostgresDatabase(url: url, password: PostgresLab.password) }
        let results = try await withThrowingTaskGroup(of: [String].self) { group in
            for gateway in gateways { group.addTask { try await PostgresMigrations.migrate(gateway) } }
            return try await group.reduce(into: [[String]]()) { $0.append($1) }
        }
        for gateway in gateways { await gateway.close() }
        #expect(results.filter { !$0.isEmpty }.count == 1)
        #expect(results.flatMap { $0 } == PostgresMigrations.all.map(\.id))
    }

    @Test("a database migrated by a newer version is refused with a clear error")
    func newerDatabase() async throws {
        let database = try await PostgresLab.freshPool("newer")
        try await PostgresMigrations.migrate(database)
        _ = _ = try await database.write { try $0.execute("INSERT INTO gateway_migrations (id) VALUES ('v99-future')") }
        let error = await #expect(throws: PostgresStoreError.self) { try await PostgresMigrations.migrate(database) }
        await database.close()
        #expect(error?.message.contains("newer approval-gateway") == true)
        #expect(error?.message.contains("v99-future") == true)
    }

    @Test("AUDIT-1: the audit log refuses updates, deletes and truncation")
    func auditAppendOnly() async throws {
        let database = try await PostgresLab.freshPool("audit")
        try await PostgresMigrations.migrate(database)
        _ = try await database.write { session in
            try session.execute("""
                INSERT INTO audit_log (at, at_text, action, outcome) VALUES (now(), '2026-01-01 00:00:00.000', 'request.create', 'ok')
                """)
        }
        for statement in ["UPDATE audit_log SET outcome = 'refused'", "DELETE FROM audit_log", "TRUNCATE audit_log"] {
            let error = await #expect(throws: PostgresStoreError.self) {
                _ = try await database.write { try $0.execute(PostgresQuery(unsafeSQL: statement)) }
            }
            #expect(error?.message.contains("append-only") == true, "\(statement): \(String(describing: error))")
        }
        let count = try await database.read { try $0.value("SELECT count(*) FROM audit_log", as: Int.self) }
        await database.close()
        #expect(count == 1)
    }

    @Test("AUTHZ-4: concurrent conditional claims on one row give exactly one winner")
    func conditionalClaim() async throws {
        let database = try await PostgresLab.freshPool("claim", poolSize: 8)
        _ = try await database.write { session in
            try session.execute("CREATE TABLE claims (id BIGINT PRIMARY KEY, state TEXT NOT NULL, winner BIGINT)")
        }
        for round in 0..<10 {
            _ = try await database.write { try $0.execute("INSERT INTO claims (id, state) VALUES (\(round), 'pending')") }
            let wins = try await withThrowingTaskGroup(of: Int.self) { group in
                for attempt in 0..<12 {
                    group.addTask {
                        try await database.write { session in
                            try session.execute("UPDATE claims SET state = 'approved', winner = \(attempt) WHERE id = \(round) AND state = 'pending'")
                        }
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(wins == 1, "round \(round): \(wins) winners")
        }
        await database.close()
    }

    @Test("concurrent read-modify-write transactions never lose an update")
    func readModifyWrite() async throws {
        let database = try await PostgresLab.freshPool("counter", poolSize: 8)
        _ = try await database.write { session in
            try session.execute("CREATE TABLE counter (id INT PRIMARY KEY, value BIGINT NOT NULL)")
            try session.execute("INSERT INTO counter VALUES (1, 0)")
        }
        // Read, then write what was read plus one: were write transactions to run side by side,
        // concurrent bodies would overwrite each other.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<40 {
                group.addTask {
                    _ = try await database.write { session in
                        let value = try session.value("SELECT value FROM counter WHERE id = 1", as: Int.self) ?? 0
                        try session.execute("UPDATE counter SET value = \(value + 1) WHERE id = 1")
                    }
                }
            }
            try await group.waitForAll()
        }
        let value = try await database.read { try $0.value("SELECT value FROM counter WHERE id = 1", as: Int.self) }
        await database.close()
        #expect(value == 40)
    }

    @Test("a body that throws rolls back everything it wrote")
    func rollback() async throws {
        struct Abandon: Error {}
        let database = try await PostgresLab.freshPool("rollback")
        _ = try await database.write { try $0.execute("CREATE TABLE notes (text TEXT)") }
        await #expect(throws: Abandon.self) {
            _ = try await database.write { session in
                try session.execute("INSERT INTO notes VALUES ('half')")
                throw Abandon()
            }
        }
        let count = try await database.read { try $0.value("SELECT count(*) FROM notes", as: Int.self) }
        await database.close()
        #expect(count == 0)
    }

    @Test("a wrong password fails with the server's reason, not a generic error")
    func wrongPassword() async throws {
        let database = try PostgresDatabase(url: PostgresLab.url, password: "not-the-password")
        let error = await #expect(throws: PostgresStoreError.self) {
            try await database.read { try $0.value("SELECT 1", as: Int.self) }
        }
        await database.close()
        let message = error?.message ?? ""
        #expect(message.contains("cannot connect to PostgreSQL at 127.0.0.1"))
        #expect(message.contains("password authentication failed"))
        #expect(!message.contains("not-the-password"))
    }

    @Test("a server that is not there is named in the error")
    func noServer() async throws {
        var url = PostgresLab.url
        url.port = 1 // nothing listens on port 1
        let database = try PostgresDatabase(url: url, password: nil)
        let error = await #expect(throws: PostgresStoreError.self) {
            try await database.read { try $0.value("SELECT 1", as: Int.self) }
        }
        await database.close()
        #expect(error?.message.contains("cannot connect to PostgreSQL at 127.0.0.1:1") == true)
    }
}
