import ApprovalTokens
import ArgumentParser
import Foundation
import GatewayConfig
import GatewayCore
import GatewayMail
import Logging
import MailTransport
import ServiceLifecycle

/// `approval-gateway serve`: the long-running gateway.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the gateway: send notifications, expire requests, remind, auto-lock.",
        discussion: "Stops gracefully on SIGTERM or SIGINT, finishing the email being sent."
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: Logger.Level = .info

    func run() async throws {
        try await reportingFailures {
            let level = logLevel
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            let logger = Logger(label: "approval-gateway")
            let context = try await global.openContext()
            let configuration = context.configuration
            let keyRing = try SigningKeys.load(configuration, createIfMissing: true)
            let templates = try await EmailTemplates(directory: configuration.templates)
            let smtp = try configuration.smtp.transportConfiguration()
            if !configuration.smtp.verifyCertificates {
                logger.warning("smtp.verify_certificates is false: the SMTP server's certificate is NOT verified")
            }
            let renderer = NotificationRenderer(
                templates: templates,
                settings: RenderSettings(
                    publicURL: configuration.http.publicURL, replyAddress: configuration.reply.address,
                    fromAddress: configuration.smtp.from, fromName: configuration.notifications.fromName
                ),
                signer: TokenSigner(keyRing: keyRing), store: context.store
            )
            let sender = SMTPSender(configuration: smtp, logger: Logger(label: "approval-gateway.smtp"))
            let outbox = OutboxWorker(
                store: context.store, renderer: renderer, sender: SMTPEmailSender(sender: sender),
                policy: OutboxWorker.Policy(
                    maxAttempts: configuration.delivery.maxAttempts,
                    retryInitial: TimeInterval(configuration.delivery.retryInitialSeconds),
                    retryMax: TimeInterval(configuration.delivery.retryMaxSeconds)
                ),
                logger: Logger(label: "approval-gateway.outbox")
            )
            let sweeper = Sweeper(
                store: context.store,
                policy: Sweeper.Policy(
                    interval: .seconds(configuration.notifications.sweepIntervalSeconds),
                    reminderLead: configuration.notifications.remindersEnabled ? TimeInterval(configuration.notifications.reminderBeforeSeconds) : nil
                ),
                logger: Logger(label: "approval-gateway.sweep")
            )
            logger.info("approval-gateway serving", metadata: [
                "database": "\(configuration.database)", "smtp": "\(smtp)", "signing_key": "\(keyRing.signingKey.id)",
            ])
            let group = ServiceGroup(configuration: ServiceGroupConfiguration(
                services: [.init(service: outbox), .init(service: sweeper)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            ))
            try await group.run()
            await sender.close()
            logger.info("approval-gateway stopped")
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
