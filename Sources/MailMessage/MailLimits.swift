/// Bounds on the work the parser does for one message. Every limit turns into a recorded defect or a
/// thrown `MailParseError`, never into unbounded time or memory.
public struct MailLimits: Sendable, Hashable {
    /// Messages larger than this are refused (`MailParseError.tooLarge`).
    public var maxMessageBytes: Int
    /// Header fields beyond this number (per part) are ignored and recorded as a defect.
    public var maxHeaderFields: Int
    /// MIME parts beyond this number (whole message) are not parsed and recorded as a defect.
    public var maxParts: Int
    /// Multiparts nested deeper than this are treated as opaque leaves.
    public var maxDepth: Int

    /// Creates limits.
    public init(maxMessageBytes: Int = 32 << 20, maxHeaderFields: Int = 1_000, maxParts: Int = 500, maxDepth: Int = 24) {
        self.maxMessageBytes = maxMessageBytes
        self.maxHeaderFields = maxHeaderFields
        self.maxParts = maxParts
        self.maxDepth = maxDepth
    }

    /// The defaults: 32 MiB, 1,000 header fields per part, 500 parts, nesting depth 24.
    public static let `default` = MailLimits()
}

/// A non-fatal irregularity found while parsing. The parser records it and carries on.
public struct MailDefect: Sendable, Hashable, CustomStringConvertible {
    /// What kind of irregularity.
    public enum Kind: String, Sendable, Hashable {
        case headerLineWithoutColon
        case tooManyHeaderFields
        case missingHeaderBodySeparator
        case invalidContentType
        case multipartWithoutBoundary
        case missingStartBoundary
        case missingEndBoundary
        case tooManyParts
        case tooDeep
        case invalidBase64
        case invalidQuotedPrintable
        case unknownCharset
        case invalidCharsetBytes
    }

    /// The kind of defect.
    public let kind: Kind
    /// Byte offset in the message where it was noticed.
    public let offset: Int
    /// Short human-readable context (e.g. the charset name).
    public let detail: String

    /// Creates a defect.
    public init(_ kind: Kind, offset: Int, detail: String = "") {
        self.kind = kind
        self.offset = offset
        self.detail = detail
    }

    public var description: String {
        detail.isEmpty ? "\(kind.rawValue) at byte \(offset)" : "\(kind.rawValue) at byte \(offset): \(detail)"
    }
}

/// Why a message could not be parsed at all.
public struct MailParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The reason.
    public enum Kind: String, Sendable, Hashable {
        case tooLarge
        case empty
    }

    /// The reason.
    public let kind: Kind
    /// The message size in bytes.
    public let size: Int
    /// The limit that applied, if any.
    public let limit: Int?

    public var description: String {
        switch kind {
        case .tooLarge: return "message of \(size) bytes exceeds the limit of \(limit ?? 0) bytes"
        case .empty: return "empty message"
        }
    }
}
