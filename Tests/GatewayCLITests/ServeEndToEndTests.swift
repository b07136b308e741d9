import Foundation
import GatewayTestSupport
import Testing

/// The whole gateway as an operator runs it: `approval-gateway serve` against the real mail lab,
/// requests from the CLI, a reply from an approver's mail client (curl speaking SMTP).
@Suite(.serialized) struct ServeEndToEndTests {
    static let gatewayUser = "approver19"

    /// Messages in a lab user's INBOX containing `marker` (the shared lab helper).
    func mailbox(_ user: String, containing marker: String) -> [String] {
        MailLab.messages(for: "\(user)@example.test", containing: marker)
    }

    @Test("serve: a request from the CLI is emailed, approver1's reply approves it, SIGTERM stops the gateway cleanly")
    func replyDecidesThroughServe() async throws {
        try MailLab.resetUser(Self.gatewayUser)
        // The web server is not used here: port 0 takes any free port, so no other run can collide.
        let cli = try CLIHarness(extraConfig: CLIHarness.labConfiguration(
            gatewayUser: Self.gatewayUser, imapExtra: "  poll_interval: 2s", extra: "notifications:\n  sweep_interval: 1s"
        ))
        let (serve, log) = try cli.launchServe()
        defer { if serve.isRunning { kill(serve.processIdentifier, SIGKILL) } }

        let marker = "serve-e2e-\(UUID().uuidString.prefix(8))"
        let created = try await cli.run("request", "create", "--requester", "requester1@example.test", "--resource", "prod-db", "--reason", marker, "--duration", "1h")
        #expect(created.status == 0, "\(created.stderr)")
        let id = try #require(created.json["id"] as? Int)

        let notification = try await eventually("approver1's notification") { mailbox("approver1", containing: marker).first }
        // The personal reply address of the notification's (folded) Reply-To field.
        let replyTo = try #require(
            notification.components(separatedBy: "<\(Self.gatewayUser)+").dropFirst().first.map { "\(Self.gatewayUser)+" + $0.prefix { $0 != ">" } },
            "no reply address in \(notification.prefix(600))"
        )
        let messageID = notification.split(separator: "\n").first { $0.hasPrefix("Message-ID:") }.map { String($0.dropFirst("Message-ID:".count)).trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""

        // approver1 replies from a mail client, quoting the notification.
        let reply = cli.directory.appendingPathComponent("reply.eml")
        try """
            From: Ann Approver <approver1@example.test>\r
            To: \(replyTo)\r
            Subject: Re: [Access request #\(id)]\r
            Message-ID: <\(UUID().uuidString)@client.example.test>\r
            In-Reply-To: \(messageID)\r
            References: \(messageID)\r
            Content-Type: text/plain; charset=utf-8\r
            \r
            Approve - on call this week\r
            \r
            On Fri, 27 Nov 2026, Approval Gateway wrote:\r
            > Rita Requester asks for access to prod-db for 1 hour.\r

            """.write(to: reply, atomically: true, encoding: .utf8)
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["-s", "smtp://127.0.0.1:2525", "--mail-from", "approver1@example.test", "--mail-rcpt", replyTo, "--upload-file", reply.path]
        try curl.run()
        curl.waitUntilExit()
        #expect(curl.terminationStatus == 0)

        let decided = try await eventually("the decision") { () -> [String: Any]? in
            let shown = try await cli.run("request", "show", "\(id)").json
            return shown["status"] as? String == "pending" ? nil : shown
        }
        #expect(decided["status"] as? String == "approved")
        #expect(decided["decided_by"] as? String == "approver1@example.test")
        #expect(decided["channel"] as? String == "reply")
        #expect(decided["comment"] as? String == "on call this week")
        // Tied to this run by the request's unique reason: request ids start at 1 in every fresh database.
        _ = try await eventually("approver1's confirmation") { mailbox("approver1", containing: marker).first { $0.contains("Done: you approved") } }
        _ = try await eventually("the requester's outcome") { mailbox("requester1", containing: marker).first { $0.contains("was approved by") } }

        // Graceful shutdown on SIGTERM.
        kill(serve.processIdentifier, SIGTERM)
        _ = try await eventually("serve to stop", timeout: .seconds(15)) { serve.isRunning ? nil : true }
        #expect(serve.terminationStatus == 0, "\(String(decoding: (try? Data(contentsOf: log)) ?? Data(), as: UTF8.self).suffix(2000))")
    }
}
