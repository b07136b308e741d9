import Foundation
import Testing

/// The operator's other commands, through the real executable.
@Suite struct OperatorCommandTests {
    @Test("notifications show and set: admin roles only; the change is what the next request's emails follow")
    func notificationPreferences() async throws {
        let cli = try CLIHarness()
        let shown = try await cli.run("notifications", "show", "admin@example.test")
        #expect(shown.status == 0 && shown.json["new_requests"] as? Bool == true && shown.json["outcomes"] as? Bool == false)
        let set = try await cli.run("notifications", "set", "Admin@Example.test", "--new-requests", "off", "--outcomes", "on")
        #expect(set.status == 0 && set.json["email"] as? String == "admin@example.test" && set.json["new_requests"] as? Bool == false)
        #expect(try await cli.run("notifications", "show", "admin@example.test").json["outcomes"] as? Bool == true)
        // An approver's emails are fixed.
        let refused = try await cli.run("notifications", "set", "approver1@example.test", "--new-requests", "off")
        #expect(refused.status == 3 && refused.stderr.contains("not_admin_role"))
        #expect(try await cli.run("notifications", "set", "admin@example.test").status == 64)
        // The next request is not emailed to admin.
        _ = try await cli.run("request", "create", "--requester", "requester1@example.test", "--resource", "prod-db", "--reason", "prefs")
        let queued = try await cli.run("outbox", "list", "--status", "pending").jsonLines
        #expect(!queued.isEmpty && !queued.contains { $0["recipient"] as? String == "admin@example.test" })
    }

    @Test("outbox list shows each email with its state; usage record resets the auto-lock period")
    func outboxAndUsage() async throws {
        let cli = try CLIHarness()
        _ = try await cli.run("request", "create", "--requester", "requester1@example.test", "--resource", "prod-db", "--reason", "outbox")
        let entries = try await cli.run("outbox", "list").jsonLines
        // The db-approvers and the admin roles who want new requests; never the requester.
        #expect(Set(entries.compactMap { $0["recipient"] as? String }) == ["approver1@example.test", "approver2@example.test", "admin@example.test", "approver4@example.test"])
        for key in ["id", "kind", "request_id", "recipient", "status", "attempts", "created_at", "next_attempt_at", "sent_at", "message_id", "last_error"] {
            #expect(entries.allSatisfy { $0.keys.contains(key) }, "missing \(key)")
        }
        #expect(entries.allSatisfy { $0["status"] as? String == "pending" && $0["kind"] as? String == "new_request" })
        #expect(try await cli.run("outbox", "list", "--status", "sent").jsonLines.isEmpty)
        #expect(try await cli.run("outbox", "list", "--status", "stuck").status == 64)

        let used = try await cli.run("usage", "record", "--user", "Requester1@example.test", "--resource", "prod-db")
        #expect(used.status == 0 && used.json["user"] as? String == "requester1@example.test" && used.json["used_at"] is String)
        let unknown = try await cli.run("usage", "record", "--user", "nobody@example.test", "--resource", "prod-db")
        #expect(unknown.status == 3 && unknown.stderr.contains("not a user"))
    }

    @Test("signing generate-key prints a fresh KID:BASE64SECRET line that a keys file accepts")
    func generateKey() async throws {
        let cli = try CLIHarness()
        let first = try await cli.run(["signing", "generate-key"], config: false)
        let second = try await cli.run(["signing", "generate-key"], config: false)
        #expect(first.status == 0 && second.status == 0)
        let line = first.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = line.split(separator: ":")
        #expect(parts.count == 2 && Data(base64Encoded: String(parts[1]))?.count == 32)
        #expect(line != second.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        // A keys file made of it works: a command that needs keys runs.
        let keys = cli.directory.appendingPathComponent("keys")
        try (line + "\n").write(to: keys, atomically: true, encoding: .utf8)
        try "database: gateway.sqlite\ndirectory: directory.yaml\nsigning:\n  keys_file: keys\n".write(toFile: cli.configPath, atomically: true, encoding: .utf8)
        #expect(try await cli.run("config", "check").status == 0)
    }

    @Test("mail extract and mail inspect read saved messages: the reply text, the command, the structure")
    func mailExtractAndInspect() async throws {
        let cli = try CLIHarness()
        let message = cli.directory.appendingPathComponent("reply.eml")
        try """
            From: Ann Approver <approver1@example.test>\r
            To: gateway+key@example.test\r
            Subject: Re: [Access request #1]\r
            Message-ID: <x@client.example.test>\r
            Content-Type: text/plain; charset=utf-8\r
            \r
            Approve - on call this week\r
            \r
            On Fri, 27 Nov 2026, Approval Gateway wrote:\r
            > Rita asks for prod-db.\r

            """.write(to: message, atomically: true, encoding: .utf8)
        let extracted = try await cli.run(["mail", "extract", message.path], config: false)
        #expect(extracted.status == 0)
        #expect(extracted.json["command"] as? String == "approve" && extracted.json["comment"] as? String == "on call this week")
        #expect((extracted.json["reply"] as? String)?.contains("Rita") == false)
        let inspected = try await cli.run(["mail", "inspect", message.path], config: false)
        #expect(inspected.status == 0 && inspected.stdout.contains("text/plain") && inspected.stdout.contains("approver1@example.test"))
        let missing = try await cli.run(["mail", "inspect", cli.directory.appendingPathComponent("nope.eml").path], config: false)
        #expect(missing.status != 0 && !missing.stderr.isEmpty)
    }
}
