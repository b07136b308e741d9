import Foundation
import GatewayTestSupport
import Testing

/// Runs from anywhere: the templates are built in, and `config check` says what is effective and wrong.
@Suite struct ConfigCheckTests {
    /// A configuration in a folder of its own, like /etc/approval-gateway/, with no `templates` key.
    func etcLikeCLI(_ extra: String = "") throws -> CLIHarness {
        try CLIHarness(extraConfig: """
            smtp:
              url: smtp://mail.example.com:587
            imap:
              url: imaps://imap.example.com/INBOX
              username: gateway@example.com
            reply:
              trusted_authserv_id: mx.example.com
            \(extra)
            """)
    }

    @Test("config check prints the effective configuration with secrets masked, and passes on a good one")
    func goodConfiguration() async throws {
        let cli = try etcLikeCLI()
        let result = try await cli.run(["config", "check"], environment: ["APPROVAL_GATEWAY_IMAP_PASSWORD": "hunter2-very-secret"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stdout.contains("hunter2") && !result.stderr.contains("hunter2"))
        let effective = try #require(result.json["effective"] as? [String: Any])
        #expect(effective["templates"] as? String == "(built in)")
        let imap = try #require(effective["imap"] as? [String: Any])
        #expect(imap["password"] as? String == "********")
        #expect((effective["smtp"] as? [String: Any])?["starttls"] as? String == "required")
        #expect((result.json["problems"] as? [Any])?.isEmpty == true)
    }

    @Test("config check lists every problem at once and exits 1")
    func problems() async throws {
        let cli = try etcLikeCLI("templates: /nonexistent/templates\n")
        try "users:\n  - { email: not-an-address }\n".write(to: cli.directory.appendingPathComponent("directory.yaml"), atomically: true, encoding: .utf8)
        let result = try await cli.run("config", "check")
        #expect(result.status == 1)
        let problems = try #require(result.json["problems"] as? [String])
        #expect(problems.count >= 3, "\(problems)")
        #expect(problems.contains { $0.contains("directory.yaml") })
        #expect(problems.contains { $0.contains("/nonexistent/templates/email") })
        #expect(problems.contains { $0.contains("/nonexistent/templates/web") })

        let broken = try etcLikeCLI("smtp:\n  starttls: sometimes\n")
        let unreadable = try await broken.run("config", "check")
        #expect(unreadable.status == 1 && unreadable.stderr.contains("smtp"))
    }

    @Test("A configuration outside the project (no templates key) runs with the built-in templates")
    func runsFromAnywhere() async throws {
        let cli = try etcLikeCLI()
        // Run from an unrelated working directory, with the configuration given by path.
        let created = try await cli.run(["request", "create", "--requester", "requester1@example.test", "--resource", "prod-db", "--reason", "from /etc"], cwd: URL(fileURLWithPath: "/"))
        #expect(created.status == 0, "\(created.stderr)")
        #expect(try await cli.run(["config", "check"], cwd: URL(fileURLWithPath: "/")).status == 0)
    }

    @Test("OIDC-7: config check shows the identity provider with its secret masked, and warns when the provider cannot be reached")
    func identityProvider() async throws {
        let lab = try await OIDCLab.start(users: [])
        defer { lab.stop() }
        let cli = try etcLikeCLI("auth:\n  oidc:\n    issuer: \(lab.issuer)\n    client_id: approval-gateway\n")
        let result = try await cli.run(["config", "check"], environment: ["APPROVAL_GATEWAY_AUTH_OIDC_CLIENT_SECRET": "oidc-very-secret"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stdout.contains("oidc-very-secret") && !result.stderr.contains("oidc-very-secret"))
        let oidc = try #require(((result.json["effective"] as? [String: Any])?["auth"] as? [String: Any])?["oidc"] as? [String: Any])
        #expect(oidc["client_secret"] as? String == "********" && oidc["issuer"] as? String == lab.issuer)
        #expect((result.json["warnings"] as? [String])?.contains { $0.hasPrefix("auth.oidc") } == false)
        lab.stop()
        let down = try await cli.run(["config", "check"])
        #expect((down.json["warnings"] as? [String])?.contains { $0.hasPrefix("auth.oidc") && $0.contains("cannot reach") } == true, "\(down.stdout)")
    }
}
