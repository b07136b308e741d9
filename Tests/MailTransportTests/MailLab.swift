import Foundation
import Testing
@testable import MailTransport

/// The project's loopback mail lab (`scripts/mail-lab`): addresses, users and helpers for the
/// integration tests. Every test uses its own lab user (approver30..approver50) so that the
/// suites can run in parallel with each other and with other targets' tests.
enum MailLab {
    static let directory = ProcessInfo.processInfo.environment["MAIL_LAB_DIR"] ?? "/tmp/mail-lab"
    static let caFile = directory + "/tls/cert.pem"
    static let password = "secret"
    static let domain = "example.test"
    static let smtp = "smtp://127.0.0.1:2525"
    static let submission = "smtp://127.0.0.1:1587"
    static let smtps = "smtps://127.0.0.1:1465"
    static let imap = "imap://127.0.0.1:1143"
    static let imaps = "imaps://127.0.0.1:1993"

    struct NotRunning: Error, CustomStringConvertible {
        var description: String
    }

    /// Fails (never skips) when the lab is not up, saying how to start it.
    static func require() throws {
        for port in [2525, 1587, 1465, 1143, 1993] where !isListening(port: port) {
            throw NotRunning(description: "the mail lab is not running (nothing listens on 127.0.0.1:\(port)); run: scripts/mail-lab install && scripts/mail-lab start")
        }
        guard FileManager.default.isReadableFile(atPath: caFile) else {
            throw NotRunning(description: "the mail lab's CA file \(caFile) is missing; run: scripts/mail-lab start")
        }
    }

    static func isListening(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return rc == 0
    }

    /// A port on 127.0.0.1 where nothing listens.
    static func closedPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// `scripts/mail-lab ARGS...`; throws with its output when it fails.
    @discardableResult
    static func script(_ arguments: String...) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["bash", scriptPath] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw NotRunning(description: "scripts/mail-lab \(arguments.joined(separator: " ")) failed: \(output)")
        }
        return output
    }

    /// Empties one user's mailboxes; its INBOX gets a new UIDVALIDITY and open sessions are dropped.
    static func resetUser(_ user: String) throws {
        try script("reset-user", user)
    }

    /// Drops every open IMAP connection of one user, as a server restart would.
    static func kick(_ user: String) throws {
        try script("kick", user)
    }

    static var scriptPath: String {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            let candidate = url.appendingPathComponent("scripts/mail-lab").path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        return "scripts/mail-lab"
    }

    static func address(_ user: String) -> String { "\(user)@\(domain)" }

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
