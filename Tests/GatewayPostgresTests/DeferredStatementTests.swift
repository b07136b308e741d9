import Foundation
import GatewayTestSupport
import PostgresNIO
import Testing
@testable import GatewayPostgres

/// Writes sent without waiting for their answer (outbox rows, audit records): a failure among
/// them fails the transaction, is the error reported, and leaves nothing committed.
@Suite("PostgreSQL deferred writes")
struct DeferredStatementTests {
    func database() async throws -> GatewayPostgres.PostgresDatabase {
        let database = try await PostgresLab.freshPool("deferred")
        _ = try await database.write { try $0.execute("CREATE TABLE notes (id bigint PRIMARY KEY, body text NOT NULL)") }
        return database
    }

    func count(_ database: GatewayPostgres.PostgresDatabase) async throws -> Int {
        try await database.read { try $0.value("SELECT count(*) FROM notes", as: Int.self) } ?? -1
    }

    @Test("deferred writes commit with the transaction, in order with the statements around them")
    func commitsInOrder() async throws {
        let database = try await database()
        let seen = try await database.write { session in
            session.sendDeferred("INSERT INTO notes VALUES (1, 'one')")
            session.sendDeferred("INSERT INTO notes VALUES (2, 'two')")
            return try session.value("SELECT count(*) FROM notes", as: Int.self)
        }
        #expect(seen == 2)
        #expect(try await count(database) == 2)
        await database.close()
    }

    @Test("a deferred write that fails is the error a later statement reports, and nothing is committed")
    func failureSeenByALaterStatement() async throws {
        let database = try await database()
        let error = await #expect(throws: PostgresStoreError.self) {
            try await database.write { session in
                session.sendDeferred("INSERT INTO notes VALUES (1, 'one')")
                session.sendDeferred("INSERT INTO notes VALUES (1, 'again')")
                _ = try session.value("SELECT count(*) FROM notes", as: Int.self)
            }
        }
        #expect(error?.message.contains("duplicate key") == true, "\(String(describing: error))")
        #expect(try await count(database) == 0)
        await database.close()
    }

    @Test("a deferred write that fails with nothing after it fails the commit, and nothing is committed")
    func failureSeenAtCommit() async throws {
        let database = try await database()
        let error = await #expect(throws: PostgresStoreError.self) {
            try await database.write { session in
                session.sendDeferred("INSERT INTO notes VALUES (1, 'one')")
                session.sendDeferred("INSERT INTO notes VALUES (2, NULL)")
            }
        }
        #expect(error?.message.contains("null") == true, "\(String(describing: error))")
        #expect(try await count(database) == 0)
        // The connection is usable afterwards.
        _ = try await database.write { session in session.sendDeferred("INSERT INTO notes VALUES (3, 'three')") }
        #expect(try await count(database) == 1)
        await database.close()
    }
}
