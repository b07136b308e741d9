import ApprovalTokens
import Foundation
import GatewayConfig

/// Where the signing keys come from: `APPROVAL_GATEWAY_SIGNING_KEYS` (the keys file's text), else the
/// file named by `signing.keys_file`, else `signing.keys` beside an SQLite database, created with a fresh
/// key on first use (the embedded default).
enum SigningKeys {
    static let environmentVariable = "APPROVAL_GATEWAY_SIGNING_KEYS"

    static func load(_ configuration: GatewayConfiguration, createIfMissing: Bool) throws -> KeyRing {
        if let text = ProcessInfo.processInfo.environment[environmentVariable] {
            return try ring(text, source: environmentVariable)
        }
        let path: String
        if let file = configuration.signing.keysFile {
            path = file
        } else if case .sqlite(let database) = configuration.database {
            path = URL(fileURLWithPath: database).deletingLastPathComponent().appendingPathComponent("signing.keys").path
        } else {
            // Gateways sharing a database must share their keys: one gateway's links are checked by another.
            throw CLIFailure(
                "with a PostgreSQL database, set signing.keys_file (the same keys file on every gateway) or \(environmentVariable)"
            )
        }
        if !FileManager.default.fileExists(atPath: path) {
            guard configuration.signing.keysFile == nil, createIfMissing else {
                throw CLIFailure("the signing keys file \(path) does not exist (create one with `approval-gateway signing generate-key > \(path)`)")
            }
            try create(at: path)
            Output.note("note: created the signing keys file \(path) with a new key (keep it secret and back it up; rotating it invalidates open links)")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw CLIFailure("cannot read the signing keys file \(path) (check its permissions)")
        }
        return try ring(text, source: path)
    }

    private static func ring(_ text: String, source: String) throws -> KeyRing {
        do {
            return try KeyRing(text: text, source: source)
        } catch {
            throw CLIFailure(error.message)
        }
    }

    /// Writes a new keys file readable by its owner only, without replacing one that appeared meanwhile.
    private static func create(at path: String) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let contents = "# approval-gateway signing keys: KID:BASE64SECRET, the first line signs.\n\(KeyRing.generateKeyLine())\n"
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else {
            if errno == EEXIST { return }
            throw CLIFailure("cannot create the signing keys file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        let bytes = Array(contents.utf8)
        guard write(descriptor, bytes, bytes.count) == bytes.count else {
            throw CLIFailure("cannot write the signing keys file \(path): \(String(cString: strerror(errno)))")
        }
    }
}
