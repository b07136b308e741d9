import Foundation
import GatewayTestSupport
import Testing
@testable import MailTransport

/// The MailTransport helpers of the shared ``MailLab`` (GatewayTestSupport).
extension MailLab {
    static func imapConfiguration(
        _ user: String, url: String = imap, startTLS: StartTLSPolicy = .required, caFile: String? = caFile,
        password: String = password, backoff: ReconnectBackoff.Policy = .init(initialDelay: .milliseconds(100), maximumDelay: .seconds(2)),
        idleRefresh: Duration = .seconds(600), ignoredCapabilities: Set<String> = []
    ) throws -> IMAPConfiguration {
        var configuration = try IMAPConfiguration(
            url: url, username: address(user), password: password, startTLS: startTLS, caFile: caFile,
            connectTimeout: .seconds(5), commandTimeout: .seconds(10), idleRefresh: idleRefresh, backoff: backoff)
        configuration.ignoredCapabilities = ignoredCapabilities
        return configuration
    }

    /// A plain SMTP relay sender on port 2525 (no AUTH; STARTTLS with the lab CA).
    static func relaySender() throws -> SMTPSender {
        SMTPSender(configuration: try SMTPConfiguration(url: smtp, startTLS: .required, caFile: caFile, timeout: .seconds(20)))
    }

    /// A message with a unique Message-ID, CRLF line endings and the given body.
    static func message(from: String, to: String, subject: String, body: String, id: String = UUID().uuidString) -> (OutgoingMessage, messageID: String) {
        let messageID = "<\(id)@test.example.test>"
        let text = "From: <\(from)>\r\nTo: <\(to)>\r\nSubject: \(subject)\r\nMessage-ID: \(messageID)\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\(body)"
        return (OutgoingMessage(envelopeSender: from, recipients: [to], data: Array(text.utf8)), messageID)
    }

    /// Sends one message to `user` and waits until it is in their INBOX; returns its UID.
    @discardableResult
    static func deliver(to user: String, subject: String = "test", body: String = "hello\r\n", via mailbox: IMAPMailbox) async throws -> UInt32 {
        let sender = try relaySender()
        let (message, messageID) = self.message(from: address("requester1"), to: address(user), subject: subject, body: body)
        _ = try await sender.send(message)
        await sender.close()
        return try await waitFor(messageID: messageID, in: mailbox)
    }

    /// Polls until a message with `messageID` is in the selected folder; returns its UID.
    static func waitFor(messageID: String, in mailbox: IMAPMailbox, timeout: Duration = .seconds(15)) async throws -> UInt32 {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let uid = try await mailbox.searchUIDs(.header("Message-ID", contains: messageID)).first { return uid }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw NotRunning(description: "message \(messageID) did not arrive within \(timeout)")
    }
}
