import Foundation
import GRDB
import Testing

/// `scripts/seed-demo`: history at scale for the pages and the benchmarks.
@Suite struct SeedDemoTests {
    @Test("seed-demo adds N requests over the chosen days, at most one open per requester and resource; the gateway reads them")
    func seeds() async throws {
        let cli = try CLIHarness()
        #expect(try await cli.run("directory", "show").status == 0)  // creates the database with the directory
        let database = cli.directory.appendingPathComponent("gateway.sqlite").path
        let script = Process()
        script.executableURL = CLIHarness.projectRoot.appendingPathComponent("scripts/seed-demo")
        script.arguments = ["--requests", "3000", "--database", database, "--days", "730"]
        script.standardError = FileHandle.nullDevice
        try script.run()
        script.waitUntilExit()
        #expect(script.terminationStatus == 0)

        let queue = try DatabaseQueue(path: database)
        let (total, open, oldest, duplicates) = try await queue.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT count(*) FROM access_requests") ?? 0,
                try Int.fetchOne(db, sql: "SELECT count(*) FROM access_requests WHERE state = 'pending'") ?? 0,
                try Date.fetchOne(db, sql: "SELECT min(created_at) FROM access_requests"),
                try Int.fetchOne(db, sql: "SELECT count(*) FROM (SELECT 1 FROM access_requests WHERE state = 'pending' GROUP BY requester_id, resource_id HAVING count(*) > 1)") ?? 0
            )
        }
        #expect(total == 3000 && open > 0 && open <= 200 && duplicates == 0)
        let age = Date().timeIntervalSince(try #require(oldest))
        #expect(age > 400 * 86_400 && age <= 731 * 86_400, "the oldest request is \(age / 86_400) days old")
        // The gateway reads the seeded history, and its audit chain is untouched.
        let listed = try await cli.run("request", "list", "--status", "pending")
        #expect(listed.status == 0 && listed.jsonLines.count == open)
        #expect(try await cli.run("audit", "verify").status == 0)
        // Without a directory there is nothing to seed.
        let empty = Process()
        empty.executableURL = script.executableURL
        empty.arguments = ["--requests", "10", "--database", cli.directory.appendingPathComponent("missing.sqlite").path]
        empty.standardError = FileHandle.nullDevice
        try empty.run()
        empty.waitUntilExit()
        #expect(empty.terminationStatus == 1)
    }
}
