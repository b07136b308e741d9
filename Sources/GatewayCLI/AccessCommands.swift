import ArgumentParser
import Foundation
import GatewayCore

/// `approval-gateway access ...`
struct AccessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "access",
        abstract: "Ask whether a user may use a resource now.",
        subcommands: [Check.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print whether the user has an active grant for the resource, and until when."
        )

        @OptionGroup var global: GlobalOptions
        @Option(help: "Email of the user.") var user: String
        @Option(help: "Name of the resource.") var resource: String

        func run() async throws {
            try await reportingFailures {
                let context = try await global.openContext()
                let status = try await context.store.accessStatus(user: user, resource: resource, at: Date())
                Output.json(.object([
                    ("user", .string(status.user)),
                    ("resource", .string(status.resource)),
                    ("allowed", .bool(status.isAllowed)),
                    ("until", .string(status.isAllowed ? status.grant.map { RFC3339.string(from: $0.endsAt) } : nil)),
                    ("request_id", .number(status.isAllowed ? status.grant?.requestID : nil)),
                    ("locked", .bool(status.lock.map { !$0.isLifted } ?? false)),
                ]))
            }
        }
    }
}
