import ApprovalTokens
import ArgumentParser
import Foundation
import GatewayApp
import GatewayCore

/// `approval-gateway signing ...`
struct SigningCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signing",
        abstract: "Manage the keys that sign links and reply addresses.",
        subcommands: [GenerateKey.self]
    )

    struct GenerateKey: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "generate-key",
            abstract: "Print a new key line, KID:BASE64SECRET (32 random bytes).",
            discussion: """
                To rotate, put the new line first in the keys file: it signs from then on, and the older \
                lines still verify until you remove them.
                """
        )

        func run() throws {
            print(KeyRing.generateKeyLine())
        }
    }
}

/// `approval-gateway notifications ...`
struct NotificationsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notifications",
        abstract: "Show and set admin-role users' notification preferences.",
        subcommands: [Show.self, Set.self]
    )

    enum Switch: String, ExpressibleByArgument, CaseIterable {
        case on, off
        var isOn: Bool { self == .on }
    }

    static func json(_ email: String, _ preferences: NotificationPreferences) -> JSONValue {
        .object([("email", .string(email)), ("new_requests", .bool(preferences.newRequests)), ("outcomes", .bool(preferences.outcomes))])
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a user's preferences (approvers are always emailed about their resources).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The user's email.") var email: String

        func run() async throws {
            try await reportingFailures {
                let context = try await global.openContext()
                guard try await context.service.activeUser(email: email) != nil else { throw CLIFailure("\(email) is not a user of the directory") }
                let preferences = try await context.service.notificationPreferences()[EmailAddress.normalize(email)] ?? .default
                Output.json(NotificationsCommand.json(EmailAddress.normalize(email), preferences))
            }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Turn an admin-role user's new-request or outcome emails on or off.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The user's email.") var email: String
        @Option(name: .customLong("new-requests"), help: "on or off.") var newRequests: Switch?
        @Option(help: "on or off.") var outcomes: Switch?

        func validate() throws {
            guard newRequests != nil || outcomes != nil else { throw ValidationError("give --new-requests and/or --outcomes") }
        }

        func run() async throws {
            try await reportingFailures {
                let context = try await global.openContext()
                var preferences = try await context.service.notificationPreferences()[EmailAddress.normalize(email)] ?? .default
                if let newRequests { preferences.newRequests = newRequests.isOn }
                if let outcomes { preferences.outcomes = outcomes.isOn }
                try await context.service.setNotificationPreferences(preferences, for: email, by: .cli)
                Output.json(NotificationsCommand.json(EmailAddress.normalize(email), preferences))
            }
        }
    }
}

/// `approval-gateway outbox ...`
struct OutboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outbox",
        abstract: "Show outgoing email: what is waiting, sent or stuck, and why.",
        subcommands: [List.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print outbox entries, oldest first, one JSON object per line.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "pending, sending, sent or failed; all when absent.") var status: OutboxStatus?
        @Option(help: "At most this many.") var limit = 200

        func run() async throws {
            try await reportingFailures {
                let context = try await global.openContext()
                for entry in try await context.service.outboxEntries(status: status, limit: limit) {
                    Output.json(.object([
                        ("id", .number(entry.id)),
                        ("kind", .string(entry.kind.rawValue)),
                        ("request_id", .number(entry.requestID)),
                        ("recipient", .string(entry.recipient)),
                        ("status", .string(entry.status.rawValue)),
                        ("attempts", .number(entry.attempts)),
                        ("created_at", .string(RFC3339.string(from: entry.createdAt))),
                        ("next_attempt_at", .string(entry.status == .pending ? RFC3339.string(from: entry.nextAttemptAt) : nil)),
                        ("sent_at", .string(entry.sentAt.map(RFC3339.string(from:)))),
                        ("message_id", .string(entry.messageID)),
                        ("last_error", .string(entry.lastError)),
                    ]))
                }
            }
        }
    }
}

extension OutboxStatus: ExpressibleByArgument {}

/// `approval-gateway usage ...`
struct UsageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage",
        abstract: "Report resource usage (it resets the auto-lock period).",
        subcommands: [Record.self]
    )

    struct Record: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record that a user used a resource now.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Email of the user.") var user: String
        @Option(help: "Name of the resource.") var resource: String

        func run() async throws {
            try await reportingFailures {
                let context = try await global.openContext()
                let now = Date()
                try await context.service.recordUsage(user: user, resource: resource, by: .cli)
                Output.json(.object([("user", .string(EmailAddress.normalize(user))), ("resource", .string(resource)), ("used_at", .string(RFC3339.string(from: now)))]))
            }
        }
    }
}
