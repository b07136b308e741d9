import Foundation
import Testing

/// TEST-1: every saved fuzz input (the seeds, and every crash found, kept as a regression fixture)
/// runs through its target without a crash, in the normal build.
@Suite struct FuzzCorpusReplayTests {
    static let replay = CLIHarness.executable.deletingLastPathComponent().appendingPathComponent("GatewayFuzz")

    @Test("TEST-1: the fuzz corpora replay cleanly", arguments: ["auth-results", "tokens", "imap", "grammar"])
    func replay(target: String) throws {
        let folder = CLIHarness.projectRoot.appendingPathComponent("Tests/FuzzCorpus/\(target)")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).map { folder.appendingPathComponent($0).path }
        #expect(!files.isEmpty)
        let process = Process()
        process.executableURL = Self.replay
        process.arguments = [target] + files
        let output = Pipe()
        process.standardOutput = output
        process.standardError = Pipe()
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).contains("\(target): \(files.count) inputs replayed"))
    }
}
