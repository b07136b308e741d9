import ArgumentParser
import Foundation
import GatewayConfig
import GatewayPostgres
import GatewayStore

/// `approval-gateway db ...`
struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Manage the database: apply its schema migrations.",
        subcommands: [Migrate.self]
    )

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply the schema migrations the database lacks, then exit.",
            discussion: """
                Works on SQLite and PostgreSQL. Gateways starting together on one PostgreSQL database \
                migrate once (an advisory lock). Prints the migrations applied now and all applied ones.
                """
        )
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await reportingFailures {
                let configuration = try global.loadConfiguration()
                let backend: String
                var appliedNow: [String] = []
                let applied: [String]
                switch configuration.database {
                case .sqlite(let path):
                    backend = "sqlite"
                    // Opening the store migrates it (under its lock file).
                    let before = FileManager.default.fileExists(atPath: path) ? try? SQLiteStore.appliedMigrations(path: path) : []
                    let store = try Self.open { try SQLiteStore(path: path) }
                    applied = try store.appliedMigrations()
                    appliedNow = applied.filter { !(before ?? []).contains($0) }
                case .postgres(let url):
                    backend = "postgres"
                    let database = try PostgresDatabase(url: url, password: try PostgresPassword.resolve(for: url))
                    do {
                        appliedNow = try await PostgresMigrations.migrate(database)
                        applied = try await PostgresMigrations.applied(database)
                    } catch {
                        await database.close()
                        throw CLIFailure("\(url): \(error)")
                    }
                    await database.close()
                }
                Output.json(.object([
                    ("database", .string(configuration.database.description)), ("backend", .string(backend)),
                    ("applied_now", .array(appliedNow.map(JSONValue.string))), ("applied", .array(applied.map(JSONValue.string))),
                ]))
            }
        }

        static func open<T>(_ body: () throws -> T) throws -> T {
            do { return try body() } catch { throw CLIFailure("\(error)") }
        }
    }
}
