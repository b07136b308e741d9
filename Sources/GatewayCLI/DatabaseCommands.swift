import ArgumentParser
import Foundation
import GatewayApp
import GatewayConfig
import GatewayPostgres
import GatewayStore

/// `approval-gateway db ...`
struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Manage the database: apply its schema migrations, move an installation to PostgreSQL.",
        subcommands: [Migrate.self, Copy.self]
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

    struct Copy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy the configured SQLite installation into an empty PostgreSQL database, then verify it.",
            discussion: """
                Stop the gateway first. Every table is copied with its ids (the audit log's hash chain                 included), the identity sequences are moved past them, then the row counts and the                 audit chain are checked on the copy. The password comes from                 APPROVAL_GATEWAY_DATABASE_PASSWORD or a PGPASSFILE. Afterwards, point `database` at                 the PostgreSQL URL.
                """
        )
        @OptionGroup var global: GlobalOptions
        @Option(help: "The empty PostgreSQL database: postgres://USER@HOST[:PORT]/DBNAME[?sslmode=...].") var to: String

        func run() async throws {
            try await reportingFailures {
                let configuration = try global.loadConfiguration()
                guard case .sqlite(let path) = configuration.database else {
                    throw CLIFailure("db copy copies an SQLite installation; the configured database is \(configuration.database)")
                }
                let url: PostgresURL
                do {
                    url = try PostgresURL(to)
                } catch {
                    throw CLIFailure("--to: \(error)", exitCode: 64)
                }
                let source = try Migrate.open { try SQLiteStore(path: path) }
                let target: PostgresStore
                do {
                    target = try await PostgresStore.open(url: url, password: PostgresPassword.resolve(for: url))
                } catch {
                    throw CLIFailure("database \(url): \(error)")
                }
                do {
                    try await copy(from: source, to: target, url: url)
                } catch let failure as CLIFailure {
                    await target.close()
                    throw failure
                } catch {
                    await target.close()
                    throw CLIFailure("the copy stopped: \(error); drop the PostgreSQL database, create it empty and run db copy again")
                }
                await target.close()
            }
        }

        private func copy(from source: SQLiteStore, to target: PostgresStore, url: PostgresURL) async throws {
            guard try await target.isEmpty() else {
                throw CLIFailure("\(url) already holds an installation; db copy needs an empty database (nothing was copied)")
            }
            var counts: [(String, JSONValue)] = []
            for table in InstallationTables.ordered {
                var copied = 0
                try await source.exportTable(table) { batch in
                    try await target.importRows(batch)
                    copied += batch.rows.count
                }
                let expected = try await source.rowCount(table)
                let landed = try await target.rowCount(table)
                guard copied == expected, landed == expected else {
                    throw CLIFailure("\(table): \(expected) rows in SQLite, \(landed) in PostgreSQL after copying \(copied); the copy is incomplete (drop the PostgreSQL database and run db copy again)")
                }
                if expected > 0 { Output.note("db copy: \(table): \(expected) rows") }
                counts.append((table, .number(expected)))
            }
            try await target.resetIdentities()
            try await target.analyze()
            let chain = try await target.verifyAuditChain()
            if let broken = chain.firstBroken {
                throw CLIFailure("the copied audit log does not verify at record \(broken.id): \(broken.problem)")
            }
            Output.json(.object([
                ("to", .string(url.description)), ("rows", .object(counts)),
                ("audit_chain_verified", .bool(true)), ("audit_records", .number(chain.records)),
            ]))
        }
    }
}
