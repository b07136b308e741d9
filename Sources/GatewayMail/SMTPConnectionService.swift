import Logging
import MailTransport
import ServiceLifecycle

/// Owns the one reused SMTP connection for the life of the service group: it closes the connection
/// (QUIT) on graceful shutdown, after the outbox worker listed after it has finished the email in
/// hand (a service group stops its services in reverse order), and also when the group fails.
public struct SMTPConnectionService: Service {
    public let sender: SMTPSender
    let logger: Logger

    public init(sender: SMTPSender, logger: Logger) {
        self.sender = sender
        self.logger = logger
    }

    public func run() async throws {
        // Returns on graceful shutdown; throws CancellationError when the group is cancelled.
        try? await gracefulShutdown()
        await sender.close()
        logger.debug("SMTP connection closed")
    }
}
