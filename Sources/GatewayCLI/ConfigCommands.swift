import ArgumentParser
import Foundation
import GatewayConfig
import GatewayMail
import GatewayWeb

/// `approval-gateway config ...`
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Check the configuration.",
        subcommands: [Check.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the effective configuration (secrets masked) and every problem found.",
            discussion: """
                Reads the configuration file and the environment, then checks what it names: the directory \
                file, the templates (the built-in ones unless `templates` overrides them), the signing keys. \
                Exits 0 when there is no problem (warnings are printed but allowed), 1 otherwise.
                """
        )
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await reportingFailures {
                var problems: [String] = []
                let configuration: GatewayConfiguration
                switch Result(catching: { () throws(ConfigurationError) in try GatewayConfiguration.load(path: global.configurationPath) }) {
                case .success(let loaded):
                    configuration = loaded
                case .failure(let error):
                    Output.json(.object([("file", .string(global.configurationPath)), ("problems", .array(error.problems.map(JSONValue.string))), ("warnings", .array([]))]))
                    throw CLIFailure(error.description)
                }
                if let path = configuration.directory {
                    do {
                        _ = try DirectoryFile.load(path: path)
                    } catch {
                        problems.append("\(error)")
                    }
                }
                do {
                    _ = try await EmailTemplates(directory: configuration.templates)
                } catch {
                    problems.append("\(error)")
                }
                do {
                    try await GatewayWebServer.checkTemplates(directory: configuration.templates)
                } catch {
                    problems.append("\(error)")
                }
                if let keysFile = configuration.signing.keysFile, ProcessInfo.processInfo.environment[SigningKeys.environmentVariable] == nil {
                    do {
                        _ = try SigningKeys.load(configuration, createIfMissing: false)
                    } catch {
                        problems.append("signing.keys_file \(keysFile): \(error)")
                    }
                }
                var warnings = configuration.transportWarnings
                // The identity provider: its discovery document must name the configured issuer.
                if configuration.auth.oidc != nil {
                    do {
                        if let provider = try ServeCommand.identityProvider(configuration) {
                            do {
                                _ = try await provider.discoveryDocument()
                            } catch {
                                warnings.append("auth.oidc: \(error)")
                            }
                            await provider.shutdown()
                        }
                    } catch {
                        problems.append("\(error)")
                    }
                }
                if configuration.reply.trustedAuthservID == nil {
                    warnings.append(configuration.reply.requireAuthentication
                        ? "reply.trusted_authserv_id is not set: every reply will be refused"
                        : "reply.require_authentication is false and reply.trusted_authserv_id is not set: replies are accepted on the reply key and From alone")
                }
                Output.json(.object([
                    ("file", .string(configuration.sourceFile)),
                    ("effective", Self.effective(configuration)),
                    ("problems", .array(problems.map(JSONValue.string))),
                    ("warnings", .array(warnings.map(JSONValue.string))),
                ]))
                for warning in warnings { Output.note("warning: \(warning)") }
                guard problems.isEmpty else { throw CLIFailure(problems.joined(separator: "; ")) }
            }
        }

        /// A secret prints as whether it is set, never as its value.
        static func masked(_ secret: String?) -> JSONValue { secret == nil ? .null : .string("********") }

        static func effective(_ c: GatewayConfiguration) -> JSONValue {
            .object([
                ("database", .string(c.database.description)),
                ("directory", .string(c.directory)),
                ("templates", .string(c.templates ?? "(built in)")),
                ("http", .object([
                    ("listen", .string(c.http.listen)), ("public_url", .string(c.http.publicURL)),
                    ("trusted_proxies", .array(c.http.trustedProxies.map { .string($0.description) })),
                ])),
                ("smtp", .object([
                    ("url", .string(c.smtp.url)), ("starttls", .string(c.smtp.startTLS.rawValue)), ("username", .string(c.smtp.username)),
                    ("password", masked(c.smtp.password)), ("from", .string(c.smtp.from)), ("ca_file", .string(c.smtp.caFile)),
                    ("verify_certificates", .bool(c.smtp.verifyCertificates)), ("timeout_seconds", .number(c.smtp.timeoutSeconds)),
                    ("connections", .number(c.smtp.connections)),
                ])),
                ("imap", .object([
                    ("url", .string(c.imap.url)), ("starttls", .string(c.imap.startTLS.rawValue)), ("username", .string(c.imap.username)),
                    ("password", masked(c.imap.password)), ("ca_file", .string(c.imap.caFile)),
                    ("verify_certificates", .bool(c.imap.verifyCertificates)), ("processed_folder", .string(c.imap.processedFolder)),
                    ("rejected_folder", .string(c.imap.rejectedFolder)), ("poll_interval_seconds", .number(c.imap.pollIntervalSeconds)),
                ])),
                ("reply", .object([
                    ("address", .string(c.reply.address)), ("trusted_authserv_id", .string(c.reply.trustedAuthservID)),
                    ("require_authentication", .bool(c.reply.requireAuthentication)),
                ])),
                ("signing", .object([
                    ("keys_file", .string(c.signing.keysFile ?? "(beside the database)")),
                    ("keys_from_environment", .bool(ProcessInfo.processInfo.environment[SigningKeys.environmentVariable] != nil)),
                ])),
                ("auth", .object([
                    ("email_links", .bool(c.auth.emailLinks)),
                    ("oidc", c.auth.oidc.map { oidc in
                        .object([
                            ("issuer", .string(oidc.issuer)), ("client_id", .string(oidc.clientID)), ("client_secret", masked(oidc.clientSecret)),
                            ("scopes", .array(oidc.scopes.map(JSONValue.string))), ("name", .string(oidc.name)),
                            ("groups_claim", .string(oidc.groupsClaim)), ("synced_groups", .array(oidc.syncedGroups.map(JSONValue.string))),
                            ("ca_file", .string(oidc.caFile)),
                        ])
                    } ?? .null),
                ])),
            ])
        }
    }
}
