import CCurl
import Logging

/// One message to hand to an SMTP server: the envelope (who it is from and to, as the server
/// sees it) kept apart from the message's own bytes (whose headers may say something else).
public struct OutgoingMessage: Sendable, Hashable {
    /// The envelope sender (`MAIL FROM`), a bare address such as `gateway@example.test`; empty
    /// for the null sender `<>`.
    public var envelopeSender: String
    /// The envelope recipients (`RCPT TO`), bare addresses. At least one.
    public var recipients: [String]
    /// The complete RFC 5322 message, headers and body, with CRLF line endings. Sent as is;
    /// libcurl adds the SMTP dot-stuffing and the final `CRLF.CRLF`.
    public var data: [UInt8]

    public init(envelopeSender: String, recipients: [String], data: [UInt8]) {
        self.envelopeSender = envelopeSender
        self.recipients = recipients
        self.data = data
    }
}

/// The server's acceptance of one message.
public struct SMTPDelivery: Sendable, Hashable, Codable {
    /// The final reply code, normally 250.
    public var replyCode: Int
    /// The server's final reply text, e.g. `2.0.0 Ok: queued as 4Xk2p11c`.
    public var replyText: String
    /// True when the message went over a connection that was already open.
    public var reusedConnection: Bool
}

/// Sends mail over SMTP through libcurl, reusing one connection for many messages.
///
/// An actor whose code runs on its own serial queue (not the cooperative pool): `send` blocks that
/// queue for the length of one SMTP transaction. Each sender owns exactly one libcurl handle and
/// so at most one connection; use one sender per worker.
///
/// ```swift
/// let sender = SMTPSender(configuration: try SMTPConfiguration(url: "smtp://127.0.0.1:2525"))
/// let delivery = try await sender.send(OutgoingMessage(envelopeSender: "gateway@example.test",
///                                                      recipients: ["approver1@example.test"],
///                                                      data: Array(rfc5322.utf8)))
/// await sender.close()
/// ```
///
/// Failures are ``MailTransportError``s: `classification` is `.transient` for 4xx replies,
/// connection problems and timeouts, `.permanent` for 5xx replies (SMTP-3); `replyCode` and
/// `serverText` carry the server's answer.
public actor SMTPSender {
    /// The configuration this sender was created with.
    public nonisolated let configuration: SMTPConfiguration
    private let logger: Logger
    private let executor: ConnectionExecutor
    private let stop = StopFlag()
    private var handle: CurlEasyHandle?
    private var warnedInsecure = false
    /// How many TCP connections this sender has opened so far.
    public private(set) var connectionsOpened = 0
    /// How many messages the server has accepted through this sender.
    public private(set) var messagesSent = 0

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// Creates a sender. Nothing connects until the first ``send(_:)``.
    public init(configuration: SMTPConfiguration, logger: Logger = Logger(label: "approval-gateway.smtp")) {
        self.configuration = configuration
        self.logger = logger
        executor = ConnectionExecutor(label: "smtp \(configuration.endpoint.urlString)")
    }

    /// Sends one message and returns the server's acceptance.
    ///
    /// Reuses the open connection when there is one. If that connection turns out to have been
    /// closed by the server before it accepted anything, the message is retried once on a new
    /// connection.
    public func send(_ message: OutgoingMessage) throws(MailTransportError) -> SMTPDelivery {
        try Self.validate(message)
        do {
            return try attempt(message)
        } catch let error where error.kind == .connectionLost && lastAttemptReused {
            logger.debug("SMTP connection was closed by the server; reconnecting", metadata: ["server": "\(configuration.endpoint.urlString)"])
            return try attempt(message)
        }
    }

    private var lastAttemptReused = false

    private func attempt(_ message: OutgoingMessage) throws(MailTransportError) -> SMTPDelivery {
        if stop.isRaised {
            throw MailTransportError(kind: .cancelled, message: "SMTP sender for \(configuration.endpoint.urlString) is shut down")
        }
        let handle = try preparedHandle()
        try handle.set(CURLOPT_MAIL_FROM, "<\(message.envelopeSender)>")
        try handle.set(CURLOPT_MAIL_RCPT, list: message.recipients.map { "<\($0)>" })
        let rc = handle.perform(upload: message.data)
        let newConnections = handle.info(CURLINFO_NUM_CONNECTS) ?? 0
        lastAttemptReused = newConnections == 0
        if newConnections > 0 {
            connectionsOpened += newConnections
            noteNewConnection()
        }
        let place = "for \(message.recipients.joined(separator: ", ")) at \(configuration.endpoint.urlString)"
        guard rc == CURLE_OK else {
            let code = handle.responseCode
            let line = code.flatMap { handle.serverLines.last(withCode: $0) } ?? handle.serverLines.last
            let error = MailTransportError.fromCurl(
                rc, detail: handle.errorText(rc), replyCode: code,
                serverLine: line, operation: "SMTP delivery", place: place)
            if error.kind == .authentication, let user = configuration.username {
                throw MailTransportError(kind: .authentication,
                                         message: "SMTP login failed for \(user) at \(configuration.endpoint.urlString): \(error.serverText ?? error.message)",
                                         replyCode: error.replyCode, serverText: error.serverText, curlCode: error.curlCode)
            }
            throw error
        }
        messagesSent += 1
        let line = handle.serverLines.last ?? ""
        return SMTPDelivery(replyCode: handle.responseCode ?? 250,
                            replyText: MailTransportError.stripReplyCode(line),
                            reusedConnection: newConnections == 0)
    }

    /// Closes the connection politely (QUIT). The next ``send(_:)`` opens a new one.
    public func close() {
        handle = nil
    }

    /// Makes any running and every later ``send(_:)`` fail with ``MailTransportError/Kind/cancelled``
    /// within about 200 ms. Safe to call from any task.
    public nonisolated func shutdown() {
        stop.raise()
    }

    private func preparedHandle() throws(MailTransportError) -> CurlEasyHandle {
        if let handle { return handle }
        let config = configuration
        let handle = try CurlEasyHandle(protocols: "smtp,smtps", stop: stop)
        try handle.set(CURLOPT_URL, "\(config.endpoint.urlString)/\(config.ehloName)")
        try handle.applyTLS(endpoint: config.endpoint, startTLS: config.startTLS, caFile: config.caFile, verify: config.verifyCertificates)
        if let username = config.username {
            try handle.set(CURLOPT_USERNAME, username)
            try handle.set(CURLOPT_PASSWORD, config.password ?? "")
        }
        try handle.set(CURLOPT_CONNECTTIMEOUT_MS, config.connectTimeout.milliseconds)
        try handle.set(CURLOPT_TIMEOUT_MS, config.timeout.milliseconds)
        try handle.set(CURLOPT_SERVER_RESPONSE_TIMEOUT, max(1, Int(config.timeout.seconds.rounded(.up))))
        // Keep one connection: a second would only be opened if the first is unusable.
        try handle.set(CURLOPT_MAXCONNECTS, 1)
        self.handle = handle
        return handle
    }

    private func noteNewConnection() {
        if !configuration.verifyCertificates {
            logger.warning("TLS certificate verification is OFF for this SMTP connection: anyone on the network path can impersonate the server",
                           metadata: ["server": "\(configuration.endpoint.urlString)"])
        } else if configuration.startTLS != .required && !configuration.endpoint.isImplicitTLS {
            logger.notice("SMTP connection may be unencrypted (STARTTLS \(configuration.startTLS.rawValue))",
                          metadata: ["server": "\(configuration.endpoint.urlString)"])
        } else {
            logger.debug("SMTP connection opened", metadata: ["server": "\(configuration.endpoint.urlString)"])
        }
    }

    static func validate(_ message: OutgoingMessage) throws(MailTransportError) {
        func bad(_ address: String) -> Bool {
            address.unicodeScalars.contains { $0 == "\r" || $0 == "\n" || $0 == "<" || $0 == ">" || $0 == "\0" || $0 == " " }
        }
        guard !message.recipients.isEmpty else {
            throw MailTransportError(kind: .configuration, message: "SMTP message has no envelope recipient", classification: .permanent)
        }
        for address in [message.envelopeSender] + message.recipients where bad(address) {
            throw MailTransportError(kind: .configuration, message: "SMTP envelope address '\(address.debugDescription)' contains a forbidden character (CR, LF, space, < or >)", classification: .permanent)
        }
        for recipient in message.recipients where recipient.isEmpty {
            throw MailTransportError(kind: .configuration, message: "SMTP envelope recipient is empty", classification: .permanent)
        }
        guard !message.data.isEmpty else {
            throw MailTransportError(kind: .configuration, message: "SMTP message is empty", classification: .permanent)
        }
    }
}
