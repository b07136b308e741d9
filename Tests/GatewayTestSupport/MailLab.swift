import Foundation
import Testing

/// The project's loopback mail lab (`scripts/mail-lab`), shared by every suite that needs real
/// servers: addresses, users, and the helpers that start, reset and read it. The test command starts
/// the lab; a test without it fails (never skips), saying how to start it. Each test uses its own lab
/// user so that suites run in parallel.
public enum MailLab {
    public static let directory = ProcessInfo.processInfo.environment["MAIL_LAB_DIR"] ?? "/tmp/mail-lab"
    public static let caFile = directory + "/tls/cert.pem"
    public static let password = "secret"
    public static let domain = "example.test"
    public static let smtpPort = Int(ProcessInfo.processInfo.environment["SMTP_PORT"] ?? "") ?? 2525
    /// The SMTP service that never stamps Authentication-Results: a receiving server that adds none of
    /// its own (misconfigured, a milter failing open).
    public static let unstampedPort = Int(ProcessInfo.processInfo.environment["NOSTAMP_PORT"] ?? "") ?? 2526
    public static let smtp = "smtp://127.0.0.1:\(smtpPort)"
    public static let smtpURL = smtp
    public static let unstampedSMTPURL = "smtp://127.0.0.1:\(unstampedPort)"
    public static let submission = "smtp://127.0.0.1:1587"
    public static let smtps = "smtps://127.0.0.1:1465"
    public static let imap = "imap://127.0.0.1:1143"
    public static let imaps = "imaps://127.0.0.1:1993"

    public struct NotRunning: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// Throws, saying how to start it, unless every service of the lab listens and its CA file exists.
    public static func require() throws {
        for port in [smtpPort, unstampedPort, 1587, 1465, 1143, 1993] where !isListening(port: port) {
            throw NotRunning(description: "the mail lab is not running (nothing listens on 127.0.0.1:\(port)); run: scripts/mail-lab install && AUTH_RESULTS=1 scripts/mail-lab start")
        }
        guard FileManager.default.isReadableFile(atPath: caFile) else {
            throw NotRunning(description: "the mail lab's CA file \(caFile) is missing; run: scripts/mail-lab start")
        }
    }

    /// ``require()``, recorded as the test's failure.
    public static func requireRunning() throws {
        do {
            try require()
        } catch {
            Issue.record("\(error)")
            throw error
        }
    }

    public static func isListening(port: Int) -> Bool {
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
    public static func closedPort() -> Int {
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

    public static var scriptPath: String { TestProject.root.appendingPathComponent("scripts/mail-lab").path }

    /// `scripts/mail-lab ARGS...`; throws with its output when it fails.
    @discardableResult
    public static func script(_ arguments: String...) throws -> String {
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
    public static func resetUser(_ user: String) throws {
        try script("reset-user", user)
    }

    /// Drops every open IMAP connection of one user, as a server restart would.
    public static func kick(_ user: String) throws {
        try script("kick", user)
    }

    public static func address(_ user: String) -> String { "\(user)@\(domain)" }

    /// The raw messages in `user`'s INBOX that contain `marker`.
    public static func messages(for user: String, containing marker: String) -> [String] {
        let local = user.split(separator: "@").first.map(String.init) ?? user
        let mailDomain = user.split(separator: "@").dropFirst().first.map(String.init) ?? domain
        var found: [String] = []
        for folder in ["new", "cur"] {
            let path = "\(directory)/mail/\(mailDomain)/\(local)/Maildir/\(folder)"
            for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
                if let text = try? String(contentsOfFile: "\(path)/\(name)", encoding: .utf8), text.contains(marker) {
                    found.append(text)
                }
            }
        }
        return found
    }

    /// The raw messages in `user`'s INBOX that contain both markers.
    public static func messages(for user: String, containing marker: String, marker second: String) -> [String] {
        messages(for: user, containing: marker).filter { $0.contains(second) }
    }

    /// Waits until `user` has `count` messages with `marker` (and `second`, if given), or the time
    /// runs out, and returns them.
    public static func waitForMessages(
        for user: String, containing marker: String, count: Int, marker second: String? = nil, timeout: Duration = .seconds(15)
    ) async throws -> [String] {
        let deadline = ContinuousClock.now + timeout
        func found() -> [String] {
            second.map { messages(for: user, containing: marker, marker: $0) } ?? messages(for: user, containing: marker)
        }
        while ContinuousClock.now < deadline {
            let current = found()
            if current.count >= count { return current }
            try await Task.sleep(for: .milliseconds(100))
        }
        return found()
    }

    /// Sends a sentinel message to `user` through the lab's SMTP and waits until it is delivered, so
    /// that mail handed to the lab earlier has been delivered too: a check that something did not
    /// arrive waits for this instead of sleeping.
    public static func flush(_ user: String, timeout: Duration = .seconds(15)) async throws {
        let token = "lab-flush-\(UUID().uuidString)"
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(token).eml")
        try "From: flush@\(domain)\r\nTo: \(user)\r\nSubject: \(token)\r\nMessage-ID: <\(token)@\(domain)>\r\n\r\n\(token)\r\n"
            .write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["-s", smtp, "--mail-from", "flush@\(domain)", "--mail-rcpt", user, "--upload-file", file.path]
        try curl.run()
        curl.waitUntilExit()
        guard curl.terminationStatus == 0 else { throw NotRunning(description: "the lab's SMTP refused the flush message (curl \(curl.terminationStatus))") }
        guard try await waitForMessages(for: user, containing: token, count: 1, timeout: timeout).count == 1 else {
            throw NotRunning(description: "the flush message to \(user) was not delivered within \(timeout)")
        }
    }
}

/// The project's folders, for tests that read its templates, scripts and fixtures.
public enum TestProject {
    /// The project's root: the folder above `Tests/`.
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}
