import ApprovalTokens
import Foundation
import GatewayApp
import GatewayCore
import GatewayMail
import GatewayStore
import GatewayTestSupport
import Logging
import MailMessage
import MailTransport
import Testing

/// A gateway wired to the real mail lab for inbox tests: its own lab user stands in as the
/// gateway's mailbox (plus-addressed replies land in that user's INBOX), so tests do not disturb
/// each other.
struct InboxHarness {
    let fixture: GatewayFixture
    let gatewayUser: String
    let clock: TestClock
    let processor: InboxProcessor
    let worker: OutboxWorker
    let mailbox: IMAPMailbox
    let smtp: SMTPSender
    /// To the lab's SMTP service that stamps no Authentication-Results.
    let unstampedSMTP: SMTPSender

    var store: SQLiteStore { fixture.store }
    /// The signed envelope sender, when the harness reads bounces.
    let bounceAddress: BounceAddress?
    var marker: String { "X-Approval-Gateway: \(fixture.installation)" }

    /// - Parameter gatewayUser: the lab user whose INBOX plays the gateway's mailbox; it is emptied first.
    init(
        gatewayUser: String, imapURL: String = "imap://127.0.0.1:1143/INBOX", trustedAuthservID: String? = "mail.example.test", requireAuthentication: Bool = true,
        answerLimits: AnswerLimits = AnswerLimits(), bounces: Bool = false, batchSize: Int = 100
    ) async throws {
        try MailLab.requireRunning()
        try MailLab.resetUser(gatewayUser)
        self.gatewayUser = gatewayUser
        let clock = TestClock()
        self.clock = clock
        let gatewayAddress = "\(gatewayUser)@example.test"
        var settings = ApprovalService.Settings()
        settings.answerLimits = answerLimits
        fixture = try await GatewayFixture(now: clock.now, clock: clock, fromAddress: gatewayAddress, replyAddress: "\(gatewayUser)+{key}@example.test", settings: settings)
        smtp = SMTPSender(configuration: try SMTPConfiguration(url: MailLab.smtpURL, startTLS: .opportunistic, caFile: MailLab.caFile, ehloName: "example.test"))
        unstampedSMTP = SMTPSender(configuration: try SMTPConfiguration(url: MailLab.unstampedSMTPURL, startTLS: .opportunistic, caFile: MailLab.caFile, ehloName: "evil.test"))
        let bounceAddress = bounces ? BounceAddress(pattern: "\(gatewayUser)+bounce-{id}@example.test", keyRing: fixture.keyRing) : nil
        self.bounceAddress = bounceAddress
        worker = OutboxWorker(
            store: fixture.store, renderer: fixture.renderer, sender: SMTPEmailSender(sender: smtp),
            policy: OutboxWorker.Policy(maxAttempts: 3, retryInitial: 1, retryMax: 2), bounceAddress: bounceAddress, clock: clock,
            logger: Logger(label: "test.outbox")
        )
        var backoff = ReconnectBackoff.Policy()
        backoff.initialDelay = .milliseconds(100)
        backoff.maximumDelay = .milliseconds(500)
        mailbox = IMAPMailbox(configuration: try IMAPConfiguration(
            url: imapURL, username: gatewayAddress, password: "secret", startTLS: .off,
            connectTimeout: .seconds(3), commandTimeout: .seconds(10), backoff: backoff
        ))
        let verifier = ReplyVerifier(
            settings: ReplySettings(replyAddress: "\(gatewayUser)+{key}@example.test", trustedAuthservID: trustedAuthservID, requireAuthentication: requireAuthentication),
            keyRing: fixture.keyRing, bounceAddress: bounceAddress
        )
        processor = InboxProcessor(
            mailbox: mailbox, verifier: verifier, service: fixture.gateway.service,
            policy: InboxProcessor.Policy(processedFolder: "Processed", rejectedFolder: "Rejected", pollInterval: .seconds(1), maxMessageBytes: 200_000, batchSize: batchSize),
            logger: Logger(label: "test.inbox")
        )
    }

    /// Creates a request and sends its notifications through the real lab.
    func createRequest(_ requester: String = "requester1@example.test", resource: String = "prod-db", reason: String = "incident 42") async throws -> AccessRequest {
        let request = try await fixture.gateway.createRequest(NewAccessRequest(requester: requester, resource: resource, reason: reason, durationSeconds: ["prod-db", "two-key-db", "paged-db"].contains(resource) ? 14_400 : nil), now: clock.now)
        while try await worker.drainOnce() > 0 {}
        return request
    }

    /// The notification `user` received about `request` (raw text), waiting for its delivery.
    func notification(for user: String, request: AccessRequest) async throws -> String {
        let found = try await MailLab.waitForMessages(for: user, containing: "[Access request #\(request.id)]", count: 1, marker: marker)
        return try #require(found.first { $0.contains("Reply-To:") }, "\(user) got no notification for request \(request.id)")
    }

    /// Sends a reply to `notification` from `from`, as a mail client would: quoting the original
    /// below an attribution line.
    @discardableResult
    func reply(
        to notification: String, from: String, envelopeFrom: String? = nil, body: String, messageID: String = "\(UUID().uuidString)@client.example.test",
        replyTo override: String? = nil, extraHeaders: [String] = [], unstamped: Bool = false, threadHeaders: Bool = true
    ) async throws -> String {
        let parsed = try MailMessage(parsing: notification)
        let replyTo = override ?? parsed.headers["Reply-To"].flatMap { try? AddressParser.parseSingleMailbox($0).address } ?? ""
        let original = parsed.headers["Message-ID"] ?? ""
        let subject = parsed.headers.first(named: "Subject")?.decodedValue ?? ""
        let quoted = (parsed.allParts.first { $0.contentType.mimeType == "text/plain" }?.text() ?? "")
            .split(separator: "\n", omittingEmptySubsequences: false).map { "> " + $0 }.joined(separator: "\r\n")
        var lines = [
            "From: \(from)",
            "To: \(replyTo)",
            "Subject: Re: \(subject)",
            "Date: \(MessageBuilder.rfc5322Date(Int64(Date().timeIntervalSince1970), offsetMinutes: 60))",
            "Message-ID: <\(messageID)>",
        ]
        if threadHeaders {
            lines += ["In-Reply-To: \(original)", "References: \(parsed.headers["References"] ?? "") \(original)"]
        }
        lines += [
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=UTF-8",
            "Content-Transfer-Encoding: 8bit",
            "User-Agent: Mozilla Thunderbird",
        ]
        lines += extraHeaders
        let text = lines.joined(separator: "\r\n") + "\r\n\r\n" + body.replacingOccurrences(of: "\n", with: "\r\n")
            + "\r\n\r\nOn Fri, 27 Nov 2026 at 16:34, Approval Gateway wrote:\r\n" + quoted + "\r\n"
        try await send(raw: text, envelopeFrom: envelopeFrom ?? (try AddressParser.parseSingleMailbox(from).address), to: replyTo, unstamped: unstamped)
        return messageID
    }

    /// Sends raw bytes over SMTP to `to`.
    func send(raw: String, envelopeFrom: String, to: String, unstamped: Bool = false) async throws {
        _ = try await (unstamped ? unstampedSMTP : smtp).send(MailTransport.OutgoingMessage(envelopeSender: envelopeFrom, recipients: [to], data: Array(raw.utf8)))
    }

    /// Runs the processor until it has handled `count` messages (deliveries take a moment).
    @discardableResult
    func process(expecting count: Int = 1, timeout: Duration = .seconds(15)) async throws -> Int {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var handled = 0
        while handled < count, clock.now < deadline {
            handled += try await processor.processNewMessages()
            if handled < count { try await Task.sleep(for: .milliseconds(100)) }
        }
        return handled
    }

    /// The plain-text body of an outbox entry as the recipient will read it (rendered now).
    func renderedText(_ entry: OutboxEntry) async throws -> String {
        let email = try await fixture.renderer.render(entry, now: clock.now)
        let message = try MailMessage(parsing: email.raw)
        let text = message.allParts.first { $0.contentType.mimeType == "text/plain" }?.text() ?? ""
        // Undo the renderer's line wrapping so that phrases can be found whole.
        return text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    /// The messages now in a folder of the gateway mailbox.
    func folderCount(_ folder: String) async throws -> Int {
        try await mailbox.status(folder).messages
    }

    func shutdown() async {
        await mailbox.close()
        await smtp.close()
        await unstampedSMTP.close()
    }
}
