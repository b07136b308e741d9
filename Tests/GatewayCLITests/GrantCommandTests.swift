import Foundation
import Testing

/// `grant revoke` through the real executable.
@Suite struct GrantCommandTests {
    @Test("grant revoke ends the user's running access now with the reason; access check says no; a second revoke exits 3")
    func revoke() async throws {
        let cli = try CLIHarness()
        let created = try await cli.run("request", "create", "--requester", "requester1@example.test", "--resource", "prod-db", "--reason", "revoke me")
        let id = try #require(created.json["id"] as? Int)
        #expect(try await cli.run("request", "decide", "\(id)", "--reviewer", "approver1@example.test", "--approve").status == 0)
        #expect(try await cli.run("access", "check", "--user", "requester1@example.test", "--resource", "prod-db").json["allowed"] as? Bool == true)

        let revoked = try await cli.run("grant", "revoke", "--user", "requester1@example.test", "--resource", "prod-db", "--reason", "left the on-call rota")
        #expect(revoked.status == 0, "\(revoked.stderr)")
        let grants = try #require(try JSONSerialization.jsonObject(with: Data(revoked.stdout.utf8)) as? [[String: Any]])
        #expect(grants.count == 1 && grants.first?["request_id"] as? Int == id && grants.first?["revoke_reason"] as? String == "left the on-call rota")
        #expect(grants.first?["revoked_at"] as? String == grants.first?["ends_at"] as? String)
        #expect(try await cli.run("access", "check", "--user", "requester1@example.test", "--resource", "prod-db").json["allowed"] as? Bool == false)

        let again = try await cli.run("grant", "revoke", "--user", "requester1@example.test", "--resource", "prod-db")
        #expect(again.status == 3 && again.stderr.contains("no running grant"))
        let outbox = try await cli.run("outbox", "list")
        #expect(outbox.stdout.contains("grant_revoked"))
    }

    @Test("request decide --approve --duration grants less than asked; more than asked exits 3")
    func shorterGrant() async throws {
        let cli = try CLIHarness()
        let created = try await cli.run("request", "create", "--requester", "requester1@example.test", "--resource", "prod-db", "--reason", "short", "--duration", "4h")
        let id = try #require(created.json["id"] as? Int)
        let tooLong = try await cli.run("request", "decide", "\(id)", "--reviewer", "approver1@example.test", "--approve", "--duration", "8h")
        #expect(tooLong.status == 3 && tooLong.stderr.contains("duration_not_allowed"))
        #expect(try await cli.run("request", "decide", "\(id)", "--reviewer", "approver1@example.test", "--deny", "--duration", "1h").status == 64)
        #expect(try await cli.run("request", "decide", "\(id)", "--reviewer", "approver1@example.test", "--approve", "--duration", "30m").status == 0)
        let access = try await cli.run("access", "check", "--user", "requester1@example.test", "--resource", "prod-db").json
        let until = try #require((access["until"] as? String).flatMap(RFC3339Parse.date))
        #expect(until.timeIntervalSinceNow > 25 * 60 && until.timeIntervalSinceNow <= 30 * 60)
    }
}

enum RFC3339Parse {
    static func date(_ text: String) -> Date? { ISO8601DateFormatter().date(from: text) }
}
