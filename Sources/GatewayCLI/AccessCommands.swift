import ArgumentParser
import Foundation
import GatewayAPI
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
                Output.json(AccessJSON(try await context.service.accessStatus(user: user, resource: resource, by: .cli)))
            }
        }
    }
}
