import Logging
import MailTransport
import ServiceLifecycle

/// Owns the outbox's reused SMTP connections for the life of the service group: it closes them
/// (QUIT) on graceful shutdown, after the outbox worker listed after it has finished the email in
/// hand (a service group stops its services in reverse order), and also when the group fails.
public struct SMTPConnectionService: Service {
    public let senders: [SMTPSender]
    let logger: Logger

    public init(senders: [SMTPSender], logger: Logger) {
        self.senders = senders
        self.logger = logger
    }

    public func run() async throws {
        // Returns on graceful shutdown; throws CancellationError when the group is cancelled.
        try? await gracefulShutdown()
        for sender in senders { await sender.close() }
        logger.debug("SMTP connections closed")
    }
}
