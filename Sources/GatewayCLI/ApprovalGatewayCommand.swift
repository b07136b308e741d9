import ArgumentParser

/// The `approval-gateway` command: every operation of the gateway.
@available(macOS 15, *)
public struct ApprovalGatewayCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "approval-gateway",
        abstract: "An email-driven approval gateway for just-in-time access requests.",
        discussion: """
            Commands print JSON on standard output and errors on standard error. Exit status: 0 on \
            success, 1 on an error, 3 when the rules refuse an action (a decision or request not \
            allowed), 64 on bad usage.
            """,
        subcommands: [
            ServeCommand.self, RequestCommand.self, AccessCommand.self, DirectoryCommand.self, NotificationsCommand.self,
            GrantCommand.self, OutboxCommand.self, UsageCommand.self, SigningCommand.self, MailCommand.self, APIKeyCommand.self, AuditCommand.self,
            ConfigCommand.self, DatabaseCommand.self,
        ]
    )

    public init() {}
}

@available(macOS 15, *)
extension ApprovalGatewayCommand {
    /// Parses the process's arguments and runs the chosen command, exiting with its status.
    public static func runMain(_ arguments: [String]? = nil) async {
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
