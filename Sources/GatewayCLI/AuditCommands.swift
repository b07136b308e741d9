import ArgumentParser
import Foundation
import GatewayAPI
import GatewayCore

/// `approval-gateway audit ...`
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Verify the audit log's hash chain, and export it for a SIEM.",
        subcommands: [Verify.self, Export.self]
    )

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Walk the hash chain; name the first record that was edited, removed or reordered.",
            discussion: "Exits 0 when every record verifies, 1 naming the first broken record otherwise."
        )
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await reportingFailures {
                let context = try await global.openContext()
                let report = try await context.service.verifyAuditChain()
                if let broken = report.firstBroken {
                    Output.json(.object([("verified", .bool(false)), ("records_verified", .number(report.records)), ("first_broken_id", .number(broken.id)), ("problem", .string(broken.problem))]))
                    throw CLIFailure("the audit log's chain breaks at record \(broken.id): \(broken.problem); the \(report.records) records before it verify")
                }
                Output.json(.object([("verified", .bool(true)), ("records_verified", .number(report.records))]))
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print audit records since a date, oldest first, one JSON object per line (with their hashes).")
        @OptionGroup var global: GlobalOptions
        @Option(help: "From this instant: 2026-11-01 or 2026-11-01T08:00:00Z.") var since: String

        func run() async throws {
            try await reportingFailures {
                guard let start = RFC3339.date(from: since) ?? Self.day(since) else {
                    throw CLIFailure("--since \"\(since)\" is not a date (use 2026-11-01 or 2026-11-01T08:00:00Z)", exitCode: 64)
                }
                let context = try await global.openContext()
                var after: Int64 = 0
                while true {
                    let page = try await context.service.auditRecords(since: start, afterID: after, limit: 1_000)
                    for entry in page { Output.json(AuditRecordJSON(entry)) }
                    guard let last = page.last, page.count == 1_000 else { break }
                    after = last.id
                }
            }
        }

        static func day(_ text: String) -> Date? {
            RFC3339.date(from: text + "T00:00:00Z")
        }
    }
}
