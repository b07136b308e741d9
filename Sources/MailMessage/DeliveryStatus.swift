/// A delivery status notification (RFC 3464): what the reporting server says about each recipient.
public struct DeliveryStatus: Sendable, Hashable {
    /// One recipient's block.
    public struct Recipient: Sendable, Hashable {
        /// `Final-Recipient`, without its address type (`rfc822;`).
        public var finalRecipient: String?
        /// `failed`, `delayed`, `delivered`, `relayed` or `expanded`, lowercased.
        public var action: String
        /// The RFC 3463 status code (`5.1.1`).
        public var status: String
        /// `Diagnostic-Code`, without its type (`smtp;`).
        public var diagnostic: String?

        /// A permanent failure: the action `failed`, or a `5.x.x` status.
        public var isPermanentFailure: Bool { action == "failed" || status.hasPrefix("5.") }
    }

    public var recipients: [Recipient]

    /// Reads the `message/delivery-status` (or `message/global-delivery-status`) part of `message`,
    /// or `nil` when there is none.
    public init?(_ message: MailMessage) {
        guard let part = message.allParts.first(where: {
            ["message/delivery-status", "message/global-delivery-status"].contains($0.contentType.mimeType)
        }) else { return nil }
        self.init(text: String(decoding: part.decodedBody(), as: UTF8.self))
    }

    /// Parses the body of a delivery-status part: a block of per-message fields, then one block per
    /// recipient, separated by blank lines.
    public init?(text: String) {
        var blocks: [[String: String]] = [[:]]
        var lastName: String?
        // "\r\n" is one Character in Swift: split on every kind of line break.
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) {
                if !blocks[blocks.count - 1].isEmpty { blocks.append([:]) }
                lastName = nil
                continue
            }
            if line.first == " " || line.first == "\t", let name = lastName {
                blocks[blocks.count - 1][name, default: ""] += " " + line.trimmedSpaces
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmedSpaces.lowercased()
            blocks[blocks.count - 1][name] = line[line.index(after: colon)...].trimmedSpaces
            lastName = name
        }
        func typed(_ value: String?) -> String? {
            guard let value else { return nil }
            guard let semicolon = value.firstIndex(of: ";") else { return value }
            return value[value.index(after: semicolon)...].trimmedSpaces
        }
        recipients = blocks.filter { $0["action"] != nil || $0["final-recipient"] != nil }.map { block in
            Recipient(
                finalRecipient: typed(block["final-recipient"]), action: (block["action"] ?? "").lowercased(),
                status: block["status"].map { String($0.prefix { $0.isNumber || $0 == "." }) } ?? "",
                diagnostic: typed(block["diagnostic-code"])
            )
        }
        guard !recipients.isEmpty else { return nil }
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    fileprivate var trimmedSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
