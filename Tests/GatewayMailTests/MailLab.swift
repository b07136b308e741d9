import Foundation
import Testing

/// Reads the loopback mail lab's mailboxes (Maildir) to see what the gateway really delivered.
/// The lab is started by the test command (`scripts/mail-lab start`); tests fail, never skip, without it.
enum MailLab {
    static var directory: String { ProcessInfo.processInfo.environment["MAIL_LAB_DIR"] ?? "/tmp/mail-lab" }
    static let smtpURL = "smtp://127.0.0.1:\(ProcessInfo.processInfo.environment["SMTP_PORT"] ?? "2525")"
    /// The lab's second SMTP service, which never stamps Authentication-Results: a receiving server
    /// that adds none of its own (misconfigured, a milter failing open).
    static let unstampedSMTPURL = "smtp://127.0.0.1:\(ProcessInfo.processInfo.environment["NOSTAMP_PORT"] ?? "2526")"
    static var caFile: String { directory + "/tls/cert.pem" }

    static func requireRunning() throws {
        let status = Process()
        status.arguments = ["-c", "exec 3<>/dev/tcp/127.0.0.1/2525 2>/dev/null || exit 1"]
        status.executableURL = URL(fileURLWithPath: "/bin/bash")
        try status.run()
        status.waitUntilExit()
        if status.terminationStatus != 0 {
            Issue.record("the mail lab is not running: start it with `scripts/mail-lab start` (the test command does)")
            throw CancellationError()
        }
    }

    /// Runs `scripts/mail-lab ARGUMENTS` and fails the test when it fails.
    static func script(_ arguments: String...) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [GatewayFixture.projectRoot.appendingPathComponent("scripts/mail-lab").path] + arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = Pipe()
        try process.run()
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            Issue.record("scripts/mail-lab \(arguments.joined(separator: " ")) failed: \(String(decoding: output, as: UTF8.self))")
            throw CancellationError()
        }
    }

    /// Empties one lab user's mailboxes; its INBOX gets a new UIDVALIDITY.
    static func resetUser(_ user: String) throws {
        try script("reset-user", user)
    }

    /// The raw messages in `user`'s INBOX that contain every one of `markers`.
    static func messages(for user: String, containing marker: String, marker second: String) -> [String] {
        messages(for: user, containing: marker).filter { $0.contains(second) }
    }

    /// Waits until `user` has `count` messages containing both markers.
    static func waitForMessages(for user: String, containing marker: String, count: Int, marker second: String, timeout: Duration = .seconds(15)) async throws -> [String] {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            let found = messages(for: user, containing: marker, marker: second)
            if found.count >= count { return found }
            try await Task.sleep(for: .milliseconds(100))
        }
        return messages(for: user, containing: marker, marker: second)
    }

    /// The raw messages in `user`'s INBOX that contain `marker`.
    static func messages(for user: String, containing marker: String) -> [String] {
        let local = user.split(separator: "@").first.map(String.init) ?? user
        let domain = user.split(separator: "@").last.map(String.init) ?? "example.test"
        var found: [String] = []
        for folder in ["new", "cur"] {
            let path = "\(directory)/mail/\(domain)/\(local)/Maildir/\(folder)"
            for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
                if let text = try? String(contentsOfFile: "\(path)/\(name)", encoding: .utf8), text.contains(marker) {
                    found.append(text)
                }
            }
        }
        return found
    }

    /// Waits until `user` has `count` messages with `marker` (or the time runs out) and returns them.
    static func waitForMessages(for user: String, containing marker: String, count: Int, timeout: Duration = .seconds(15)) async throws -> [String] {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            let found = messages(for: user, containing: marker)
            if found.count >= count { return found }
            try await Task.sleep(for: .milliseconds(100))
        }
        return messages(for: user, containing: marker)
    }
}
