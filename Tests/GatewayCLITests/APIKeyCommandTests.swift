import Foundation
import Testing

/// `apikey create | list | revoke` through the real executable (AUTHZ-6).
@Suite struct APIKeyCommandTests {
    @Test("AUTHZ-6: personal and integration keys are created, listed without secrets, and revoked")
    func createListRevoke() async throws {
        let cli = try CLIHarness()
        let personal = try await cli.run("apikey", "create", "--name", "ann-laptop", "--user", "Approver1@example.test", "--expires", "90d")
        #expect(personal.status == 0, "\(personal.stderr)")
        #expect(personal.json["kind"] as? String == "personal" && personal.json["user"] as? String == "approver1@example.test")
        let secret = try #require(personal.json["key"] as? String)
        #expect(secret.hasPrefix("agk_") && secret.count == 47)
        #expect(personal.stderr.contains("shown once"))
        #expect(personal.json["expires_at"] is String)

        let integration = try await cli.run("apikey", "create", "--name", "proxy", "--scopes", "access:read, usage:write")
        #expect(integration.status == 0, "\(integration.stderr)")
        #expect(integration.json["scopes"] as? [String] == ["access:read", "usage:write"] && integration.json["user"] is NSNull)

        // Bad input is a clear error and creates nothing.
        let both = try await cli.run("apikey", "create", "--name", "x", "--user", "admin@example.test", "--scopes", "access:read")
        #expect(both.status != 0 && both.stderr.contains("exactly one of --user"))
        let badScope = try await cli.run("apikey", "create", "--name", "x", "--scopes", "requests:decide")
        #expect(badScope.status != 0 && badScope.stderr.contains("unknown scope \"requests:decide\""))
        let stranger = try await cli.run("apikey", "create", "--name", "x", "--user", "nobody@example.test")
        #expect(stranger.status != 0 && stranger.stderr.contains("not an active user"))
        let taken = try await cli.run("apikey", "create", "--name", "proxy", "--scopes", "access:read")
        #expect(taken.status != 0 && taken.stderr.contains("exists already"))

        let listed = try await cli.run("apikey", "list")
        #expect(listed.status == 0)
        #expect(listed.jsonLines.map { $0["name"] as? String } == ["proxy", "ann-laptop"])
        #expect(!listed.stdout.contains(secret) && listed.jsonLines.allSatisfy { $0["key"] == nil })

        let revoked = try await cli.run("apikey", "revoke", "proxy")
        #expect(revoked.status == 0 && revoked.json["revoked_at"] is String)
        #expect(try await cli.run("apikey", "revoke", "proxy").stderr.contains("there is no API key named \"proxy\""))
        #expect(try await cli.run("apikey", "list").jsonLines.first { $0["name"] as? String == "proxy" }?["revoked_at"] is String)
    }
}
