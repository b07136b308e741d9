import GatewayConfig
import GatewayPostgres
import Testing

@Suite("PostgreSQL password sources")
struct PasswordFileTests {
    let url = try! PostgresURL("postgres://gateway@db.internal:5433/approvals")

    @Test("the first matching line wins; * matches anything; comments are skipped")
    func matching() {
        let file = PasswordFile("""
            # comment
            other.host:5433:approvals:gateway:wrong-host
            db.internal:5433:approvals:gateway:right
            *:*:*:*:fallback
            """)
        #expect(file.password(host: "db.internal", port: 5433, database: "approvals", user: "gateway") == "right")
        #expect(file.password(host: "x", port: 1, database: "y", user: "z") == "fallback")
    }

    @Test("escaped colons and backslashes are part of a field")
    func escapes() {
        let file = PasswordFile(#"db.internal:5433:approvals:gateway:pa\:ss\\word"#)
        #expect(file.password(host: "db.internal", port: 5433, database: "approvals", user: "gateway") == #"pa:ss\word"#)
    }

    @Test("malformed lines are skipped")
    func malformed() {
        let file = PasswordFile("db.internal:5433:approvals\n*:*:*:gateway:ok")
        #expect(file.entries.count == 1)
        #expect(file.password(host: "db.internal", port: 5433, database: "approvals", user: "gateway") == "ok")
    }

    @Test("the environment variable comes before the password file")
    func environmentFirst() throws {
        #expect(try PostgresPassword.resolve(for: url, environment: ["APPROVAL_GATEWAY_DATABASE_PASSWORD": "from-env", "PGPASSFILE": "/nonexistent"]) == "from-env")
        #expect(try PostgresPassword.resolve(for: url, environment: ["HOME": "/nonexistent-home"]) == nil)
    }

    @Test("an unreadable PGPASSFILE is an error that names it")
    func unreadableFile() {
        #expect(throws: PostgresStoreError.self) {
            try PostgresPassword.resolve(for: url, environment: ["PGPASSFILE": "/nonexistent/pgpass"])
        }
    }
}
