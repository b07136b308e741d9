import ApprovalTokens
import ArgumentParser
import Foundation
import GatewayApp
import GatewayConfig
import GatewayCore
import GatewayMail
import GatewayOIDC
import GatewayStore
import GatewayWeb
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
            var serviceSettings = ApprovalService.Settings()
            serviceSettings.providerSyncedGroups = Set(configuration.auth.oidc?.syncedGroups ?? [])
            let service = ApprovalService(storage: context.store, keyRing: keyRing, settings: serviceSettings)
            let identityProvider = try Self.identityProvider(configuration)
            let templates = try await EmailTemplates(directory: configuration.templates)
            let smtp = try configuration.smtp.transportConfiguration()
            for warning in configuration.transportWarnings { logger.warning("\(warning)") }
            let renderer = NotificationRenderer(
                templates: templates,
                settings: RenderSettings(
                    publicURL: configuration.http.publicURL, replyAddress: configuration.reply.address,
                    fromAddress: configuration.smtp.from, fromName: configuration.notifications.fromName
                ),
                signer: TokenSigner(keyRing: keyRing), store: context.store
            )
            // Each connection opens on its first email; an idle gateway holds none open.
            let senders = (0..<configuration.smtp.connections).map { _ in SMTPSender(configuration: smtp, logger: Logger(label: "approval-gateway.smtp")) }
            let outboxPolicy = OutboxWorker.Policy(
                maxAttempts: configuration.delivery.maxAttempts,
                retryInitial: TimeInterval(configuration.delivery.retryInitialSeconds),
                retryMax: TimeInterval(configuration.delivery.retryMaxSeconds)
            )
            let outbox = OutboxWorker(
                store: context.store, renderer: renderer, senders: senders.map(SMTPEmailSender.init(sender:)),
                policy: outboxPolicy,
                bounceAddress: configuration.smtp.bounceAddress.map { BounceAddress(pattern: $0, keyRing: keyRing) },
                logger: Logger(label: "approval-gateway.outbox")
            )
            let sweeper = Sweeper(
                service: service,
                policy: Sweeper.Policy(
                    interval: .seconds(configuration.notifications.sweepIntervalSeconds),
                    reminderLead: configuration.notifications.remindersEnabled ? TimeInterval(configuration.notifications.reminderBeforeSeconds) : nil
                ),
                logger: Logger(label: "approval-gateway.sweep")
            )
            // A service group stops its services in reverse order: the web server and the inbox first,
            // then the sweeper, the outbox worker (after the email in hand), the SMTP connection last.
            var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
                .init(service: SMTPConnectionService(senders: senders, logger: Logger(label: "approval-gateway.smtp"))),
                .init(service: outbox), .init(service: sweeper),
            ]
            if try Self.inboxProcessor(configuration, keyRing: keyRing, service: service, logger: logger) != nil {
                // One gateway at a time reads the mailbox: the holder of the database's inbox lease.
                // Each time it takes the lease it starts a fresh processor (and IMAP connection).
                services.append(.init(service: LeasedService(
                    name: "inbox", store: context.store, logger: Logger(label: "approval-gateway.lease"),
                    makeService: { [configuration, keyRing, service] in
                        try Self.inboxProcessor(configuration, keyRing: keyRing, service: service, logger: Logger(label: "approval-gateway"), quiet: true)!
                    }
                )))
            }
            var webSettings = try Self.webSettings(configuration)
            webSettings.identityProvider = identityProvider
            if let identityProvider { logger.info("sign-in through \(identityProvider.displayName) (\(configuration.auth.oidc!.issuer))") }
            let web = try await GatewayWebServer.makeApplication(
                service: service, signer: TokenSigner(keyRing: keyRing),
                settings: webSettings,
                logger: Logger(label: "approval-gateway.web")
            )
            services.append(.init(service: web))
            logger.info("approval-gateway serving", metadata: [
                "database": "\(configuration.database)", "smtp": "\(smtp)", "signing_key": "\(keyRing.signingKey.id)",
            ])
            let group = ServiceGroup(configuration: ServiceGroupConfiguration(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            ))
            try await group.run()
            await identityProvider?.shutdown()
            logger.info("approval-gateway stopped")
        }
    }

    static func webSettings(_ configuration: GatewayConfiguration) throws -> WebSettings {
        var settings = try WebSettings(listen: configuration.http.listen, publicURL: configuration.http.publicURL, templatesDirectory: configuration.templates)
        settings.trustedProxies = configuration.http.trustedProxies
        settings.emailLinks = configuration.auth.emailLinks
        return settings
    }

    /// The OpenID Connect provider of `auth.oidc`, if configured. It is contacted on first use, so
    /// that the gateway starts (and emailed links work) while the provider is down.
    static func identityProvider(_ configuration: GatewayConfiguration) throws -> OpenIDProvider? {
        guard let oidc = configuration.auth.oidc else { return nil }
        do {
            return try OpenIDProvider(configuration: OpenIDProvider.Configuration(
                issuer: oidc.issuer, clientID: oidc.clientID, clientSecret: oidc.clientSecret, scopes: oidc.scopes,
                displayName: oidc.name, groupsClaim: oidc.groupsClaim, caFile: oidc.caFile
            ))
        } catch {
            throw ConfigurationError(file: configuration.sourceFile ?? "configuration", problems: ["auth.oidc.ca_file: cannot read \(oidc.caFile ?? ""): \(error)"])
        }
    }

    /// The inbox processor for the configured mailbox, or `nil` (with a warning) when no mailbox is configured.
    /// `quiet` leaves out the start-up warnings (already given once).
    static func inboxProcessor(_ configuration: GatewayConfiguration, keyRing: KeyRing, service: ApprovalService, logger: Logger, quiet: Bool = false) throws -> InboxProcessor? {
        guard configuration.imap.username != nil, configuration.imap.password != nil else {
            if quiet { return nil }
            logger.warning("decisions by email reply are OFF: imap.username and imap.password (APPROVAL_GATEWAY_IMAP_PASSWORD) are not set")
            return nil
        }
        let reply = configuration.reply
        if reply.trustedAuthservID == nil, !quiet {
            if reply.requireAuthentication {
                logger.error("every reply will be REFUSED: reply.trusted_authserv_id is not set. Set it to the authserv-id of your receiving mail server's Authentication-Results, or set reply.require_authentication: false to accept replies on the reply token and From alone")
            } else {
                logger.warning("!!! reply.require_authentication is false and no reply.trusted_authserv_id is set: replies are accepted on the reply token and the From address ALONE, which a forged From can defeat if the reply address leaks. Configure reply.trusted_authserv_id for production. !!!")
            }
        }
        let imap = try configuration.imap.transportConfiguration()
        let mailbox = IMAPMailbox(configuration: imap, logger: Logger(label: "approval-gateway.imap"))
        let verifier = ReplyVerifier(
            settings: ReplySettings(replyAddress: reply.address, trustedAuthservID: reply.trustedAuthservID, requireAuthentication: reply.requireAuthentication),
            keyRing: keyRing, bounceAddress: configuration.smtp.bounceAddress.map { BounceAddress(pattern: $0, keyRing: keyRing) }
        )
        return InboxProcessor(
            mailbox: mailbox, verifier: verifier, service: service,
            policy: InboxProcessor.Policy(
                processedFolder: configuration.imap.processedFolder, rejectedFolder: configuration.imap.rejectedFolder,
                pollInterval: .seconds(configuration.imap.pollIntervalSeconds), maxMessageBytes: configuration.imap.maxMessageBytes
            ),
            logger: Logger(label: "approval-gateway.inbox")
        )
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
