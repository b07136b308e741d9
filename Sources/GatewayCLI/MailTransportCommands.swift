import ArgumentParser
import Foundation
import MailTransport

// Operator commands for the mail transport: `mail send-test` and `mail check-inbox`, plus the
// hidden `mail bench-smtp` and `mail bench-imap` used by scripts/bench-transport.
//
// Each command is a thin shell: options -> configuration -> `runSendTest` / `runCheckInbox`
// -> JSON on stdout. Errors go to stderr as one clear sentence, with a non-zero exit status.

// MARK: - Options

/// TLS options shared by the SMTP and IMAP option groups; each overrides the configuration.
struct MailTLSOptions: ParsableArguments {
    @Option(name: .customLong("ca-file"), help: "PEM file of CA certificates to trust instead of the configured one.")
    var caFile: String?

    @Option(name: .customLong("starttls"), help: "STARTTLS for smtp:// and imap:// URLs: required, opportunistic or off.")
    var startTLS: StartTLSPolicy?

    @Flag(name: .customLong("insecure-skip-verify"), help: "Do not verify the server's certificate (logged as a warning; never in production).")
    var insecureSkipVerify = false
}

extension StartTLSPolicy: ExpressibleByArgument {}

/// The SMTP settings of the configuration (`smtp.*`), optionally overridden on the command line.
/// The password only ever comes from the configuration or `APPROVAL_GATEWAY_SMTP_PASSWORD`.
struct MailSMTPOptions: ParsableArguments {
    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("smtp-url"), help: "SMTP server: smtp://host:port (STARTTLS per --starttls) or smtps://host:port; default smtp.url.")
    var url: String?

    @Option(name: .customLong("smtp-username"), help: "SMTP AUTH user name; default smtp.username.")
    var username: String?

    @OptionGroup var tls: MailTLSOptions

    @Option(name: .customLong("smtp-timeout"), help: "Seconds allowed per message; default smtp.timeout.")
    var timeoutSeconds: Int?

    func configuration() throws -> (SMTPConfiguration, from: String) {
        let settings = try global.loadConfiguration().smtp
        var smtp = try settings.transportConfiguration()
        if let url {
            smtp = try SMTPConfiguration(
                url: url, username: smtp.username, password: smtp.password, startTLS: smtp.startTLS, caFile: smtp.caFile,
                verifyCertificates: smtp.verifyCertificates, ehloName: smtp.ehloName, timeout: smtp.timeout)
        }
        if let username { smtp.username = username }
        if let startTLS = tls.startTLS { smtp.startTLS = startTLS }
        if let caFile = tls.caFile { smtp.caFile = caFile }
        if tls.insecureSkipVerify { smtp.verifyCertificates = false }
        if let timeoutSeconds { smtp.timeout = .seconds(timeoutSeconds) }
        return (smtp, settings.from)
    }
}

/// The IMAP settings of the configuration (`imap.*`), optionally overridden on the command line.
/// The password only ever comes from the configuration or `APPROVAL_GATEWAY_IMAP_PASSWORD`.
struct MailIMAPOptions: ParsableArguments {
    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("imap-url"), help: "IMAP server and folder: imap://host:port/FOLDER or imaps://host:port/FOLDER; default imap.url.")
    var url: String?

    @Option(name: .customLong("imap-username"), help: "IMAP login name; default imap.username.")
    var username: String?

    @OptionGroup var tls: MailTLSOptions

    func configuration() throws -> IMAPConfiguration {
        var settings = try global.loadConfiguration().imap
        if let url { settings.url = url }
        if let username { settings.username = username }
        var imap = try settings.transportConfiguration()
        if let startTLS = tls.startTLS { imap.startTLS = startTLS }
        if let caFile = tls.caFile { imap.caFile = caFile }
        if tls.insecureSkipVerify { imap.verifyCertificates = false }
        return imap
    }
}

// MARK: - Results

/// What `mail send-test` prints.
struct SendTestResult: Codable, Sendable {
    var server: String
    var from: String
    var to: String
    var messageID: String
    var replyCode: Int
    var replyText: String
    var milliseconds: Int
}

/// What `mail check-inbox` prints.
struct InboxReport: Codable, Sendable {
    var server: String
    var username: String
    var mailbox: String
    var tls: String
    var uidValidity: UInt32
    var uidNext: UInt32?
    var messages: Int
    var capabilities: [String]
}

// MARK: - Operations (the commands' bodies; configuration comes from the caller)

/// Sends one short test message with `smtp` from `from` to `to`.
func runSendTest(smtp: SMTPConfiguration, from: String, to: String) async throws -> SendTestResult {
    let sender = SMTPSender(configuration: smtp)
    let domain = from.split(separator: "@").last.map(String.init) ?? "localhost"
    let messageID = "<send-test.\(UUID().uuidString.lowercased())@\(domain)>"
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
    let text = [
        "Date: \(formatter.string(from: Date()))",
        "From: <\(from)>",
        "To: <\(to)>",
        "Subject: approval-gateway SMTP test",
        "Message-ID: \(messageID)",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 7bit",
        "Auto-Submitted: auto-generated",
        "",
        "This is a test message from approval-gateway (mail send-test).",
        "It was sent through \(smtp.endpoint.urlString).",
        "",
    ].joined(separator: "\r\n")
    let start = ContinuousClock.now
    let delivery = try await sender.send(OutgoingMessage(envelopeSender: from, recipients: [to], data: Array(text.utf8)))
    let elapsed = ContinuousClock.now - start
    await sender.close()
    return SendTestResult(
        server: smtp.endpoint.urlString, from: from, to: to, messageID: messageID,
        replyCode: delivery.replyCode, replyText: delivery.replyText,
        milliseconds: Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000))
}

/// Logs in, selects the configured folder and reports UIDVALIDITY, size and capabilities.
func runCheckInbox(imap: IMAPConfiguration) async throws -> InboxReport {
    let mailbox = IMAPMailbox(configuration: imap)
    let session = try await mailbox.connect()
    let status = try await mailbox.select()
    await mailbox.close()
    let tls = imap.endpoint.isImplicitTLS ? "implicit" : (imap.startTLS == .off ? "none" : "starttls-\(imap.startTLS.rawValue)")
    return InboxReport(
        server: session.server, username: session.username, mailbox: status.name, tls: tls,
        uidValidity: status.uidValidity, uidNext: status.uidNext, messages: status.messages,
        capabilities: session.capabilities)
}

/// Prints a result as pretty JSON on stdout.
private func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    FileHandle.standardOutput.write(try encoder.encode(value))
    FileHandle.standardOutput.write(Data("\n".utf8))
}

/// Runs `body`; a mail error is printed to stderr as one sentence and exits non-zero
/// (2 for permanent problems, 1 for transient ones).
private func reportingMailErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as MailTransportError {
        FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
        throw ExitCode(error.isTransient ? 1 : 2)
    }
}

// MARK: - Commands

struct MailSendTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send-test",
        abstract: "Send one test message with the configured SMTP settings and print the server's answer as JSON.")

    @OptionGroup var smtp: MailSMTPOptions

    @Option(help: "Envelope sender and From address; default smtp.from.")
    var from: String?

    @Option(help: "Recipient address.")
    var to: String

    func run() async throws {
        try await reportingFailures {
            let (configuration, configuredFrom) = try smtp.configuration()
            try await reportingMailErrors {
                try printJSON(try await runSendTest(smtp: configuration, from: from ?? configuredFrom, to: to))
            }
        }
    }
}

struct MailCheckInboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-inbox",
        abstract: "Log in to the IMAP mailbox and print its UIDVALIDITY, message count and the server's capabilities as JSON.",
        discussion: """
            With reply.trusted_authserv_id set, it also looks at the last messages of the mailbox and of the \
            processed and rejected folders, and warns when they lack the receiving server's \
            Authentication-Results stamp where replies are checked for it.
            """)

    @OptionGroup var imap: MailIMAPOptions

    @Option(help: "How many recent messages of each folder to check for the Authentication-Results stamp.")
    var recent = 20

    /// The inbox report's fields, plus `authentication_results`.
    struct Report: Encodable {
        var inbox: InboxReport
        var authenticationResults: StampReport?

        enum CodingKeys: String, CodingKey { case authenticationResults = "authentication_results" }

        func encode(to encoder: any Encoder) throws {
            try inbox.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encodeIfPresent(authenticationResults, forKey: .authenticationResults)
        }
    }

    func run() async throws {
        try await reportingFailures {
            let configuration = try imap.configuration()
            let settings = try imap.global.loadConfiguration()
            try await reportingMailErrors {
                var report = Report(inbox: try await runCheckInbox(imap: configuration), authenticationResults: nil)
                if let trusted = settings.reply.trustedAuthservID {
                    let folders = [configuration.mailbox, settings.imap.processedFolder, settings.imap.rejectedFolder]
                    let stamps = try await checkStamps(imap: configuration, folders: folders, trustedAuthservID: trusted, limit: recent)
                    report.authenticationResults = stamps
                    if stamps.missing > 0 {
                        FileHandle.standardError.write(Data("""
                            warning: \(stamps.missing) of the last \(stamps.checked) messages have no Authentication-Results of \(trusted) \
                            where the receiving server puts its own (topmost, directly above its SMTP Received:): replies \
                            from them are refused. Make the receiving server stamp every message and remove incoming \
                            Authentication-Results that carry \(trusted) (RFC 8601, section 5). First: \(stamps.examples.joined(separator: "; "))

                            """.utf8))
                    }
                } else {
                    FileHandle.standardError.write(Data("warning: reply.trusted_authserv_id is not set: replies are not checked against the receiving server's Authentication-Results\n".utf8))
                }
                try printJSON(report)
            }
        }
    }
}

/// `mail bench-smtp`: messages per second over one reused SMTP connection.
struct MailBenchSMTPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-smtp",
        abstract: "Benchmark: send N small messages over one SMTP connection and print the rate as JSON.",
        shouldDisplay: false)

    @OptionGroup var smtp: MailSMTPOptions

    @Option(help: "Number of messages.")
    var count = 500

    @Option(help: "Envelope sender and From address.")
    var from = "gateway@example.test"

    @Option(help: "Recipient address.")
    var to = "approver49@example.test"

    struct Result: Codable {
        var messages: Int
        var seconds: Double
        var messagesPerSecond: Double
        var connectionsOpened: Int
    }

    func run() async throws {
        let (configuration, _) = try smtp.configuration()
        try await reportingMailErrors {
            let sender = SMTPSender(configuration: configuration)
            // One warm-up message opens the connection, as the Python anchor's connect() does.
            _ = try await sender.send(benchMessage(0))
            let start = ContinuousClock.now
            for i in 1...count {
                _ = try await sender.send(benchMessage(i))
            }
            let elapsed = (ContinuousClock.now - start).components
            let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
            let opened = await sender.connectionsOpened
            await sender.close()
            try printJSON(Result(messages: count, seconds: seconds, messagesPerSecond: Double(count) / seconds, connectionsOpened: opened))
        }
    }

    private func benchMessage(_ i: Int) -> OutgoingMessage {
        let text = "From: <\(from)>\r\nTo: <\(to)>\r\nSubject: bench \(i)\r\nMessage-ID: <bench-\(i).\(UUID().uuidString.lowercased())@example.test>\r\n\r\nbenchmark message \(i)\r\n"
        return OutgoingMessage(envelopeSender: from, recipients: [to], data: Array(text.utf8))
    }
}

/// `mail bench-imap`: latency of `UID FETCH n (BODY.PEEK[])` on an open, selected connection,
/// and of a cold connect + login + select + fetch.
struct MailBenchIMAPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-imap",
        abstract: "Benchmark: IMAP fetch latency (warm and cold) as JSON.",
        shouldDisplay: false)

    @OptionGroup var imap: MailIMAPOptions

    @Option(help: "Number of fetches.")
    var count = 200

    struct Result: Codable {
        var fetches: Int
        var warmMedianMs: Double
        var warmP95Ms: Double
        var coldMedianMs: Double
        var coldRuns: Int
        var bytesPerMessage: Int
    }

    func run() async throws {
        let configuration = try imap.configuration()
        try await reportingMailErrors {
            let mailbox = IMAPMailbox(configuration: configuration)
            try await mailbox.select()
            let uids = try await mailbox.searchUIDs(.all)
            guard !uids.isEmpty else {
                throw MailTransportError(kind: .configuration, message: "bench-imap: folder \(configuration.mailbox) of \(configuration.username) is empty; send some mail first")
            }
            var warm: [Double] = []
            var bytes = 0
            for i in 0..<count {
                let uid = uids[i % uids.count]
                let start = ContinuousClock.now
                let raw = try await mailbox.fetchRaw(uid: uid)
                warm.append(milliseconds(ContinuousClock.now - start))
                bytes = raw?.count ?? 0
            }
            await mailbox.close()
            var cold: [Double] = []
            for i in 0..<min(30, count) {
                let start = ContinuousClock.now
                let fresh = IMAPMailbox(configuration: configuration)
                try await fresh.select()
                _ = try await fresh.fetchRaw(uid: uids[i % uids.count])
                cold.append(milliseconds(ContinuousClock.now - start))
                await fresh.close()
            }
            try printJSON(Result(fetches: count, warmMedianMs: percentile(warm, 0.5), warmP95Ms: percentile(warm, 0.95),
                                 coldMedianMs: percentile(cold, 0.5), coldRuns: cold.count, bytesPerMessage: bytes))
        }
    }

    private func milliseconds(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    }

    private func percentile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
    }
}
