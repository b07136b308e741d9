import ArgumentParser
import Foundation
import GatewayAPI
import GatewayApp
import GatewayCore

/// `approval-gateway request ...`
struct RequestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "request",
        abstract: "Create, show, list, decide and cancel access requests.",
        subcommands: [Create.self, Show.self, List.self, Decide.self, Cancel.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ask for access to a resource; prints the request.")

        @OptionGroup var global: GlobalOptions
        @Option(help: "Email of the person asking.") var requester: String
        @Option(help: "Name of the resource.") var resource: String
        @Option(help: "Why access is needed.") var reason: String
        @Option(help: "How long, from the resource's options (e.g. 1h, 4h); defaults to the shortest.")
        var duration: String?
        @Option(help: "jit (time-boxed access) or unlock (lift an auto-lock); chosen from the facts by default.")
        var kind: RequestKind?

        func run() async throws {
            try await reportingFailures {
                var seconds: Int?
                if let duration {
                    guard let parsed = DurationText.seconds(from: duration) else {
                        throw CLIFailure("--duration \"\(duration)\" is not a duration (use forms like 1h, 4h, 30m)", exitCode: 64)
                    }
                    seconds = parsed
                }
                let context = try await global.openContext()
                let request = try await context.service.openRequest(
                    RequestDraft(requester: requester, resource: resource, reason: reason, durationSeconds: seconds, kind: kind), by: .cli
                )
                Output.json(RequestJSON(request))
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print one request.")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The request id.") var id: Int64

        func run() async throws {
            try await reportingFailures {
                let context = try await global.openContext()
                guard let request = try await context.service.request(id: id, by: .cli) else {
                    throw CLIFailure("there is no request \(id)")
                }
                Output.json(RequestJSON(request))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print requests, newest first, one JSON object per line.")

        enum Status: String, ExpressibleByArgument, CaseIterable {
            case pending, resolved, all
            case approved, denied, expired, cancelled
        }

        @OptionGroup var global: GlobalOptions
        @Option(help: "pending, resolved, all, or one state (approved, denied, expired, cancelled).") var status: Status = .pending
        @Option(help: "Only this resource.") var resource: String?
        @Option(help: "Only this requester.") var requester: String?
        @Option(help: "At most this many.") var limit: Int = 100
        @Option(help: "Skip this many.") var offset: Int = 0

        func run() async throws {
            try await reportingFailures {
                let context = try await global.openContext()
                let states: Set<RequestState>? = switch status {
                case .pending: [.pending]
                case .resolved: [.approved, .denied, .expired, .cancelled]
                case .all: nil
                case .approved: [.approved]
                case .denied: [.denied]
                case .expired: [.expired]
                case .cancelled: [.cancelled]
                }
                guard limit > 0, offset >= 0 else { throw CLIFailure("--limit must be positive and --offset not negative", exitCode: 64) }
                let requests = try await context.service.requests(
                    RequestFilter(states: states, resource: resource, requester: requester, limit: limit, offset: offset), by: .cli
                )
                for request in requests { Output.json(RequestJSON(request)) }
            }
        }
    }

    struct Decide: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Approve or deny a request as a named reviewer (channel cli: the operator is trusted).",
            discussion: "Exits with status 3 and the reason when the rules refuse the decision."
        )

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The request id.") var id: Int64
        @Option(help: "Email of the reviewer deciding.") var reviewer: String
        @Flag(help: "Approve the request (one approval of several when the resource needs more).") var approve = false
        @Flag(help: "Deny the request.") var deny = false
        @Option(help: "Why; shown to the requester.") var comment: String?
        @Option(help: "With --approve: grant less time than asked (1h, 30m); never more.") var duration: String?

        func validate() throws {
            guard approve != deny else { throw ValidationError("give exactly one of --approve and --deny") }
            if let duration {
                guard approve else { throw ValidationError("--duration goes with --approve") }
                guard DurationText.seconds(from: duration) != nil else { throw ValidationError("--duration \"\(duration)\" is not a duration (use forms like 1h, 30m)") }
            }
        }

        func run() async throws {
            try await reportingFailures {
                let context = try await global.openContext()
                let outcome = try await context.service.decide(
                    DecisionCommand(
                        requestID: id, action: approve ? .approve : .deny, comment: comment, proof: .cli(reviewer: reviewer),
                        grantSeconds: duration.flatMap(DurationText.seconds(from:))
                    )
                )
                switch outcome {
                case .decided(let request, _, _):
                    Output.json(RequestJSON(request))
                case .approvalRecorded(let request, _):
                    Output.note("approval recorded: \(request.approvalCount) of \(request.approvalsRequired); request \(request.id) stays pending until another reviewer approves")
                    Output.json(RequestJSON(request))
                case .refused(let refusal, _):
                    throw CLIFailure("decision refused: \(refusal.detail) (\(refusal.code.rawValue))", exitCode: CLIFailure.refusedExitCode)
                }
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a pending request on its requester's behalf.")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The request id.") var id: Int64
        @Option(help: "Email of the requester.") var requester: String

        func run() async throws {
            try await reportingFailures {
                let context = try await global.openContext()
                Output.json(RequestJSON(try await context.service.cancelRequest(id: id, namedRequester: requester, by: .cli)))
            }
        }
    }
}

extension RequestKind: ExpressibleByArgument {}
