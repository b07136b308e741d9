import Foundation
import Testing

/// The CLI as an operator uses it, on the demo directory, through the real executable.
@Suite struct RequestCommandTests {
    @Test("Create, refuse, decide, show, list and check access on the demo directory")
    func fullFlow() async throws {
        let cli = try CLIHarness()
        let created = try await cli.run("request", "create", "--requester", "requester1@example.test", "--resource", "prod-db", "--reason", "incident 42", "--duration", "4h")
        #expect(created.status == 0, "\(created.stderr)")
        let request = created.json
        for key in ["id", "kind", "status", "requester", "resource", "reason", "duration_seconds", "created_at", "expires_at", "decided_at", "decided_by", "channel", "comment"] {
            #expect(request.keys.contains(key), "missing \(key)")
        }
        #expect(request["status"] as? String == "pending")
        #expect(request["kind"] as? String == "jit")
        #expect(request["duration_seconds"] as? Int == 14_400)
        #expect(request["decided_by"] is NSNull)
        let id = try #require(request["id"] as? Int)
        let created_at = try #require(request["created_at"] as? String)
        #expect(created_at.hasSuffix("Z") && created_at.count == 20)

        // AUTHZ-2 through the CLI: approver3 approves staging-web, not prod-db.
        let refused = try await cli.run("request", "decide", "\(id)", "--reviewer", "approver3@example.test", "--approve")
        #expect(refused.status == 3)
        #expect(refused.stdout.isEmpty)
        #expect(refused.stderr.contains("not_allowed"))
        // AUTHZ-1 through the CLI.
        let selfDecision = try await cli.run("request", "decide", "\(id)", "--reviewer", "requester1@example.test", "--approve")
        #expect(selfDecision.status == 3)
        #expect(selfDecision.stderr.contains("self_decision"))

        let decided = try await cli.run("request", "decide", "\(id)", "--reviewer", "approver1@example.test", "--approve", "--comment", "on call")
        #expect(decided.status == 0, "\(decided.stderr)")
        #expect(decided.json["status"] as? String == "approved")
        #expect(decided.json["decided_by"] as? String == "approver1@example.test")
        #expect(decided.json["channel"] as? String == "cli")
        #expect(decided.json["comment"] as? String == "on call")

        // AUTHZ-3 through the CLI.
        let again = try await cli.run("request", "decide", "\(id)", "--reviewer", "approver2@example.test", "--deny")
        #expect(again.status == 3)
        #expect(again.stderr.contains("already approved by approver1@example.test"))

        let shown = try await cli.run("request", "show", "\(id)")
        #expect(shown.json["status"] as? String == "approved")

        let access = try await cli.run("access", "check", "--user", "requester1@example.test", "--resource", "prod-db")
        #expect(access.json["allowed"] as? Bool == true)
        #expect(access.json["until"] is String)
        let noAccess = try await cli.run("access", "check", "--user", "requester2@example.test", "--resource", "prod-db")
        #expect(noAccess.json["allowed"] as? Bool == false)
        #expect(noAccess.json["until"] is NSNull)

        #expect(try await cli.run("request", "list").jsonLines.isEmpty)
        #expect(try await cli.run("request", "list", "--status", "resolved").jsonLines.count == 1)
        #expect(try await cli.run("request", "list", "--status", "all").jsonLines.count == 1)
    }

    @Test("AUTHZ-4: on a resource needing two approvals the first decide prints 'approval recorded: 1 of 2', a repeat exits 3, a second reviewer decides")
    func twoApprovals() async throws {
        let cli = try CLIHarness(directoryYAML: """
            users:
              - { email: admin@example.test, name: Ada Admin, role: admin }
              - { email: approver1@example.test, name: Ann Approver }
              - { email: approver2@example.test, name: Abe Approver }
              - { email: requester1@example.test, name: Rita Requester }
            groups:
              - { name: db-approvers, members: [approver1@example.test, approver2@example.test] }
            resources:
              - { name: vault, approver_groups: [db-approvers], approvals_required: 2 }
            """)
        let created = try await cli.run("request", "create", "--requester", "requester1@example.test", "--resource", "vault", "--reason", "rotate keys", "--duration", "1h")
        let id = try #require(created.json["id"] as? Int)
        let first = try await cli.run("request", "decide", "\(id)", "--reviewer", "approver1@example.test", "--approve")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("approval recorded: 1 of 2"))
        #expect(first.json["status"] as? String == "pending" && first.json["approvals"] as? Int == 1 && first.json["approvals_required"] as? Int == 2)
        let again = try await cli.run("request", "decide", "\(id)", "--reviewer", "approver1@example.test", "--approve")
        #expect(again.status == 3 && again.stderr.contains("already_approved"))
        let second = try await cli.run("request", "decide", "\(id)", "--reviewer", "admin@example.test", "--approve")
        #expect(second.status == 0 && second.json["status"] as? String == "approved" && second.json["approvals"] as? Int == 2)
        // The directory refuses more approvals than there are reviewers.
        try """
            users: [{ email: a@example.test }]
            resources: [{ name: solo, approvals_required: 2 }]
            """.write(toFile: cli.directory.appendingPathComponent("directory.yaml").path, atomically: true, encoding: .utf8)
        let check = try await cli.run("directory", "import", cli.directory.appendingPathComponent("directory.yaml").path)
        #expect(check.status != 0 && check.stderr.contains("approvals_required is 2, but only 0 reviewers"))
    }

    @Test("Cancel by the requester; anyone else is refused")
    func cancel() async throws {
        let cli = try CLIHarness()
        let created = try await cli.run("request", "create", "--requester", "requester2@example.test", "--resource", "staging-web", "--reason", "deploy")
        let id = try #require(created.json["id"] as? Int)
        #expect(created.json["duration_seconds"] as? Int == 3600)
        let wrong = try await cli.run("request", "cancel", "\(id)", "--requester", "requester1@example.test")
        #expect(wrong.status == 3)
        #expect(wrong.stderr.contains("not_requester"))
        let cancelled = try await cli.run("request", "cancel", "\(id)", "--requester", "requester2@example.test")
        #expect(cancelled.status == 0)
        #expect(cancelled.json["status"] as? String == "cancelled")
        let decide = try await cli.run("request", "decide", "\(id)", "--reviewer", "admin@example.test", "--approve")
        #expect(decide.status == 3)
        #expect(decide.stderr.contains("not_pending"))
    }

    @Test("Bad requests exit non-zero with the reason and create nothing", arguments: [
        (["--resource", "prod-db", "--requester", "nobody@example.test", "--reason", "x"], "not a user"),
        (["--resource", "nope", "--requester", "requester1@example.test", "--reason", "x"], "no resource named"),
        (["--resource", "prod-db", "--requester", "requester1@example.test", "--reason", "x", "--duration", "2h"], "allowed: 1h, 4h, 8h"),
        (["--resource", "prod-db", "--requester", "requester1@example.test", "--reason", "x", "--duration", "soon"], "not a duration"),
        (["--resource", "prod-db", "--requester", "requester1@example.test", "--reason", " "], "reason is required"),
        (["--resource", "prod-db", "--requester", "requester1@example.test", "--reason", "x", "--kind", "unlock"], "not locked"),
    ])
    func badRequests(arguments: [String], message: String) async throws {
        let cli = try CLIHarness()
        let result = try await cli.run(["request", "create"] + arguments)
        #expect(result.status != 0)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(try await cli.run("request", "list", "--status", "all").jsonLines.isEmpty)
    }

    @Test("Unknown request ids and a missing --approve/--deny are clear errors")
    func usageErrors() async throws {
        let cli = try CLIHarness()
        let missing = try await cli.run("request", "show", "42")
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("there is no request 42"))
        let both = try await cli.run("request", "decide", "1", "--reviewer", "admin@example.test", "--approve", "--deny")
        #expect(both.status == 64)
        #expect(both.stderr.contains("exactly one of --approve and --deny"))
    }

    @Test("AUTHZ-4: ten reviewers' processes deciding at once give exactly one decision")
    func concurrentProcesses() async throws {
        let cli = try CLIHarness()
        let created = try await cli.run("request", "create", "--requester", "requester3@example.test", "--resource", "prod-db", "--reason", "race")
        let id = try #require(created.json["id"] as? Int)
        let reviewers = ["admin@example.test", "approver1@example.test", "approver2@example.test", "approver4@example.test"]
        let results = try await withThrowingTaskGroup(of: CLIHarness.Result.self) { group in
            for index in 0..<10 {
                group.addTask {
                    try await cli.run(["request", "decide", "\(id)", "--reviewer", reviewers[index % reviewers.count], index.isMultiple(of: 2) ? "--approve" : "--deny"])
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.filter { $0.status == 0 }.count == 1)
        #expect(results.filter { $0.status == 3 && $0.stderr.contains("not_pending") }.count == 9, "\(results.map(\.stderr))")
    }
}
