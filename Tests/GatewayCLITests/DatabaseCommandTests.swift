import Foundation
import GatewayPostgres
import GatewayTestSupport
import Testing

/// `approval-gateway db migrate` on both backends, through the real executable.
@Suite("db migrate")
struct DatabaseCommandTests {
    @Test("on SQLite: creates and migrates the file; a second run applies nothing")
    func sqlite() async throws {
        let cli = try CLIHarness()
        let first = try await cli.run("db", "migrate")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.json["backend"] as? String == "sqlite")
        let appliedNow = first.json["applied_now"] as? [String] ?? []
        #expect(appliedNow.count >= 7)
        #expect(appliedNow == first.json["applied"] as? [String])
        let second = try await cli.run("db", "migrate")
        #expect(second.status == 0, "\(second.stderr)")
        #expect((second.json["applied_now"] as? [String])?.isEmpty == true)
        #expect(second.json["applied"] as? [String] == appliedNow)
    }

    @Test("on PostgreSQL: the password comes from the environment; the URL printed has none")
    func postgres() async throws {
        let url = try await PostgresLab.freshDatabase("cli")
        let cli = try CLIHarness(extraConfig: "")
        try "database: \(url)\n".write(toFile: cli.configPath, atomically: true, encoding: .utf8)
        let environment = ["APPROVAL_GATEWAY_DATABASE_PASSWORD": PostgresLab.password]
        let first = try await cli.run(["db", "migrate"], environment: environment)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.json["backend"] as? String == "postgres")
        #expect(first.json["applied_now"] as? [String] == ["v1-schema", "v2-grant-revocation", "v3-quorum-escalation", "v4-request-state-index", "v5-resource-page-indexes"])
        #expect(!first.stdout.contains(PostgresLab.password))
        let second = try await cli.run(["db", "migrate"], environment: environment)
        #expect((second.json["applied_now"] as? [String])?.isEmpty == true)
        #expect(second.json["applied"] as? [String] == ["v1-schema", "v2-grant-revocation", "v3-quorum-escalation", "v4-request-state-index", "v5-resource-page-indexes"])

        // Without the password the server's refusal is reported, naming the database.
        let emptyPassFile = cli.directory.appendingPathComponent("empty-pgpass")
        try "".write(to: emptyPassFile, atomically: true, encoding: .utf8)
        let refused = try await cli.run(["db", "migrate"], environment: ["APPROVAL_GATEWAY_DATABASE_PASSWORD": "", "PGPASSFILE": emptyPassFile.path])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("127.0.0.1:\(url.port)"), "\(refused.stderr)")

        // A password file works too.
        let passFile = cli.directory.appendingPathComponent("pgpass")
        try "127.0.0.1:\(url.port):*:\(url.user):\(PostgresLab.password)\n".write(to: passFile, atomically: true, encoding: .utf8)
        let viaFile = try await cli.run(["db", "migrate"], environment: ["APPROVAL_GATEWAY_DATABASE_PASSWORD": "", "PGPASSFILE": passFile.path])
        #expect(viaFile.status == 0, "\(viaFile.stderr)")

        // Every other command works on the same database.
        let signingKeys = cli.directory.appendingPathComponent("signing.keys")
        let key = try await cli.run(["signing", "generate-key"], config: false)
        try key.stdout.write(to: signingKeys, atomically: true, encoding: .utf8)
        try "database: \(url)\ndirectory: directory.yaml\nsigning:\n  keys_file: signing.keys\n".write(toFile: cli.configPath, atomically: true, encoding: .utf8)
        let opened = try await cli.run(["request", "create", "--requester", "requester1@example.test", "--resource", "prod-db", "--reason", "on PostgreSQL"], environment: environment)
        #expect(opened.status == 0, "\(opened.stderr)")
        let listed = try await cli.run(["request", "list"], environment: environment)
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains("on PostgreSQL"))
        let audit = try await cli.run(["audit", "verify"], environment: environment)
        #expect(audit.json["verified"] as? Bool == true, "\(audit.stdout)\(audit.stderr)")
    }
}

/// `approval-gateway db copy`: an SQLite installation moved into PostgreSQL, then served from there.
@Suite("db copy")
struct DatabaseCopyTests {
    @Test("moves an installation with its ids and audit chain; the copy serves; a second copy is refused")
    func copyInstallation() async throws {
        let cli = try CLIHarness()
        let environment = ["APPROVAL_GATEWAY_DATABASE_PASSWORD": PostgresLab.password]
        let first = try await cli.run("request", "create", "--requester", "requester1@example.test", "--resource", "prod-db", "--reason", "decided before the move")
        let firstID = try #require(first.json["id"] as? Int)
        #expect(try await cli.run("request", "decide", "\(firstID)", "--reviewer", "approver1@example.test", "--approve").status == 0)
        #expect(try await cli.run("request", "create", "--requester", "requester2@example.test", "--resource", "prod-db", "--reason", "pending across the move").status == 0)
        #expect(try await cli.run("apikey", "create", "--name", "proxy", "--scopes", "access:read").status == 0)
        let before = try await cli.run("audit", "verify")
        let records = try #require(before.json["records_verified"] as? Int)

        let url = try await PostgresLab.freshDatabase("copy")
        let copied = try await cli.run(["db", "copy", "--to", url.description], environment: environment)
        #expect(copied.status == 0, "\(copied.stderr)")
        #expect(copied.json["audit_chain_verified"] as? Bool == true)
        #expect(copied.json["audit_records"] as? Int == records)
        let rows = copied.json["rows"] as? [String: Int] ?? [:]
        #expect(rows["access_requests"] == 2 && rows["grants"] == 1 && rows["api_keys"] == 1)
        // The copy gathered the planner's statistics (a table never analysed has reltuples -1).
        let statistics = try PostgresDatabase(url: url, password: PostgresLab.password)
        let analysed = try await statistics.read { session in
            try session.value("SELECT reltuples FROM pg_class WHERE relname = 'access_requests'", as: Float.self)
        }
        await statistics.close()
        #expect(analysed == 2)

        // Copying again into the now-filled database is refused, and changes nothing.
        let again = try await cli.run(["db", "copy", "--to", url.description], environment: environment)
        #expect(again.status == 1)
        #expect(again.stderr.contains("needs an empty database"))

        // The gateway now runs on PostgreSQL: the same requests, the same chain, new ids after the old.
        let signingKeys = cli.directory.appendingPathComponent("shared-signing.keys")
        try await cli.run(["signing", "generate-key"], config: false).stdout.write(to: signingKeys, atomically: true, encoding: .utf8)
        try "database: \(url)\ndirectory: directory.yaml\nsigning:\n  keys_file: \(signingKeys.path)\n".write(toFile: cli.configPath, atomically: true, encoding: .utf8)
        let shown = try await cli.run(["request", "show", "\(firstID)"], environment: environment)
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.json["status"] as? String == "approved")
        #expect(shown.json["decided_by"] as? String == "approver1@example.test")
        let access = try await cli.run(["access", "check", "--user", "requester1@example.test", "--resource", "prod-db"], environment: environment)
        #expect(access.json["allowed"] as? Bool == true, "\(access.stdout)\(access.stderr)")
        let next = try await cli.run(["request", "create", "--requester", "requester3@example.test", "--resource", "prod-db", "--reason", "after the move"], environment: environment)
        #expect(next.status == 0, "\(next.stderr)")
        #expect((next.json["id"] as? Int ?? 0) > 2)
        let after = try await cli.run(["audit", "verify"], environment: environment)
        #expect(after.json["verified"] as? Bool == true)
        #expect((after.json["records_verified"] as? Int ?? 0) > records)
    }
}
