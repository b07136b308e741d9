// This file imports MailTransport alone, so that its names resolve without ambiguity with MailMessage's.
import MailTransport

/// Sends rendered emails; the seam between the outbox worker and SMTP.
public protocol EmailSending: Sendable {
    /// Sends `raw` from `sender` to `recipient`.
    /// - Throws: ``DeliveryFailure``.
    func send(raw: [UInt8], from sender: String, to recipient: String) async throws(DeliveryFailure)
}

/// Why an email was not accepted, and whether trying again may help.
public struct DeliveryFailure: Error, Sendable, CustomStringConvertible {
    /// `true` for 4xx replies, connection problems and timeouts; `false` for 5xx and bad messages.
    public var isTransient: Bool
    public var message: String

    public init(isTransient: Bool, message: String) {
        self.isTransient = isTransient
        self.message = message
    }

    public var description: String { message }
}

/// Sends over one reused SMTP connection (MailTransport's ``SMTPSender``).
public struct SMTPEmailSender: EmailSending {
    public let sender: SMTPSender

    public init(sender: SMTPSender) {
        self.sender = sender
    }

    public func send(raw: [UInt8], from envelopeSender: String, to recipient: String) async throws(DeliveryFailure) {
        do {
            _ = try await sender.send(OutgoingMessage(envelopeSender: envelopeSender, recipients: [recipient], data: raw))
        } catch {
            throw DeliveryFailure(isTransient: error.classification == .transient, message: error.description)
        }
    }
}
