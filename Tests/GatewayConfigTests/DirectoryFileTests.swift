import GatewayConfig
import GatewayCore
import Testing

@Suite struct DirectoryFileTests {
    static let issueExample = """
        users:
          - { email: admin@example.test, name: Ada Admin, role: admin }   # role defaults to member
          - { email: approver1@example.test, name: Ann Approver }
          - { email: approver2@example.test, name: Abe Approver }
        groups:
          - { name: db-approvers, members: [approver1@example.test, approver2@example.test] }
        resources:
          - name: prod-db
            approver_groups: [db-approvers]
            durations: [1h, 4h, 8h]          # allowed JIT durations; default [1h, 8h, 24h]
            pending_ttl: 24h                  # optional
            auto_lock_after_days: 30          # optional
        """

    @Test("The documented format reads into the directory")
    func readsTheDocumentedFormat() throws {
        let snapshot = try DirectoryFile.parse(Self.issueExample, file: "directory.yaml")
        #expect(snapshot.users.map(\.email) == ["admin@example.test", "approver1@example.test", "approver2@example.test"])
        #expect(snapshot.users.map(\.role) == [.admin, .member, .member])
        #expect(snapshot.groups == [Group(name: "db-approvers", members: ["approver1@example.test", "approver2@example.test"])])
        let resource = try #require(snapshot.resources.first)
        #expect(resource.approverGroups == ["db-approvers"])
        #expect(resource.allowedDurations == [3600, 14_400, 28_800])
        #expect(resource.pendingTTL == 86_400)
        #expect(resource.autoLockAfterDays == 30)
    }

    @Test("approvals_required, escalate_after and escalation_groups read into the resource; the defaults are 1, off and the admin roles")
    func quorumAndEscalation() throws {
        let snapshot = try DirectoryFile.parse("""
            users:
              - { email: a@example.test }
              - { email: b@example.test }
              - { email: lead@example.test }
            groups:
              - { name: dba, members: [a@example.test, b@example.test] }
              - { name: leads, members: [lead@example.test] }
            resources:
              - { name: prod-db, approver_groups: [dba], approvals_required: 2, escalate_after: 2h, escalation_groups: [leads] }
              - { name: wiki, approver_groups: [dba] }
            """, file: "d.yaml")
        let prod = try #require(snapshot.resources.first { $0.name == "prod-db" })
        #expect(prod.approvalsRequired == 2 && prod.escalateAfterSeconds == 7200 && prod.escalationGroups == ["leads"])
        let wiki = try #require(snapshot.resources.first { $0.name == "wiki" })
        #expect(wiki.approvalsRequired == 1 && wiki.escalateAfterSeconds == nil && wiki.escalationGroups.isEmpty)
    }

    @Test("Defaults: durations 1h, 8h, 24h; pending TTL 24h; no auto-lock; decisions by reply and link on")
    func defaults() throws {
        let snapshot = try DirectoryFile.parse("resources:\n  - name: wiki\n", file: "d.yaml")
        #expect(snapshot.resources == [Resource(name: "wiki", approverGroups: [])])
        #expect(snapshot.resources[0].allowedDurations == [3600, 28_800, 86_400])
    }

    @Test("The shipped demo directory is valid")
    func demoDirectory() throws {
        let path = #filePath.replacingOccurrences(of: "Tests/GatewayConfigTests/DirectoryFileTests.swift", with: "config/directory.yaml")
        let snapshot = try DirectoryFile.load(path: path)
        #expect(snapshot.users.first { $0.email == "admin@example.test" }?.role == .admin)
        #expect(snapshot.users.first { $0.email == "approver4@example.test" }?.role == .accessReviewer)
        #expect(snapshot.groups.first { $0.name == "db-approvers" }?.members == ["approver1@example.test", "approver2@example.test"])
        #expect(snapshot.groups.first { $0.name == "web-approvers" }?.members == ["approver3@example.test"])
        #expect(snapshot.resources.first { $0.name == "prod-db" }?.approverGroups == ["db-approvers"])
        #expect(snapshot.resources.first { $0.name == "staging-web" }?.approverGroups == ["web-approvers"])
        for index in 1...5 { #expect(snapshot.users.contains { $0.email == "requester\(index)@example.test" && $0.role == .member }) }
        #expect(snapshot.users.contains { $0.email == "approver5@example.test" && $0.role == .member })
    }

    struct BadCase: Sendable, CustomTestStringConvertible {
        var name: String
        var yaml: String
        /// Every fragment must appear in the error message.
        var mentions: [String]
        var testDescription: String { name }
    }

    @Test("Bad directories are refused with a message naming the entry", arguments: [
        BadCase(name: "unknown group member", yaml: """
            users: [{ email: a@example.test }]
            groups: [{ name: g, members: [a@example.test, ghost@example.test] }]
            """, mentions: ["groups[0] (g)", "ghost@example.test", "not a user"]),
        BadCase(name: "unknown approver group", yaml: """
            resources: [{ name: prod-db, approver_groups: [nope] }]
            """, mentions: ["resources[0] (prod-db)", "\"nope\"", "not a group"]),
        BadCase(name: "unknown role", yaml: """
            users: [{ email: a@example.test, role: superuser }]
            """, mentions: ["users[0] (a@example.test)", "unknown role \"superuser\"", "access_reviewer"]),
        BadCase(name: "duplicate user (case-insensitive)", yaml: """
            users: [{ email: a@example.test }, { email: A@Example.test }]
            """, mentions: ["users[1] (a@example.test)", "duplicate user", "users[0]"]),
        BadCase(name: "duplicate group", yaml: """
            groups: [{ name: g }, { name: g }]
            """, mentions: ["groups[1] (g)", "duplicate group"]),
        BadCase(name: "duplicate resource", yaml: """
            resources: [{ name: r }, { name: r }]
            """, mentions: ["resources[1] (r)", "duplicate resource"]),
        BadCase(name: "bad duration", yaml: """
            resources: [{ name: r, durations: [1h, 4hours] }]
            """, mentions: ["resources[0] (r)", "bad duration \"4hours\""]),
        BadCase(name: "bad pending ttl", yaml: """
            resources: [{ name: r, pending_ttl: soon }]
            """, mentions: ["resources[0] (r)", "pending_ttl \"soon\""]),
        BadCase(name: "bad auto-lock", yaml: """
            resources: [{ name: r, auto_lock_after_days: -3 }]
            """, mentions: ["resources[0] (r)", "auto_lock_after_days"]),
        BadCase(name: "more approvals required than reviewers", yaml: """
            users: [{ email: a@example.test }, { email: b@example.test }, { email: boss@example.test, role: admin }]
            groups: [{ name: g, members: [a@example.test] }]
            resources: [{ name: r, approver_groups: [g], approvals_required: 3 }]
            """, mentions: ["resources[0] (r)", "approvals_required is 3", "only 2 reviewers"]),
        BadCase(name: "approvals required not a number", yaml: """
            resources: [{ name: r, approvals_required: two }]
            """, mentions: ["resources[0] (r)", "approvals_required must be a whole number"]),
        BadCase(name: "escalation after the deadline", yaml: """
            resources: [{ name: r, pending_ttl: 4h, escalate_after: 4h }]
            """, mentions: ["resources[0] (r)", "escalate_after (4h) must be shorter than pending_ttl"]),
        BadCase(name: "escalation groups without escalate_after", yaml: """
            groups: [{ name: g }]
            resources: [{ name: r, escalation_groups: [g] }]
            """, mentions: ["resources[0] (r)", "escalation_groups needs escalate_after"]),
        BadCase(name: "unknown escalation group", yaml: """
            resources: [{ name: r, escalate_after: 2h, escalation_groups: [nope] }]
            """, mentions: ["resources[0] (r)", "escalation group \"nope\""]),
        BadCase(name: "unknown key", yaml: """
            users: [{ email: a@example.test, team: x }]
            """, mentions: ["users[0].team", "unknown key"]),
        BadCase(name: "unknown top-level key", yaml: """
            people: []
            """, mentions: ["people", "unknown key"]),
        BadCase(name: "bad email", yaml: """
            users: [{ email: not-an-address }]
            """, mentions: ["users[0]", "not an email address"]),
        BadCase(name: "missing email", yaml: """
            users: [{ name: Nobody }]
            """, mentions: ["users[0]", "email is required"]),
        BadCase(name: "malformed YAML", yaml: """
            users: [{ email: a@example.test
            groups: ]
            """, mentions: ["malformed YAML", "line"]),
        BadCase(name: "a list where a mapping belongs", yaml: """
            - users
            """, mentions: ["expected a mapping"]),
    ])
    func refusesBadInput(_ testCase: BadCase) {
        #expect {
            _ = try DirectoryFile.parse(testCase.yaml, file: "directory.yaml")
        } throws: { error in
            let message = "\(error)"
            let missing = testCase.mentions.filter { !message.contains($0) }
            if !missing.isEmpty { Issue.record("message \"\(message)\" lacks \(missing)") }
            return error is ConfigurationError && message.hasPrefix("directory.yaml")
        }
    }

    @Test("Every problem is reported at once")
    func reportsEveryProblem() {
        do {
            _ = try DirectoryFile.parse("users: [{ email: a@example.test, role: boss }]\nresources: [{ name: r, durations: [x] }]\n", file: "d.yaml")
            Issue.record("accepted")
        } catch {
            #expect(error.problems.count == 2)
        }
    }
}
