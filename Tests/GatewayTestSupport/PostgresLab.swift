import Foundation
import GatewayConfig
import GatewayPostgres

/// The PostgreSQL server the test command starts on loopback (`scripts/postgres-lab start`), and
/// a fresh, empty database on it for each test that asks.
public enum PostgresLab {
    /// The lab's URL: `APPROVAL_GATEWAY_TEST_POSTGRES_URL`, else the lab's default.
    public static var url: PostgresURL {
        let text = ProcessInfo.processInfo.environment["APPROVAL_GATEWAY_TEST_POSTGRES_URL"]
            ?? "postgres://gateway@127.0.0.1:55432/gateway_test?sslmode=disable"
        return try! PostgresURL(text)
    }

    /// The lab user's password (`PG_LAB_PASSWORD`, else the lab's fixed test password).
    public static var password: String { ProcessInfo.processInfo.environment["PG_LAB_PASSWORD"] ?? "lab-secret" }

    /// Creates an empty database named after the test and returns its URL; the database is left
    /// behind for inspection (the lab lives in a temporary directory).
    public static func freshDatabase(_ label: String = "t") async throws -> PostgresURL {
        let name = "\(label.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(20))_\(UInt32.random(in: 0...UInt32.max))"
        let admin = try PostgresDatabase(url: url, password: password)
        do {
            _ = try await admin.withSession { session in
                try session.execute(.init(unsafeSQL: "CREATE DATABASE \"\(name)\""))
            }
        } catch {
            await admin.close()
            throw error
        }
        await admin.close()
        var fresh = url
        fresh.database = name
        return fresh
    }

    /// A pool on a fresh database.
    public static func freshPool(_ label: String = "t", poolSize: Int = 4) async throws -> PostgresDatabase {
        var url = try await freshDatabase(label)
        url.poolSize = poolSize
        return try PostgresDatabase(url: url, password: password)
    }
}
