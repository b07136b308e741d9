/// An SMTP or IMAP failure, with enough context to act on it and to show it to an operator.
///
/// `message` is a complete sentence naming what failed and where, for example
/// `IMAP login failed for gateway@example.test at imap://127.0.0.1:1143: [AUTHENTICATIONFAILED] Authentication failed.`
/// Passwords never appear in it.
public struct MailTransportError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, independent of the protocol.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// Nothing listens on the server's port (connection refused).
        case connectionRefused
        /// The host name could not be resolved.
        case hostNotFound
        /// A connect, read or whole-operation timeout expired.
        case timeout
        /// The server closed the connection, or it broke, in the middle of a session.
        case connectionLost
        /// The TLS handshake failed (no TLS on the port, protocol mismatch, STARTTLS refused).
        case tls
        /// The server's certificate could not be verified against the CA file or the system store.
        case certificateVerification
        /// The server rejected the user name or password.
        case authentication
        /// The server answered a command with an error (SMTP 4xx/5xx, IMAP `NO`/`BAD`).
        case serverRejected
        /// The IMAP folder does not exist.
        case mailboxNotFound
        /// The folder's UIDVALIDITY changed since it was last selected: every cached UID is void.
        case uidValidityChanged
        /// The server sent something this client cannot understand.
        case protocolViolation
        /// The configuration is unusable (bad URL, unsupported option, missing CA file).
        case configuration
        /// The operation was cancelled, or the connection was shut down while it ran.
        case cancelled
    }

    /// Whether trying again later can succeed.
    public enum Classification: String, Sendable, Hashable, Codable {
        /// Retry with backoff: 4xx replies, connection problems and timeouts (SMTP-3).
        case transient
        /// Do not retry the same thing: 5xx replies, rejected credentials, certificate failures.
        case permanent
    }

    /// What went wrong.
    public var kind: Kind
    /// Transient or permanent; see ``Classification``.
    public var classification: Classification
    /// A complete, human-readable description naming the operation, the account and the server.
    public var message: String
    /// The SMTP reply code (e.g. 550, 451, 535) when the server answered with one.
    public var replyCode: Int?
    /// The server's own words: the SMTP reply text or the IMAP `NO`/`BAD` response text.
    public var serverText: String?
    /// The libcurl result code when libcurl reported the failure.
    public var curlCode: Int?

    /// Creates an error. `classification` defaults from `replyCode` (4xx transient, 5xx permanent)
    /// and otherwise from `kind`.
    public init(
        kind: Kind,
        message: String,
        replyCode: Int? = nil,
        serverText: String? = nil,
        curlCode: Int? = nil,
        classification: Classification? = nil
    ) {
        self.kind = kind
        self.message = message
        self.replyCode = replyCode
        self.serverText = serverText
        self.curlCode = curlCode
        self.classification = classification ?? Self.defaultClassification(kind: kind, replyCode: replyCode)
    }

    /// True when retrying later can succeed.
    public var isTransient: Bool { classification == .transient }

    /// True when the failure is about the setup rather than one message or command: the
    /// credentials, TLS or the configuration. An outbox should pause and alert on these instead of
    /// failing every queued message.
    public var isConfigurationProblem: Bool {
        switch kind {
        case .authentication, .certificateVerification, .tls, .configuration: true
        default: false
        }
    }

    public var description: String { message }

    static func defaultClassification(kind: Kind, replyCode: Int?) -> Classification {
        if let replyCode {
            if (400..<500).contains(replyCode) { return .transient }
            if (500..<600).contains(replyCode) { return .permanent }
        }
        switch kind {
        case .connectionRefused, .hostNotFound, .timeout, .connectionLost, .tls, .cancelled:
            return .transient
        case .serverRejected, .protocolViolation:
            return .transient
        case .certificateVerification, .authentication, .mailboxNotFound, .uidValidityChanged, .configuration:
            return .permanent
        }
    }
}
