import ArgumentParser
import Foundation
import GatewayAPI
import GatewayCore

/// `approval-gateway grant ...`
struct GrantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grant",
        abstract: "End granted access early.",
        subcommands: [Revoke.self]
    )

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "End a user's running access to a resource now; the user is emailed, the audit log records why.",
            discussion: "Prints the revoked grants. Exits 3 when the user has no running grant on the resource."
        )

        @OptionGroup var global: GlobalOptions
        @Option(help: "Email of the user.") var user: String
        @Option(help: "Name of the resource.") var resource: String
        @Option(help: "Why (told to the user, kept in the audit log).") var reason: String?

        func run() async throws {
            try await reportingFailures {
                let context = try await global.openContext()
                let revoked = try await context.service.revokeGrants(user: user, resource: resource, reason: reason, by: .cli)
                Output.json(revoked.map(GrantJSON.init))
            }
        }
    }
}
