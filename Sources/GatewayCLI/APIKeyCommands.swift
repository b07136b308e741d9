import ArgumentParser
import Foundation
import GatewayCore
import GatewayWeb

/// `approval-gateway apikey ...`
struct APIKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apikey",
        abstract: "Manage the bearer keys of the JSON API.",
        subcommands: [Create.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an API key and print it once (only its SHA-256 is stored).",
            discussion: """
                Use it as `Authorization: Bearer KEY` on /api/v1. With --actor, calls that name no \
                requester or reviewer act as that user; the same rules apply as on every other channel.
                """
        )

        @OptionGroup var global: GlobalOptions
        @Option(help: "What the key is for (shown in the audit log).") var name: String
        @Option(help: "The user the key acts as when a call names nobody.") var actor: String?

        func run() async throws {
            try await reportingFailures {
                let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
                guard !trimmed.isEmpty, trimmed.count <= 100 else { throw CLIFailure("--name must be 1 to 100 characters") }
                let context = try await global.openContext()
                let generated = APIKeys.generate()
                let record: APIKeyRecord
                do {
                    record = try await context.store.createAPIKey(name: trimmed, actor: actor, keyDigest: generated.digest, now: Date())
                } catch let error as DirectoryEditError {
                    throw CLIFailure("--actor: \(error.detail)")
                }
                Output.json(.object([
                    ("id", .number(record.id)), ("name", .string(record.name)), ("actor", .string(record.actor)),
                    ("key", .string(generated.key)),
                ]))
                Output.note("note: the key is shown once; store it now")
            }
        }
    }
}
