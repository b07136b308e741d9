import ArgumentParser
import Foundation
import GatewayConfig
import GatewayCore

/// `approval-gateway directory ...`
struct DirectoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "directory",
        abstract: "Import and show the directory of users, groups and resources.",
        subcommands: [Import.self, Show.self]
    )

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make the stored directory equal to a YAML file; prints what changed.",
            discussion: """
                All or nothing: a file with any problem is refused with every problem listed, and nothing \
                changes. Users and resources no longer listed are deactivated (their history is kept); \
                groups no longer listed are removed. Importing the same file twice changes nothing.
                """
        )

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The directory file.") var file: String

        func run() async throws {
            try await reportingFailures {
                let snapshot: DirectorySnapshot
                do {
                    snapshot = try DirectoryFile.load(path: file)
                } catch {
                    throw CLIFailure("\(error)")
                }
                let context = try await global.openContext()
                let report = try await context.service.importDirectory(snapshot)
                Output.json(report.json)
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the stored directory as JSON.")

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await reportingFailures {
                let context = try await global.openContext()
                let (users, groups, resources) = try await context.service.directory()
                Output.json(.object([
                    ("users", .array(users.map { user in
                        .object([("email", .string(user.email)), ("name", .string(user.name)), ("role", .string(user.role.rawValue)), ("active", .bool(user.isActive))])
                    })),
                    ("groups", .array(groups.map { group in
                        .object([("name", .string(group.name)), ("members", .array(group.members.sorted().map(JSONValue.string)))])
                    })),
                    ("resources", .array(resources.map { resource in
                        .object([
                            ("name", .string(resource.name)),
                            ("approver_groups", .array(resource.approverGroups.map(JSONValue.string))),
                            ("durations", .array(resource.allowedDurations.map { .string(DurationText.format(seconds: $0)) })),
                            ("pending_ttl", .string(DurationText.format(seconds: resource.pendingTTL))),
                            ("auto_lock_after_days", .number(resource.autoLockAfterDays)),
                            ("link_sign_in", .bool(resource.linkSignInRequired)),
                            ("approvals_required", .number(resource.approvalsRequired)),
                            ("escalate_after", resource.escalateAfterSeconds.map { .string(DurationText.format(seconds: $0)) } ?? .null),
                            ("escalation_groups", .array(resource.escalationGroups.map(JSONValue.string))),
                            ("active", .bool(resource.isActive)),
                        ])
                    })),
                ]))
            }
        }
    }
}
