import Foundation
import Testing

/// Graceful shutdown of the real binary: every long-lived part stops on SIGTERM, promptly.
@Suite(.serialized) struct ServeShutdownTests {
    static let gatewayUser = "approver18"

    /// Starts `serve` on a free port, retrying another port if the one chosen is taken; returns once
    /// `/healthz` answers. `imapExtra` and `extra` go into the configuration (e.g. longer intervals).
    func startServe(_ cli: CLIHarness, imapExtra: String = "", extra: String = "") async throws -> (process: Process, log: URL) {
        for _ in 0..<5 {
            let port = Int.random(in: 40_000...49_999)
            try ("database: gateway.sqlite\ndirectory: directory.yaml\n" + CLIHarness.labConfiguration(gatewayUser: Self.gatewayUser, http: "127.0.0.1:\(port)", imapExtra: imapExtra, extra: extra))
                .write(toFile: cli.configPath, atomically: true, encoding: .utf8)
            let (serve, log) = try cli.launchServe(log: "serve-\(port)")
            let deadline = ContinuousClock.now + .seconds(20)
            while serve.isRunning, ContinuousClock.now < deadline {
                if try Self.healthy(port: port) { return (serve, log) }
                try await Task.sleep(for: .milliseconds(100))
            }
            if serve.isRunning { kill(serve.processIdentifier, SIGKILL) }
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            guard text.contains("in use") || text.contains("bind") else {
                Issue.record("serve did not become healthy: \(text.suffix(2000))")
                throw CancellationError()
            }
        }
        Issue.record("no free port for serve after 5 tries")
        throw CancellationError()
    }

    static func healthy(port: Int) throws -> Bool {
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["-sf", "-m", "1", "http://127.0.0.1:\(port)/healthz"]
        curl.standardOutput = Pipe()
        curl.standardError = Pipe()
        try curl.run()
        curl.waitUntilExit()
        return curl.terminationStatus == 0
    }

    /// Every wait of `serve` ends on shutdown: with a ten-minute sweep and a ten-minute IMAP poll, a
    /// sleep that ignored SIGTERM would hold the process for minutes. The bound leaves a loaded machine
    /// (the whole suite runs in parallel on two cores) room; quiet, the stop takes about 0.2 s
    /// (BENCHMARKS.md, "Graceful shutdown").
    @Test("An idle serve exits cleanly within seconds of SIGTERM (sweeper, outbox, inbox, SMTP and web all stop)")
    func idleShutdownIsPrompt() async throws {
        let cli = try CLIHarness()
        let (serve, log) = try await startServe(cli, imapExtra: "  poll_interval: 10m", extra: "notifications:\n  sweep_interval: 10m")
        defer { if serve.isRunning { kill(serve.processIdentifier, SIGKILL) } }
        // Let every loop settle into its wait (the sweep's ten minutes, the inbox's IDLE).
        try await Task.sleep(for: .seconds(2))
        let clock = ContinuousClock()
        let start = clock.now
        kill(serve.processIdentifier, SIGTERM)
        while serve.isRunning, clock.now - start < .seconds(30) { try await Task.sleep(for: .milliseconds(20)) }
        let elapsed = clock.now - start
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        print("serve stopped \(elapsed) after SIGTERM")
        #expect(!serve.isRunning)
        #expect(elapsed < .seconds(6), "serve took \(elapsed) to stop: \(text.suffix(1500))")
        #expect(serve.terminationStatus == 0, "\(text.suffix(1500))")
        #expect(text.contains("approval-gateway stopped"))
    }

    @Test("A busy serve finishes the email in hand on SIGTERM and loses nothing: the rest is sent by the next start")
    func busyShutdownLosesNothing() async throws {
        // 40 requests, each emailed to two approvers and an admin: a backlog the worker is busy with.
        let requesters = (1...20).map { "  - { email: requester\($0)@example.test, name: Requester \($0) }" }.joined(separator: "\n")
        let cli = try CLIHarness(directoryYAML: """
            users:
              - { email: admin@example.test, name: Ada Admin, role: admin }
              - { email: approver1@example.test, name: Ann Approver }
              - { email: approver2@example.test, name: Abe Approver }
            \(requesters)
            groups:
              - { name: db-approvers, members: [approver1@example.test, approver2@example.test] }
            resources:
              - { name: prod-db, approver_groups: [db-approvers] }
              - { name: staging-db, approver_groups: [db-approvers] }
            """)
        for index in 0..<40 {
            let created = try await cli.run("request", "create", "--requester", "requester\(index / 2 + 1)@example.test", "--resource", index.isMultiple(of: 2) ? "prod-db" : "staging-db", "--reason", "backlog \(index)")
            #expect(created.status == 0, "\(created.stderr)")
        }
        let (serve, _) = try await startServe(cli)
        defer { if serve.isRunning { kill(serve.processIdentifier, SIGKILL) } }
        kill(serve.processIdentifier, SIGTERM)
        let clock = ContinuousClock()
        let start = clock.now
        while serve.isRunning, clock.now - start < .seconds(10) { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!serve.isRunning && serve.terminationStatus == 0)
        // Nothing is left claimed: every email is sent or waiting, none stuck until a lease runs out.
        let entries = try await cli.run("outbox", "list").jsonLines
        #expect(!entries.isEmpty)
        #expect(entries.allSatisfy { ["sent", "pending"].contains($0["status"] as? String) }, "\(entries.map { $0["status"] ?? "?" })")

        let (again, _) = try await startServe(cli)
        defer { if again.isRunning { kill(again.processIdentifier, SIGKILL) } }
        let deadline = clock.now + .seconds(30)
        while clock.now < deadline, try await !cli.run("outbox", "list").jsonLines.allSatisfy({ $0["status"] as? String == "sent" }) {
            try await Task.sleep(for: .milliseconds(200))
        }
        let final = try await cli.run("outbox", "list").jsonLines
        #expect(final.allSatisfy { $0["status"] as? String == "sent" }, "\(final.filter { $0["status"] as? String != "sent" })")
        kill(again.processIdentifier, SIGTERM)
    }
}
