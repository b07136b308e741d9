import Foundation
import GatewayTestSupport
import Testing

/// Runs the real `approval-gateway` executable against a scratch configuration and database.
struct CLIHarness {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String

        /// Standard output parsed as one JSON object per line.
        var jsonLines: [[String: Any]] {
            stdout.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }

        var json: [String: Any] { jsonLines.first ?? [:] }
    }

    let directory: URL
    let configPath: String

    static let projectRoot = TestProject.root

    /// The executable next to the test bundle (SwiftPM builds both), or `$APPROVAL_GATEWAY_BIN`.
    static var executable: URL {
        if let path = ProcessInfo.processInfo.environment["APPROVAL_GATEWAY_BIN"] { return URL(fileURLWithPath: path) }
        var url = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = url.appendingPathComponent("approval-gateway")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            url = url.deletingLastPathComponent()
        }
        return projectRoot.appendingPathComponent(".build/debug/approval-gateway")
    }

    /// A scratch gateway using the shipped demo directory.
    init(directoryYAML: String? = nil, extraConfig: String = "") throws {
        directory = TestGateway.temporaryFolder("gateway-cli")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let directoryFile = directory.appendingPathComponent("directory.yaml")
        if let directoryYAML {
            try directoryYAML.write(to: directoryFile, atomically: true, encoding: .utf8)
        } else {
            try FileManager.default.copyItem(at: Self.projectRoot.appendingPathComponent("config/directory.yaml"), to: directoryFile)
        }
        configPath = directory.appendingPathComponent("gateway.yaml").path
        try "database: gateway.sqlite\ndirectory: directory.yaml\n\(extraConfig)".write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// The configuration of a gateway on the mail lab, with `gatewayUser`'s INBOX as its mailbox and
    /// `http` as the web server's address (`127.0.0.1:0` for any free port).
    static func labConfiguration(gatewayUser: String, http: String = "127.0.0.1:0", imapExtra: String = "", extra: String = "") -> String {
        """
        http:
          listen: \(http)
          public_url: http://\(http)
        smtp:
          url: smtp://127.0.0.1:2525
          from: \(gatewayUser)@example.test
          starttls: off
        imap:
          url: imap://127.0.0.1:1143/INBOX
          username: \(gatewayUser)@example.test
          password: secret
          starttls: off
        \(imapExtra)
        reply:
          address: \(gatewayUser)+{key}@example.test
          trusted_authserv_id: mail.example.test
        \(extra)
        """
    }

    /// Runs one command with `--config` pointing at the scratch configuration, from `cwd` (the
    /// scratch folder by default), with extra environment variables.
    ///
    /// The command is waited for on a thread of its own: a test blocking one of the few threads
    /// of the shared concurrency pool would stall every other test running beside it.
    func run(_ arguments: [String], config: Bool = true, environment: [String: String] = [:], cwd: URL? = nil) async throws -> Result {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = arguments + (config ? ["--config", configPath] : [])
        process.currentDirectoryURL = cwd ?? directory
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        return try await Self.runToEnd(process)
    }

    func run(_ arguments: String...) async throws -> Result { try await run(arguments) }

    /// Runs `process` to its end on a thread of its own and collects its output.
    static func runToEnd(_ process: Process) async throws -> Result {
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let box = UncheckedSendable(value: (process, out, err))
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let (process, out, err) = box.value
                // Standard error is drained beside standard output, so that neither pipe fills up
                // while the other is read.
                let errors = UncheckedSendable(value: NSMutableData())
                let drained = DispatchSemaphore(value: 0)
                Thread.detachNewThread {
                    errors.value.append(err.fileHandleForReading.readDataToEndOfFile())
                    drained.signal()
                }
                let stdout = out.fileHandleForReading.readDataToEndOfFile()
                drained.wait()
                process.waitUntilExit()
                continuation.resume(returning: Result(
                    status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                    stderr: String(decoding: errors.value as Data, as: UTF8.self)
                ))
            }
        }
    }

    /// Starts `approval-gateway serve` on this harness's configuration, in the background, writing
    /// its output to `NAME.log` in the harness's folder. The caller stops it.
    func launchServe(log name: String = "serve", environment: [String: String] = [:]) throws -> (process: Process, log: URL) {
        let serve = Process()
        serve.executableURL = Self.executable
        serve.arguments = ["serve", "--config", configPath]
        serve.currentDirectoryURL = directory
        if !environment.isEmpty {
            serve.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let log = directory.appendingPathComponent("\(name).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        serve.standardOutput = handle
        serve.standardError = handle
        try serve.run()
        return (serve, log)
    }
}

/// A value handed to one other thread, which alone uses it from then on.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
}
