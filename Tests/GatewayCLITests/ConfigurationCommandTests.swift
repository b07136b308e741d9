import Foundation
import Testing

@Suite struct ConfigurationCommandTests {
    @Test("An unknown configuration key stops every command with the key named")
    func unknownKey() async throws {
        let cli = try CLIHarness(extraConfig: "smtp:\n  hostname: mail.example.com\n")
        let result = try await cli.run("request", "list")
        #expect(result.status == 1)
        #expect(result.stderr.contains("smtp.hostname"))
        #expect(result.stderr.contains("unknown key"))
    }

    @Test("A missing configuration file is a clear error")
    func missingConfiguration() async throws {
        let cli = try CLIHarness()
        let result = try await cli.run(["request", "list", "--config", cli.directory.appendingPathComponent("nope.yaml").path], config: false)
        #expect(result.status == 1)
        #expect(result.stderr.contains("nope.yaml: the configuration file does not exist"))
    }

    @Test("directory import refuses a bad file whole, naming each bad entry, and changes nothing")
    func directoryImportErrors() async throws {
        let cli = try CLIHarness()
        let before = try await cli.run("directory", "show").stdout
        let bad = cli.directory.appendingPathComponent("bad.yaml")
        try """
            users:
              - { email: admin@example.test, role: admin }
              - { email: new@example.test, role: wizard }
            groups:
              - { name: db-approvers, members: [ghost@example.test] }
            resources:
              - { name: prod-db, approver_groups: [db-approvers, nobody], durations: [1h, forever] }
            """.write(to: bad, atomically: true, encoding: .utf8)
        let result = try await cli.run("directory", "import", bad.path)
        #expect(result.status == 1)
        for fragment in ["users[1] (new@example.test)", "wizard", "groups[0] (db-approvers)", "ghost@example.test", "\"nobody\"", "\"forever\""] {
            #expect(result.stderr.contains(fragment), "missing \(fragment) in \(result.stderr)")
        }
        #expect(try await cli.run("directory", "show").stdout == before)
    }

    @Test("directory import is idempotent and syncs changes")
    func directoryImport() async throws {
        let cli = try CLIHarness()
        let file = CLIHarness.projectRoot.appendingPathComponent("config/directory.yaml").path
        let first = try await cli.run("directory", "import", file)
        #expect(first.status == 0)
        #expect(first.json["users_added"] as? Int == 0)
        #expect(first.json["users_updated"] as? Int == 0)
        let smaller = cli.directory.appendingPathComponent("smaller.yaml")
        try """
            users:
              - { email: admin@example.test, name: Ada Admin, role: admin }
              - { email: approver1@example.test, name: Ann Approver }
            groups:
              - { name: db-approvers, members: [approver1@example.test] }
            resources:
              - { name: prod-db, approver_groups: [db-approvers] }
            """.write(to: smaller, atomically: true, encoding: .utf8)
        let second = try await cli.run("directory", "import", smaller.path)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.json["users_deactivated"] as? Int == 9)
        #expect(second.json["groups_removed"] as? Int == 1)
        #expect(second.json["resources_deactivated"] as? Int == 1)
        #expect(try await cli.run("directory", "import", smaller.path).json["groups_updated"] as? Int == 0)
    }
}
