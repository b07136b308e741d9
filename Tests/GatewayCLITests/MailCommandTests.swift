import Foundation
import Testing

/// `mail send-test` and `mail check-inbox` against the real lab.
@Suite(.serialized) struct MailCommandTests {
    static let gatewayUser = "approver17"

    func lab(_ arguments: String...) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [CLIHarness.projectRoot.appendingPathComponent("scripts/mail-lab").path] + arguments
        process.standardOutput = Pipe()
        process.standardError = Pipe()
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }

    func curlSMTP(port: Int, from: String, to: String, message: String, in directory: URL) throws {
        let file = directory.appendingPathComponent("message-\(UUID().uuidString).eml")
        try message.write(to: file, atomically: true, encoding: .utf8)
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["-s", "smtp://127.0.0.1:\(port)", "--mail-from", from, "--mail-rcpt", to, "--upload-file", file.path]
        try curl.run()
        curl.waitUntilExit()
        #expect(curl.terminationStatus == 0)
    }

    @Test("REPLY-3: check-inbox warns when recent messages lack the receiving server's Authentication-Results stamp; send-test delivers")
    func checkInboxWarnsAboutMissingStamps() async throws {
        try lab("reset-user", Self.gatewayUser)
        let cli = try CLIHarness(extraConfig: CLIHarness.labConfiguration(gatewayUser: Self.gatewayUser))
        // send-test through the stamping server: delivered, stamped.
        let sent = try await cli.run("mail", "send-test", "--to", "\(Self.gatewayUser)@example.test")
        #expect(sent.status == 0, "\(sent.stderr)")
        let clean = try await waitForStampReport(cli, checked: 1)
        #expect(clean.status == 0 && clean.stamps?["missing"] as? Int == 0)
        #expect(!clean.stderr.contains("warning"))

        // A message through a receiving server that stamps nothing.
        try curlSMTP(port: 2526, from: "someone@evil.test", to: "\(Self.gatewayUser)@example.test", message: """
            From: someone@evil.test\r
            To: \(Self.gatewayUser)@example.test\r
            Subject: unstamped\r
            Message-ID: <\(UUID().uuidString)@evil.test>\r
            \r
            hello\r

            """, in: cli.directory)
        let warned = try await waitForStampReport(cli, checked: 2)
        #expect(warned.status == 0)
        #expect(warned.stamps?["missing"] as? Int == 1)
        #expect(warned.stderr.contains("warning: 1 of the last 2 messages have no Authentication-Results of mail.example.test"))
        #expect(warned.json["messages"] as? Int == 2)
    }

    struct StampResult {
        var status: Int32
        var json: [String: Any]
        var stderr: String
        var stamps: [String: Any]? { json["authentication_results"] as? [String: Any] }
    }

    /// Runs check-inbox until it has seen `checked` messages (delivery takes a moment).
    func waitForStampReport(_ cli: CLIHarness, checked: Int) async throws -> StampResult {
        let deadline = ContinuousClock.now + .seconds(15)
        while true {
            let result = try await cli.run("mail", "check-inbox")
            let json = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any] ?? [:]
            let report = StampResult(status: result.status, json: json, stderr: result.stderr)
            if (report.stamps?["checked"] as? Int ?? 0) >= checked || ContinuousClock.now > deadline { return report }
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}
