import Foundation
import GRDB
import Testing

/// `audit verify` and `audit export` through the real executable (AUDIT-1).
@Suite struct AuditCommandTests {
    @Test("AUDIT-1: audit verify passes, then names the record edited behind the triggers' back; export writes the chain")
    func verifyAndExport() async throws {
        let cli = try CLIHarness()
        let created = try await cli.run("request", "create", "--requester", "requester1@example.test", "--resource", "prod-db", "--reason", "audit me")
        let id = try #require(created.json["id"] as? Int)
        _ = try await cli.run("request", "decide", "\(id)", "--reviewer", "approver3@example.test", "--approve")
        _ = try await cli.run("request", "decide", "\(id)", "--reviewer", "approver1@example.test", "--deny", "--comment", "no")

        let verified = try await cli.run("audit", "verify")
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(verified.json["verified"] as? Bool == true)
        let count = try #require(verified.json["records_verified"] as? Int)

        let exported = try await cli.run("audit", "export", "--since", "2000-01-01")
        #expect(exported.status == 0)
        let lines = exported.jsonLines
        #expect(lines.count == count)
        #expect(zip(lines, lines.dropFirst()).allSatisfy { $1["prev_hash"] as? String == $0["hash"] as? String })
        #expect(try await cli.run("audit", "export", "--since", "2999-01-01").jsonLines.isEmpty)
        #expect(try await cli.run("audit", "export", "--since", "yesterday").status == 64)

        // Someone with the database file drops the trigger and rewrites who denied.
        let decide = try #require(lines.last { $0["action"] as? String == "decide" && $0["outcome"] as? String == "accepted" })
        let victim = try #require(decide["id"] as? Int)
        let queue = try DatabaseQueue(path: cli.directory.appendingPathComponent("gateway.sqlite").path)
        try await queue.write { db in
            try db.execute(sql: "DROP TRIGGER audit_log_no_update")
            try db.execute(sql: "UPDATE audit_log SET actor = 'approver2@example.test' WHERE id = ?", arguments: [victim])
        }
        let broken = try await cli.run("audit", "verify")
        #expect(broken.status == 1)
        #expect(broken.stderr.contains("breaks at record \(victim)"))
        #expect(broken.json["first_broken_id"] as? Int == victim)
    }
}
