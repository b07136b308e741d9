import ArgumentParser
import Foundation
import GatewayApp
import GatewayConfig
import GatewayCore
import GatewayPostgres
import GatewayStore

/// Options every command takes.
public struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The configuration file.",
        discussion: "Defaults to $APPROVAL_GATEWAY_CONFIG, else config/gateway.yaml.",
        valueName: "file"
    ))
    public var config: String?

    public init() {}

    /// The configuration file to read.
    var configurationPath: String {
        config ?? ProcessInfo.processInfo.environment["APPROVAL_GATEWAY_CONFIG"] ?? "config/gateway.yaml"
    }

    /// Reads the configuration, turning problems into a clear failure.
    func loadConfiguration() throws -> GatewayConfiguration {
        do {
            return try GatewayConfiguration.load(path: configurationPath)
        } catch {
            var message = error.description
            if config == nil, !FileManager.default.fileExists(atPath: configurationPath) {
                message += " (run from the project directory, or pass --config FILE)"
            }
            throw CLIFailure(message)
        }
    }

    /// Opens the store and brings it up to date with the configured directory file.
    func openContext() async throws -> GatewayContext {
        let configuration = try loadConfiguration()
        let store = try await Self.openStore(configuration.database)
        // The operator's commands need no signing keys; where one is missing, the use cases that
        // would need it (sign-in links, confirmation codes) refuse instead.
        let keyRing = try? SigningKeys.load(configuration, createIfMissing: false)
        let context = GatewayContext(configuration: configuration, store: store, service: ApprovalService(storage: store, keyRing: keyRing))
        try await context.syncConfiguredDirectory(force: false)
        return context
    }
}

extension GlobalOptions {
    /// Opens (and migrates) the configured database.
    static func openStore(_ location: DatabaseLocation) async throws -> any GatewayStorage {
        switch location {
        case .sqlite(let path):
            do {
                return try SQLiteStore(path: path)
            } catch {
                throw CLIFailure("\(error)")
            }
        case .postgres(let url):
            do {
                return try await PostgresStore.open(url: url, password: PostgresPassword.resolve(for: url))
            } catch {
                throw CLIFailure("database \(url): \(error)")
            }
        }
    }
}

/// What a command works with: the configuration, the opened store, and the approval service over
/// it. The command line is the operator's channel: whoever can open the database is trusted.
struct GatewayContext {
    var configuration: GatewayConfiguration
    var store: any GatewayStorage
    var service: ApprovalService

    static let directoryContentKey = "directory.imported_content"

    /// Imports the configured directory file when it changed since it was last imported (or when forced).
    @discardableResult
    func syncConfiguredDirectory(force: Bool) async throws -> DirectorySyncReport? {
        guard let path = configuration.directory else { return nil }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw CLIFailure("\(path): cannot read the directory file (\(error.localizedDescription)); fix `directory` in \(configuration.sourceFile ?? "the configuration")")
        }
        if !force, try await store.metadata(Self.directoryContentKey) == text { return nil }
        let snapshot: DirectorySnapshot
        do {
            snapshot = try DirectoryFile.parse(text, file: path)
        } catch {
            throw CLIFailure("\(error)")
        }
        let report = try await service.importDirectory(snapshot)
        try await store.setMetadata(Self.directoryContentKey, text)
        return report
    }
}

/// A failure to report to the user as is, with an exit code.
struct CLIFailure: Error, CustomStringConvertible {
    /// Exit code for refusals by the rules (a decision refused, a request not allowed).
    static let refusedExitCode: Int32 = 3

    var message: String
    var exitCode: Int32

    init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }

    var description: String { message }
}

extension AsyncParsableCommand {
    /// Runs `body`, printing failures as one clear line on standard error with the right exit code.
    func reportingFailures(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let failure as CLIFailure {
            Output.error(failure.message)
            throw ExitCode(failure.exitCode)
        } catch let error as RequestError {
            Output.error("\(error.detail) (\(error.code.rawValue))")
            throw ExitCode(CLIFailure.refusedExitCode)
        } catch let error as DirectoryEditError {
            Output.error("\(error.detail) (\(error.code.rawValue))")
            throw ExitCode(CLIFailure.refusedExitCode)
        } catch let error as APIKeyError {
            Output.error(error.message)
            throw ExitCode.failure
        } catch let error as ExitCode {
            throw error
        } catch let error as CleanExit {
            throw error
        } catch {
            Output.error("\(error)")
            throw ExitCode.failure
        }
    }
}
