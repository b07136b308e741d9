import Foundation
@testable import GatewayPostgres
import GatewayTestSupport
import PostgresNIO
import Testing

/// Queries run by name once a connection has prepared them (``PreparedStatements``), against the
/// PostgreSQL lab.
@Suite("PostgreSQL prepared queries")
struct PreparedStatementsTests {
    /// How many named statements the session's connection holds on the server (asked unnamed).
    static func serverSideCount(_ session: PostgresSession) throws -> Int {
        let rows = try session.connection.query("SELECT count(*) FROM pg_prepared_statements", logger: session.logger).wait().rows
        return try rows[0].decode(Int.self)
    }

    @Test("Only queries are prepared: SELECT and WITH, in any case and after white space")
    func whatIsPrepared() {
        for sql in ["SELECT 1", "select * from users", "  \n\tWITH x AS (SELECT 1) SELECT * FROM x", "With changed AS (UPDATE t SET a = 1 RETURNING *) SELECT * FROM changed"] {
            #expect(PreparedStatements.isPreparable(sql), "\(sql)")
        }
        for sql in ["BEGIN", "COMMIT", "INSERT INTO t VALUES (1)", "UPDATE t SET a = 1", "selection", "WITHIN", "SELECT", "", "CREATE TABLE t (a int)", "ANALYZE"] {
            #expect(!PreparedStatements.isPreparable(sql), "\(sql)")
        }
    }

    @Test("Every kind of value the store binds reads the same through a prepared query as unnamed")
    func sameAnswers() async throws {
        let database = try await PostgresLab.freshPool("prepared-values", poolSize: 1)
        let instant = Date(timeIntervalSince1970: 1_796_004_184.567)
        let none: String? = nil
        let query: PostgresQuery = """
            SELECT \(Int64(-9_000_000_000_000))::int8 AS big, \(42)::int8 AS int, \("grüße, 'quoted' \\ and \"double\"")::text AS text,
                   \(true)::bool AS flag, \(instant)::timestamptz AS at, \(2.5)::float8 AS real, \(["a", "b", ""])::text[] AS texts,
                   \([Int64(1), 2, 3])::int8[] AS numbers, \(none)::text AS missing, \(UUID(uuidString: "7C9E6679-7425-40DE-944B-E07FC1F90AE7")!)::uuid AS id
            """
        let (unnamed, firstRun, secondRun, prepared, onServer) = try await database.read { session in
            let unnamed = try session.connection.query(query, logger: session.logger).wait().rows
            let firstRun = try session.rows(query)
            let secondRun = try session.rows(query)
            return (unnamed, firstRun, secondRun, PreparedStatements.name(for: query.sql), try Self.serverSideCount(session))
        }
        await database.close()
        #expect(prepared != nil && onServer == 1)
        for rows in [firstRun, secondRun] {
            let (expected, row) = (try #require(unnamed.first), try #require(rows.first))
            typealias Columns = (Int64, Int64, String, Bool, Date, Double, [String], [Int64], String?, UUID)
            #expect(String(describing: try row.decode(Columns.self)) == String(describing: try expected.decode(Columns.self)))
            let (big, _, text, _, at, _, texts, _, missing, _) = try row.decode((Int64, Int64, String, Bool, Date, Double, [String], [Int64], String?, UUID).self)
            #expect(big == -9_000_000_000_000 && text == "grüße, 'quoted' \\ and \"double\"" && abs(at.timeIntervalSince(instant)) < 0.000_001 && texts == ["a", "b", ""] && missing == nil)
        }
    }

    @Test("A connection prepares a query's text once and runs it with each call's parameters; other statements stay unnamed")
    func preparedOnce() async throws {
        let database = try await PostgresLab.freshPool("prepared-once", poolSize: 1)
        try await PostgresMigrations.migrate(database)
        _ = try await database.write { session in
            for email in ["a@example.test", "b@example.test", "c@example.test"] {
                try session.execute("INSERT INTO users (email, name, role, active, created_at, updated_at) VALUES (\(email), \(email), 'member', true, now(), now())")
            }
        }
        let (names, counts) = try await database.read { session in
            var names: [String?] = []
            for email in ["a@example.test", "b@example.test", "nobody@example.test", "c@example.test"] {
                names.append(try session.value("SELECT name FROM users WHERE email = \(email)", as: String.self))
            }
            let several = try session.rows(["SELECT count(*) FROM users WHERE active = \(true)", "SELECT name FROM users WHERE email = \("c@example.test")"])
            names.append(try several[1].first?.decode(String.self))
            return (names, try Self.serverSideCount(session))
        }
        // A second transaction on the same connection finds them prepared.
        let again = try await database.read { session in
            (try session.value("SELECT name FROM users WHERE email = \("b@example.test")", as: String.self), try Self.serverSideCount(session))
        }
        await database.close()
        #expect(names == ["a@example.test", "b@example.test", nil, "c@example.test", "c@example.test"])
        #expect(counts == 2)
        #expect(again.0 == "b@example.test" && again.1 == 2)
    }

    @Test("Another gateway changing a table's columns under a prepared query: the read runs again on a new connection and sees the new column")
    func schemaChangedUnderneath() async throws {
        let database = try await PostgresLab.freshPool("prepared-stale", poolSize: 1)
        _ = try await database.write { try $0.execute("CREATE TABLE things (id BIGINT PRIMARY KEY)") }
        _ = try await database.write { try $0.execute("INSERT INTO things (id) VALUES (1)") }
        let before = try await database.read { try $0.rows("SELECT * FROM things WHERE id = \(Int64(1))").first?.count }
        // The other gateway: its own pool, its own connection.
        let other = try PostgresDatabase(url: database.url, password: PostgresLab.password)
        _ = try await other.write { try $0.execute("ALTER TABLE things ADD COLUMN label TEXT NOT NULL DEFAULT 'new'") }
        await other.close()
        let after = try await database.read { session in
            try session.rows("SELECT * FROM things WHERE id = \(Int64(1))").first.map { row in (row.count, try row.decode((Int64, String).self).1) }
        }
        await database.close()
        #expect(before == 1)
        #expect(after?.0 == 2 && after?.1 == "new")
    }

    @Test("A query first prepared in a transaction a failed write had aborted does not fail on that connection afterwards")
    func preparedInAnAbortedTransaction() async throws {
        let database = try await PostgresLab.freshPool("prepared-aborted", poolSize: 1)
        _ = try await database.write { try $0.execute("CREATE TABLE notes (id BIGINT PRIMARY KEY)") }
        let failed = await #expect(throws: PostgresStoreError.self) {
            try await database.write { session in
                session.sendDeferred("INSERT INTO notes VALUES (1)")
                session.sendDeferred("INSERT INTO notes VALUES (1)")
                _ = try session.value("SELECT count(*) FROM notes WHERE id > \(Int64(0))", as: Int.self)
            }
        }
        let count = try await database.read { try $0.value("SELECT count(*) FROM notes WHERE id > \(Int64(0))", as: Int.self) }
        await database.close()
        #expect(failed?.message.contains("duplicate key") == true)
        #expect(count == 0)
    }

    @Test("The stale-statement errors are the ones that drop a connection and run the transaction again")
    func staleErrors() {
        #expect(PostgresStoreError.isStalePreparedStatement(PostgresStoreError("cached plan must not change result type [SQLSTATE 0A000]", sqlState: "0A000")))
        #expect(PostgresStoreError.isStalePreparedStatement(PostgresStoreError("prepared statement \"x\" does not exist", sqlState: "26000")))
        #expect(PostgresStoreError.isRetryable(PostgresStoreError("prepared statement \"x\" does not exist", sqlState: "26000")))
        #expect(!PostgresStoreError.isStalePreparedStatement(PostgresStoreError("FOR UPDATE is not allowed with UNION", sqlState: "0A000")))
        #expect(!PostgresStoreError.isStalePreparedStatement(PostgresStoreError("duplicate key", sqlState: "23505")))
    }
}
