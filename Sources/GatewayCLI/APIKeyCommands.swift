import ArgumentParser
import Foundation
import GatewayAPI
import GatewayApp
import GatewayCore

/// `approval-gateway apikey ...`
struct APIKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apikey",
        abstract: "Create, list and revoke the bearer keys of the JSON API.",
        discussion: """
            A personal key (--user) acts only as its user, with that user's rights at the time of each \
            call. An integration key (--scopes) acts as nobody, within its scopes: \
            \(APIScope.allCases.map(\.rawValue).joined(separator: ", ")). No key decides as someone else.
            """,
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an API key and print it once (only its SHA-256 is stored).",
            discussion: "Use it as `Authorization: Bearer KEY` on /api/v1."
        )

        @OptionGroup var global: GlobalOptions
        @Option(help: "A unique name for the key (shown in the audit log and `apikey list`).") var name: String
        @Option(help: "A personal key for this user.") var user: String?
        @Option(help: "An integration key with these comma-separated scopes.") var scopes: String?
        @Option(help: "Expire after this long (e.g. 90d, 12h); never when absent.") var expires: String?

        func validate() throws {
            guard (user == nil) != (scopes == nil) else { throw ValidationError("give exactly one of --user (a personal key) and --scopes (an integration key)") }
        }

        func run() async throws {
            try await reportingFailures {
                let owner: APIKeyOwner
                if let user {
                    owner = .user(user)
                } else {
                    switch Result(catching: { () throws(APIKeyError) in try APIScope.parseList(scopes ?? "") }) {
                    case .success(let parsed): owner = .integration(parsed)
                    case .failure(let error): throw CLIFailure("--scopes: \(error.message)", exitCode: 64)
                    }
                }
                var expiresAt: Date?
                if let expires {
                    guard let seconds = DurationText.seconds(from: expires) else {
                        throw CLIFailure("--expires \"\(expires)\" is not a duration (use forms like 90d, 12h)", exitCode: 64)
                    }
                    expiresAt = Date().addingTimeInterval(TimeInterval(seconds))
                }
                let context = try await global.openContext()
                let created = try await context.service.createAPIKey(name: name, owner: owner, expiresAt: expiresAt)
                Output.json(APIKeyJSON(created.key, secret: created.secret))
                Output.note("note: the key is shown once; store it now")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print every key, newest first, one JSON object per line (never a secret).")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await reportingFailures {
                let context = try await global.openContext()
                for key in try await context.service.apiKeys() { Output.json(APIKeyJSON(key)) }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key now: its next call gets 401.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The key's name.") var name: String

        func run() async throws {
            try await reportingFailures {
                let context = try await global.openContext()
                Output.json(APIKeyJSON(try await context.service.revokeAPIKey(name: name)))
            }
        }
    }
}
