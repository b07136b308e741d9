// This file imports MailMessage alone, so that its names resolve without ambiguity with MailTransport's.
import MailMessage

/// A message of the gateway's own, before it is serialised (MailMessage's builder input).
typealias ComposedMessage = OutgoingMessage
/// A mailbox of a composed message.
typealias ComposedMailbox = Mailbox

enum Composer {
    /// Serialises a composed message into RFC 5322 bytes.
    static func serialize(_ message: ComposedMessage) throws -> [UInt8] {
        try MessageBuilder.build(message)
    }

    /// Splits `local@domain` into a mailbox with an optional display name.
    static func mailbox(_ address: String, name: String? = nil) -> ComposedMailbox? {
        guard let at = address.lastIndex(of: "@"), at != address.startIndex, address.index(after: at) != address.endIndex else { return nil }
        return ComposedMailbox(displayName: name, localPart: String(address[..<at]), domain: String(address[address.index(after: at)...]))
    }
}
